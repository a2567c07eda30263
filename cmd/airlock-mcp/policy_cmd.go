package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// runPolicy runs `airlock-mcp policy check FILE`: it validates the policy
// file and prints the effective policy, and how each backend enforces its
// network rules. Exit 0 when the file is valid and every backend asked for
// can honour it; 1 when the file is invalid or that backend refuses it; 2
// on a usage error. With --backend given explicitly, only that backend
// counts towards the exit status.
func runPolicy(args []string, backendFlag string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "check" {
		return usageError(stderr, "usage: airlock-mcp policy check FILE")
	}
	file := args[1]
	p, err := policy.Load(file)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "policy %s: valid (version %d, sha256 %s)\n\n", file, p.Version, p.SHA256())
	fmt.Fprint(stdout, indent(p.Describe()))
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, describeNetwork(p.Network))

	status := 0
	for _, backend := range []string{policy.BackendLocal, policy.BackendModal} {
		fmt.Fprintf(stdout, "\nbackend %s: ", backend)
		err := p.CheckBackend(backend)
		if err != nil {
			fmt.Fprintf(stdout, "REFUSED\n%s\n", indent(err.Error()))
			if backend == backendFlag {
				status = 1
			}
			continue
		}
		fmt.Fprintln(stdout, "accepted")
		fmt.Fprint(stdout, indent(enforcement(p.Network, backend)))
	}
	return status
}

// describeNetwork lists the network rules as an operator reads them.
func describeNetwork(n policy.Network) string {
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
	for _, d := range policy.BuiltinDenies() {
		b.WriteString("    " + d + "\n")
	}
	fmt.Fprintf(&b, "  per call: at most %d connections and %d MiB through the Airlock proxy\n", n.MaxConnections, n.MaxTransferMB)
	fmt.Fprintf(&b, "  on_unenforceable: %s\n", n.OnUnenforceable)
	return b.String()
}

// enforcement says how backend enforces n.
func enforcement(n policy.Network, backend string) string {
	if !n.AllowEgress {
		switch backend {
		case policy.BackendLocal:
			return "no network: the sandbox's network namespace has only loopback and no proxy\n"
		default:
			return "no network: Modal BlockNetwork\n"
		}
	}
	switch backend {
	case policy.BackendLocal:
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

// indent indents every line of s by two spaces.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
