package modal

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Capabilities is what Modal enforces itself of the network rules (see
// NetworkFor and Gaps), and how the Modal backend is described. Its zero
// value is ready.
type Capabilities struct{}

var (
	_ sandbox.Capabilities = Capabilities{}
	_ sandbox.Capable      = (*Backend)(nil)
)

// Capabilities returns the Modal backend's capabilities.
func (b *Backend) Capabilities() sandbox.Capabilities { return Capabilities{} }

// Title is "Modal".
func (Capabilities) Title() string { return "Modal" }

// Enforcement says what Modal enforces natively, its domain and CIDR
// allowlists exactly as NetworkFor sends them (a wildcard with its apex,
// the CIDR blocks listed when there are a few, else counted), and which
// rules are only advisory.
func (c Capabilities) Enforcement(r netrules.Rules) string {
	n := NetworkFor(r)
	if n.Block {
		return "no network: Modal BlockNetwork\n"
	}
	var b strings.Builder
	if n.Domains != nil {
		b.WriteString("natively: domain allowlist (TLS on port 443, by SNI): " + listOrNone(n.Domains) + "\n")
	}
	if n.CIDRs != nil {
		b.WriteString("natively: CIDR allowlist (every port): " + cidrAllowlistText(n.CIDRs, len(r.Allow) == 0) + "\n")
	}
	gaps := c.Gaps(r)
	if len(gaps) == 0 {
		b.WriteString("every rule enforced natively\n")
	}
	for _, g := range gaps {
		b.WriteString("ADVISORY only (Airlock static check): " + g.Rule + ": " + g.Why + "\n")
	}
	return b.String()
}

// cidrsListed is how many blocks of a CIDR allowlist Enforcement lists;
// a longer allowlist (open egress is hundreds of blocks) is counted.
const cidrsListed = 8

// cidrAllowlistText lists the blocks of a CIDR allowlist, or counts them
// and says what they cover; open says the policy allows every destination
// not denied.
func cidrAllowlistText(cidrs []string, open bool) string {
	if len(cidrs) <= cidrsListed {
		return listOrNone(cidrs)
	}
	covered := "the cidr allow rules"
	if open {
		covered = "every address"
	}
	return fmt.Sprintf("%d blocks (%s, without the deny cidr rules and the built-in denies)", len(cidrs), covered)
}

// Blocker is what Modal blocks under r: without egress, everything; with
// it, what its allowlists leave out. With on_unenforceable: refuse no
// denied destination gets through; with advisory, the gaps do.
func (Capabilities) Blocker(r netrules.Rules) func(host string, addr netip.Addr, port int) bool {
	if !r.AllowEgress {
		return nil
	}
	return newFilter(r).blocks
}

// Ledger is the static pre-check's ledger whenever there is egress: Modal
// does not report connections.
func (c Capabilities) Ledger(r netrules.Rules, advisory bool) *sandbox.Network {
	if !r.AllowEgress {
		return nil
	}
	if advisory && len(c.Gaps(r)) > 0 {
		return &sandbox.Network{Enforcement: sandbox.EnforcementAdvisory,
			Note: "Modal enforced part of the network policy natively; the rules it cannot enforce were only checked statically against the code (advisory). Modal does not report connections; listed are the destinations found in the code."}
	}
	return &sandbox.Network{Enforcement: sandbox.EnforcementModal,
		Note: "Modal enforced the network policy natively and does not report connections; listed are the destinations the Airlock layer found in the code before running it."}
}

// Tool describes a Modal sandbox: a whole container of its own, where the
// code may write anywhere and the process count is not capped; and who
// enforces the network rules, naming those that are only advisory.
func (c Capabilities) Tool(l sandbox.Limits, r netrules.Rules, advisory bool) sandbox.ToolTerms {
	t := sandbox.ToolTerms{
		Sandbox: "cloud sandbox (a Modal container)",
		Files:   fmt.Sprintf("Files (each up to %d MiB) can be written anywhere in the sandbox and are discarded afterwards.", l.MaxFileBytes>>20),
		Network: " (enforced by Modal)",
	}
	if gaps := c.Gaps(r); len(gaps) > 0 && advisory {
		rules := make([]string, len(gaps))
		for i, g := range gaps {
			rules[i] = g.Rule
		}
		t.Network = " (enforced by Modal, except these rules, which are ADVISORY ONLY: " + strings.Join(slices.Compact(rules), "; ") +
			"; code naming a destination the policy denies but Modal would let through is refused before running)"
	}
	return t
}

// Limits: memory is Modal's hard limit; CPU time, open files and file size
// are rlimits the code, root in its own container, could raise; processes
// and scratch space are not capped. Sandboxes reach the network without
// the Airlock proxy, so its per-call limits do not apply.
func (Capabilities) Limits(l sandbox.Limits) sandbox.LimitTerms {
	return sandbox.LimitTerms{
		PerSandbox: "memory " + sandbox.FormatMiB(l.MemoryBytes) + " (Modal's hard limit); CPU " + sandbox.FormatSeconds(l.CPUTime) + " s, " +
			strconv.Itoa(l.MaxOpenFiles) + " open files, files up to " + sandbox.FormatMiB(l.MaxFileBytes) +
			" each (rlimits the code, root in its container, could raise); processes and scratch space not capped (a container of its own)",
	}
}
