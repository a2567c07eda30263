package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/egress"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
)

// openBackend builds the named backend as the policy configures it, wrapped
// in the policy's concurrency limit, after checking that the backend can
// honour the policy exactly. The local backend is the default; no other is
// ever chosen unless named, whatever credentials are around, and none is
// silently replaced by anything less isolated. oneShot skips the warm
// sandboxes and the pool, which only pay off when more calls follow.
//
// m, when not nil, is told how many calls queue and run and how many
// sandboxes exist.
func openBackend(ctx context.Context, name string, p *policy.Policy, oneShot bool, log *zap.Logger, m *metrics.Metrics) (sandbox.Backend, error) {
	switch name {
	case local.Name:
		if err := checkLocal(p); err != nil {
			return nil, fmt.Errorf("the policy cannot be enforced on the local backend:\n%w", err)
		}
		opts := localOptions(p, log)
		if !oneShot {
			opts.WarmSandboxes = p.Backend.Local.WarmSandboxes
			// Build warm sandboxes with the limits a call gets by default.
			opts.WarmLimits = p.DefaultLimits()
		}
		b, err := local.New(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("%w (run `airlock-mcp doctor` for details)", err)
		}
		m.SetSandboxesRunning(local.Name, b.Sandboxes)
		return limitConcurrency(b, p, m), nil
	case modal.Name:
		return openModal(p, oneShot, log, m)
	default:
		return nil, fmt.Errorf("unknown backend %q: use %q (the default) or %q", name, local.Name, modal.Name)
	}
}

// limitConcurrency wraps b in the policy's global concurrency limit and
// bounded queue.
func limitConcurrency(b sandbox.Backend, p *policy.Policy, m *metrics.Metrics) *sandbox.Limited {
	q := sandbox.Queue{
		MaxWaiting: p.Limits.MaxQueued,
		Timeout:    time.Duration(p.Limits.QueueTimeoutS * float64(time.Second)),
	}
	if m != nil {
		q.Observer = m
	}
	return sandbox.LimitConcurrencyQueue(b, p.Limits.MaxConcurrent, q)
}

// backends are the backends --backend names, each with what it enforces
// itself of the network rules, the check of a policy against it, and the
// check that this host has what the policy names for it (nil: nothing);
// each check returns nil or a *policy.LoadError naming each problem.
var backends = []struct {
	name  string
	caps  sandbox.Capabilities
	check func(p *policy.Policy) error
	host  func(p *policy.Policy) error
}{
	{local.Name, local.Capabilities{}, checkLocal, checkInterpreter},
	{modal.Name, modal.Capabilities{}, checkModal, nil},
}

// checkLocal checks that the local backend can honour p: it enforces every
// network rule, and has no settings that could not fit the limits.
func checkLocal(p *policy.Policy) error { return p.CheckBackend(local.Capabilities{}) }

// localOptions are the local backend's options from the policy: the
// interpreter, the operator's mounts and, when egress is allowed, the
// Airlock proxy configured by the network policy.
func localOptions(p *policy.Policy, log *zap.Logger) local.Options {
	opts := local.Options{Python: p.Backend.Local.Python, Mounts: localMounts(p)}
	if p.Network.AllowEgress {
		opts.Network = &egress.Config{
			Egress:         p.Network.Egress(),
			MaxConnections: p.Network.MaxConnections,
			MaxBytes:       int64(p.Network.MaxTransferMB) << 20,
			Log:            log.Named("egress"),
		}
	}
	return opts
}
