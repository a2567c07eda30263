package main

import (
	"context"
	"fmt"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// openBackend builds the named backend as the policy configures it, wrapped
// in the policy's concurrency limit. The local backend is the default and
// the only one this version has; it is never silently replaced by anything
// less isolated. oneShot skips the warm sandboxes, which only pay off when
// more calls follow.
func openBackend(ctx context.Context, name string, p *policy.Policy, oneShot bool) (sandbox.Backend, error) {
	switch name {
	case local.Name:
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
	default:
		return nil, fmt.Errorf("unknown backend %q: this version has only %q", name, local.Name)
	}
}
