package policy

import (
	"fmt"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// Explain lists the network rules as an operator reads them, built-in
// denies and per-call limits included, one per line.
func (n Network) Explain() string {
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
	fmt.Fprintf(&b, "  per call: at most %d connections and %d MiB through the Airlock proxy\n", n.MaxConnections, n.MaxTransferMB)
	fmt.Fprintf(&b, "  on_unenforceable: %s\n", n.OnUnenforceable)
	return b.String()
}
