package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// openBackend builds the named backend as the policy configures it, wrapped
// in the policy's concurrency limit, after checking that the backend can
// honour the policy exactly. The local backend is the default; no other is
// ever chosen unless named, whatever credentials are around, and none is
// silently replaced by anything less isolated. oneShot skips the warm
// sandboxes and the pool, which only pay off when more calls follow.
func openBackend(ctx context.Context, name string, p *policy.Policy, oneShot bool, log *zap.Logger) (sandbox.Backend, error) {
	switch name {
	case local.Name:
		if err := p.CheckBackend(local.Name); err != nil {
			return nil, fmt.Errorf("the policy cannot be enforced on the local backend:\n%w", err)
		}
		opts := local.Options{Python: p.Backend.Local.Python}
		if !oneShot {
			opts.WarmSandboxes = p.Backend.Local.WarmSandboxes
			// Build warm sandboxes with the limits a call gets by default.
			opts.WarmLimits, _ = p.DecideExecute("pass", nil)
		}
		b, err := local.New(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("%w (run `airlock-mcp doctor` for details)", err)
		}
		return sandbox.LimitConcurrency(b, p.Limits.MaxConcurrent), nil
	case modal.Name:
		return openModal(p, oneShot, log)
	default:
		return nil, fmt.Errorf("unknown backend %q: use %q (the default) or %q", name, local.Name, modal.Name)
	}
}
