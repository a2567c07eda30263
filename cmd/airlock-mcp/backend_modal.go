package main

import (
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
)

// openModal builds the Modal backend from the policy. It makes no network
// call and needs no credentials yet: the backend connects in the
// background, and what goes wrong (credentials, quota, image) reaches each
// call as an isError result and the log.
func openModal(p *policy.Policy, oneShot bool, log *zap.Logger, m *metrics.Metrics) (sandbox.Backend, error) {
	opts, err := modal.OptionsFromPolicy(p)
	if err != nil {
		return nil, err
	}
	if oneShot {
		opts.PoolSize = 0
	}
	opts.Logger = log
	b, err := modal.New(opts)
	if err != nil {
		return nil, err
	}
	m.SetSandboxesRunning(modal.Name, b.Sandboxes)
	return limitConcurrency(b, p, m), nil
}
