package policy

import (
	"fmt"
	"strings"
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
	for _, d := range BuiltinDenies() {
		b.WriteString("    " + d + "\n")
	}
	fmt.Fprintf(&b, "  per call: at most %d connections and %d MiB through the Airlock proxy\n", n.MaxConnections, n.MaxTransferMB)
	fmt.Fprintf(&b, "  on_unenforceable: %s\n", n.OnUnenforceable)
	return b.String()
}

// Enforcement says, one statement per line, how backend enforces n:
// natively, by the Airlock proxy, or only advisory.
func (n Network) Enforcement(backend string) string {
	if !n.AllowEgress {
		switch backend {
		case BackendLocal:
			return "no network: the sandbox's network namespace has only loopback and no proxy\n"
		default:
			return "no network: Modal BlockNetwork\n"
		}
	}
	switch backend {
	case BackendLocal:
		return "every rule enforced by the Airlock proxy, the sandbox's only way out: hostname and port, every resolved address (no DNS rebinding), TLS SNI on port 443, per-call limits; raw sockets, DNS and UDP have no route\n"
	}
	var b strings.Builder
	var hosts []string
	for _, r := range n.Allow {
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) > 0 {
		b.WriteString("natively: domain allowlist (TLS on port 443, by SNI): " + strings.Join(hosts, ", ") + "\n")
	}
	if ps := n.AllowedPrefixes(); len(ps) > 0 {
		fmt.Fprintf(&b, "natively: CIDR allowlist of %d blocks (deny rules and built-in denies left out)\n", len(ps))
	}
	gaps := n.ModalGaps()
	if len(gaps) == 0 {
		b.WriteString("every rule enforced natively\n")
	}
	for _, g := range gaps {
		b.WriteString("ADVISORY only (Airlock static check): " + g.Rule + ": " + g.Why + "\n")
	}
	return b.String()
}
