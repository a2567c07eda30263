package modal

import (
	"fmt"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// TestEnforcement: what `policy check` and airlock://policy say Modal
// enforces: natively its allowlists, exactly as NetworkFor sends them (a
// wildcard with its apex; a long CIDR allowlist counted), the rest only
// advisory.
func TestEnforcement(t *testing.T) {
	many := netrules.Rules{AllowEgress: true}
	for i := range cidrsListed + 1 {
		many.Allow = append(many.Allow, netrules.Rule{CIDR: fmt.Sprintf("203.0.113.%d/32", 2*i)})
	}
	tests := []struct {
		name  string
		rules netrules.Rules
		want  string // "..." at the end: a prefix
	}{
		{"no egress", netrules.Rules{}, "no network: Modal BlockNetwork\n"},
		{"cidr rules only", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{CIDR: "203.0.113.0/24"}}},
			"natively: CIDR allowlist (every port): 203.0.113.0/24\nevery rule enforced natively\n"},
		{"a host and a cidr", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "pypi.org", Ports: []int{443}}, {CIDR: "203.0.113.0/24"}}},
			"natively: domain allowlist (TLS on port 443, by SNI): pypi.org\n" +
				"natively: CIDR allowlist (every port): 203.0.113.0/24\n" +
				"ADVISORY only (Airlock static check): network.allow[0] (host pypi.org, port 443): Modal matches this name on the TLS SNI only..."},
		{"a wildcard is sent with its apex", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "*.example.com", Ports: []int{443}}, {Host: "example.com", Ports: []int{443}}}},
			"natively: domain allowlist (TLS on port 443, by SNI): example.com, *.example.com\nADVISORY only..."},
		{"open egress: every address but the denies, counted", netrules.Rules{AllowEgress: true},
			fmt.Sprintf("natively: CIDR allowlist (every port): %d blocks (every address, without the deny cidr rules and the built-in denies)\nevery rule enforced natively\n",
				len(NetworkFor(netrules.Rules{AllowEgress: true}).CIDRs))},
		{"more cidr rules than are listed", many,
			fmt.Sprintf("natively: CIDR allowlist (every port): %d blocks (the cidr allow rules, without the deny cidr rules and the built-in denies)\n", cidrsListed+1) +
				"every rule enforced natively\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Capabilities{}.Enforcement(tt.rules)
			if want, prefix := strings.CutSuffix(tt.want, "..."); prefix && !strings.HasPrefix(got, want) || !prefix && got != tt.want {
				t.Errorf("Enforcement =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestLedger: Modal reports no connections, so with egress the Airlock
// layer lists the pre-check's findings, saying whether rules ran advisory.
func TestLedger(t *testing.T) {
	gappy := netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "pypi.org", Ports: []int{443}}}}
	native := netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{CIDR: "203.0.113.0/24"}}}
	tests := []struct {
		name     string
		rules    netrules.Rules
		advisory bool
		want     string // Enforcement; "" for no ledger
	}{
		{"no egress: no ledger of ours", netrules.Rules{}, true, ""},
		{"enforced natively", native, false, sandbox.EnforcementModal},
		{"advisory without gaps is native", native, true, sandbox.EnforcementModal},
		{"advisory with gaps", gappy, true, sandbox.EnforcementAdvisory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Capabilities{}.Ledger(tt.rules, tt.advisory)
			if tt.want == "" {
				if l != nil {
					t.Errorf("Ledger = %+v, want nil", l)
				}
				return
			}
			if l == nil || l.Enforcement != tt.want || !strings.Contains(l.Note, "Modal") || l.Connections != nil {
				t.Errorf("Ledger = %+v, want enforcement %s and a note naming Modal", l, tt.want)
			}
		})
	}
}

// TestTool: a Modal sandbox is a container the code may write anywhere in,
// without a process cap; advisory rules are named, once each.
func TestTool(t *testing.T) {
	l := sandbox.Limits{MaxFileBytes: 64 << 20, MaxProcesses: 64}
	hosts := netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "pypi.org"}}}
	got := Capabilities{}.Tool(l, hosts, true)
	if got.Sandbox != "cloud sandbox (a Modal container)" || got.Processes != "" ||
		got.Files != "Files (each up to 64 MiB) can be written anywhere in the sandbox and are discarded afterwards." {
		t.Errorf("Tool = %+v", got)
	}
	want := " (enforced by Modal, except these rules, which are ADVISORY ONLY: network.allow[0] (host pypi.org, every port); code naming"
	if !strings.HasPrefix(got.Network, want) {
		t.Errorf("Network = %q, want it to start %q", got.Network, want)
	}
	if got := (Capabilities{}).Tool(l, hosts, false).Network; got != " (enforced by Modal)" {
		t.Errorf("Network without advisory = %q", got)
	}
}
