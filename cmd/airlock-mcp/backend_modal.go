package main

import (
	"errors"
	"fmt"
	"math"
	"time"

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
	opts, err := modalOptions(p)
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

// modalOptions are the Modal backend's options from the policy, after
// checking that the Modal backend can honour p (checkModal): a setting that
// does not fit the limits, or a rule Modal cannot enforce, is an error
// naming it, never an approximation, unless the policy declares such rules
// advisory (network.on_unenforceable).
func modalOptions(p *policy.Policy) (modal.Options, error) {
	if err := checkModal(p); err != nil {
		return modal.Options{}, fmt.Errorf("the policy cannot be enforced on the Modal backend:\n%w", err)
	}
	return modalSettings(p), nil
}

// checkModal checks that the Modal backend can honour p: its settings must
// fit the limits (modal.Options.Problems), and every network rule must be
// one Modal enforces (policy.CheckBackend). It returns nil or a
// *policy.LoadError naming each problem, the settings first.
func checkModal(p *policy.Policy) error {
	var probs []policy.Problem
	for _, pr := range modalSettings(p).Problems() {
		probs = append(probs, policy.Problem{Pointer: pr.Pointer, Message: pr.Message})
	}
	var le *policy.LoadError
	if err := p.CheckBackend(modal.Capabilities{}); errors.As(err, &le) {
		probs = append(probs, le.Problems...)
	} else if err != nil {
		return err
	}
	if len(probs) > 0 {
		return &policy.LoadError{Problems: probs}
	}
	return nil
}

// modalSettings translates the policy's backend.modal section, limits and
// network rules into the Modal backend's options, unchecked.
func modalSettings(p *policy.Policy) modal.Options {
	m := p.Backend.Modal
	return modal.Options{
		AppName:       m.AppName,
		Image:         m.Image,
		Apt:           m.Apt,
		Pip:           m.Pip,
		CPU:           m.CPU,
		MemoryMiB:     m.MemoryMB,
		Lifetime:      time.Duration(m.TimeoutS) * time.Second,
		Environment:   m.Environment,
		PoolSize:      m.PoolSize,
		DefaultLimits: p.DefaultLimits(),
		MaxConcurrent: p.Limits.MaxConcurrent,
		MaxTimeout:    time.Duration(math.Ceil(p.Limits.MaxTimeoutS)) * time.Second,
		Network:       modal.NetworkFor(p.Network.Rules()),
		// Modal's own limits on a session's sandbox, so that Modal ends it
		// even when no server is left to.
		SessionIdleTimeout: p.Sessions.IdleTTL(),
		SessionLifetime:    p.Sessions.MaxLifetime(),
		// backend.local.mounts, copied into each sandbox.
		Mounts:        modalMounts(p),
		MaxMountBytes: p.Files.MaxMountBytes(),
	}
}
