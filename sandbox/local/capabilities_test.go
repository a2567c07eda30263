package local_test

import (
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// TestCapabilities: the local backend enforces every rule itself (the
// namespace without egress, the Airlock proxy with it), reports its own
// ledger, and says so.
func TestCapabilities(t *testing.T) {
	c := local.Capabilities{}
	every := netrules.Rules{AllowEgress: true,
		Allow: []netrules.Rule{{Host: "pypi.org", Ports: []int{80}}, {CIDR: "10.1.0.0/16", Ports: []int{5432}}},
		Deny:  []netrules.Rule{{Host: "x.pypi.org"}, {CIDR: "10.1.2.0/24"}}}
	for _, r := range []netrules.Rules{{}, {AllowEgress: true}, every} {
		if c.Gaps(r) != nil || c.Blocker(r) != nil || c.Ledger(r, true) != nil {
			t.Errorf("rules %+v: a gap, something let through, or a ledger of the Airlock layer's", r)
		}
	}
	if got := c.Enforcement(netrules.Rules{}); got != "no network: the sandbox's network namespace has only loopback and no proxy\n" {
		t.Errorf("Enforcement without egress = %q", got)
	}
	if got := c.Enforcement(every); !strings.HasPrefix(got, "every rule enforced by the Airlock proxy") {
		t.Errorf("Enforcement with egress = %q", got)
	}
	tool := c.Tool(sandbox.Limits{MaxFileBytes: 64 << 20, MaxProcesses: 32}, every, false)
	if tool.Sandbox != "sandbox" || tool.Processes != "; 32 processes" || !strings.Contains(tool.Files, "only in /tmp and the working directory (64 MiB in all)") ||
		!strings.HasPrefix(tool.Network, ". Connections go through the Airlock proxy") {
		t.Errorf("Tool = %+v", tool)
	}
}
