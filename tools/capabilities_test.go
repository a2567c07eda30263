package tools_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// capableBackend is a fake backend with the capabilities of a real one.
type capableBackend struct {
	*sandboxtest.Backend
	caps sandbox.Capabilities
}

func (b capableBackend) Capabilities() sandbox.Capabilities { return b.caps }

// capable gives the fake backend b the capabilities of the real backend it
// is named after (local.Name, modal.Name), as that backend states them; a
// fake of any other name states none.
func capable(b *sandboxtest.Backend) sandbox.Backend {
	switch b.Name() {
	case local.Name:
		return capableBackend{b, local.Capabilities{}}
	case modal.Name:
		return capableBackend{b, modal.Capabilities{}}
	}
	return b
}

// TestBackendsAreKnownByCapabilities: the tool describes a backend, fills
// in its ledger and pre-checks code by the capabilities the backend
// states, never by its name: a backend of any name with Modal's
// capabilities is treated as Modal, and one named "modal" that states
// none as a plain sandbox.
func TestBackendsAreKnownByCapabilities(t *testing.T) {
	p := policy.Default()
	p.Network.AllowEgress, p.Network.OnUnenforceable = true, policy.Advisory
	p.Network.Allow = []policy.NetworkRule{{Host: "pypi.org", Ports: []int{443}}}
	ok := sandbox.Result{Status: sandbox.StatusOK}
	tests := []struct {
		name        string
		backend     sandbox.Backend
		sandbox     string // in the description
		enforcement string
	}{
		{"Modal's capabilities under another name", capableBackend{&sandboxtest.Backend{BackendName: "elsewhere", Result: ok}, modal.Capabilities{}},
			"cloud sandbox (a Modal container)", sandbox.EnforcementAdvisory},
		{"named modal, stating nothing", &sandboxtest.Backend{BackendName: modal.Name, Result: ok}, "isolated sandbox", sandbox.EnforcementNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool, err := tools.ExecutePython(p, tt.backend, tools.Sessions{}, nil, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tool.Definition.Description, tt.sandbox) {
				t.Errorf("description %q lacks %q", tool.Definition.Description, tt.sandbox)
			}
			res := tool.Handler(context.Background(), call(`{"code":"print(1)"}`))
			r, ran := res.StructuredContent.(tools.ExecuteResult)
			if !ran || r.Network == nil || r.Network.Enforcement != tt.enforcement {
				t.Errorf("ledger %+v, want enforcement %s", r.Network, tt.enforcement)
			}
		})
	}
}
