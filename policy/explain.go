package policy

import (
	"fmt"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// Explain lists the network rules as an operator reads them, built-in
// denies included, one per line, and the per-call limits: the Airlock
// proxy's, when it carries the sandboxes' connections (proxyLimits, as the
// backend's sandbox.LimitTerms say), else that none apply.
func (n Network) Explain(proxyLimits bool) string {
	if proxyLimits {
		return n.explain(fmt.Sprintf("per call: at most %d connections and %d MiB through the Airlock proxy", n.MaxConnections, n.MaxTransferMB))
	}
	return n.explain("per call: connections and transfer not capped (no Airlock proxy on this backend: max_connections and max_transfer_mb do not apply)")
}

// explain lists the rules, with perCall stating the per-call limits.
func (n Network) explain(perCall string) string {
	var b strings.Builder
	b.WriteString("network:\n")
	if !n.AllowEgress {
		b.WriteString("  egress: off (no network at all)\n")
		return b.String()
	}
	if len(n.Allow) == 0 {
		b.WriteString("  allow: any destination not denied\n")
	}
	for i, r := range n.Allow {
		fmt.Fprintf(&b, "  allow[%d]: %s\n", i, r)
	}
	for i, r := range n.Deny {
		fmt.Fprintf(&b, "  deny[%d]: %s\n", i, r)
	}
	b.WriteString("  built-in denies (lifted only by a cidr allow rule inside the range):\n")
	for _, d := range netrules.BuiltinDenies() {
		b.WriteString("    " + d + "\n")
	}
	b.WriteString("  " + perCall + "\n")
	fmt.Fprintf(&b, "  on_unenforceable: %s\n", n.OnUnenforceable)
	return b.String()
}
