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
// less isolated.
func openBackend(ctx context.Context, name string, p *policy.Policy) (sandbox.Backend, error) {
	switch name {
	case local.Name:
		b, err := local.New(ctx, local.Options{Python: p.Backend.Local.Python})
		if err != nil {
			return nil, fmt.Errorf("%w (run `airlock-mcp doctor` for details)", err)
		}
		return sandbox.LimitConcurrency(b, p.Limits.MaxConcurrent), nil
	default:
		return nil, fmt.Errorf("unknown backend %q: this version has only %q", name, local.Name)
	}
}
