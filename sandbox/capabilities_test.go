package sandbox_test

import (
	"context"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// plain is a backend that states no capabilities.
type plain struct{}

func (plain) Name() string { return "plain" }
func (plain) Execute(context.Context, sandbox.Request) (sandbox.Result, error) {
	return sandbox.Result{}, nil
}
func (plain) Close() error { return nil }

// titled is a backend that states its capabilities.
type titled struct{ plain }

type titledCaps struct{ sandbox.Undeclared }

func (titledCaps) Title() string { return "Titled" }

func (titled) Capabilities() sandbox.Capabilities { return titledCaps{} }

// TestCapabilitiesOf: a backend's own capabilities are found through the
// concurrency limit wrapped around it; a backend that states none is taken
// to open no connection: no gaps, nothing let through, no ledger of its
// own.
func TestCapabilitiesOf(t *testing.T) {
	if got := sandbox.CapabilitiesOf(sandbox.LimitConcurrency(titled{}, 1)).Title(); got != "Titled" {
		t.Errorf("through the limit: Title() = %q, want the backend's", got)
	}
	c := sandbox.CapabilitiesOf(sandbox.LimitConcurrency(plain{}, 1))
	if _, ok := c.(sandbox.Undeclared); !ok {
		t.Fatalf("a backend without capabilities gets %T, want Undeclared", c)
	}
	open := netrules.Rules{AllowEgress: true, Deny: []netrules.Rule{{Host: "evil.test"}}}
	if c.Gaps(open) != nil || c.Blocker(open) != nil || c.Ledger(open, true) != nil {
		t.Error("Undeclared claims a gap, lets something through, or a ledger")
	}
}
