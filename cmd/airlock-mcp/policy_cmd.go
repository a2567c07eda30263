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
	fmt.Fprint(stdout, p.Network.Explain())

	status := 0
	for _, b := range backends {
		fmt.Fprintf(stdout, "\nbackend %s: ", b.name)
		if err := b.check(p); err != nil {
			fmt.Fprintf(stdout, "REFUSED\n%s\n", indent(err.Error()))
			if b.name == backendFlag {
				status = 1
			}
			continue
		}
		fmt.Fprintln(stdout, "accepted")
		fmt.Fprint(stdout, indent(b.caps.Enforcement(p.Network.Rules())))
	}
	return status
}

// indent indents every line of s by two spaces.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
