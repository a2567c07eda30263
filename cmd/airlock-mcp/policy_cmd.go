package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// runPolicy runs `airlock-mcp policy check FILE`: it validates the policy
// file and prints the effective policy, and how each backend enforces its
// network rules. backendFlag is the --backend given explicitly, or "".
// Without it, or with --backend local, the limits are shown as the local
// backend applies them, then both backends' verdicts; with --backend
// modal, everything is shown as Modal receives it: its view of the limits,
// the backend.modal settings, no Airlock proxy limits, the allowlists sent
// and Modal's verdict alone. Exit 0 when the file is valid and every
// backend asked for can honour it; 1 when the file is invalid or that
// backend refuses it; 2 on a usage error. With --backend given explicitly,
// only that backend counts towards the exit status.
func runPolicy(args []string, backendFlag string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "check" {
		return usageError(stderr, "usage: airlock-mcp policy check FILE")
	}
	if backendFlag != "" && backendFlag != local.Name && backendFlag != modal.Name {
		return usageError(stderr, fmt.Sprintf("unknown backend %q: use %q (the default) or %q", backendFlag, local.Name, modal.Name))
	}
	file := args[1]
	p, err := policy.Load(file)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 1
	}
	onlyModal := backendFlag == modal.Name
	view := local.Name
	var caps sandbox.Capabilities = local.Capabilities{}
	if onlyModal {
		view, caps = modal.Name, modal.Capabilities{}
	}
	rules := p.Network.Explain(caps.Limits(p.DefaultLimits()).ProxyLimits)
	fmt.Fprintf(stdout, "policy %s: valid (version %d, sha256 %s)\n\n", file, p.Version, p.SHA256())
	fmt.Fprint(stdout, indent(summary(p, view)))
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, rules)

	status := 0
	for _, b := range backends {
		if onlyModal && b.name != modal.Name {
			continue
		}
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
		fmt.Fprint(stdout, indent(sessionsVerdict(p, b.name)))
	}
	return status
}

// indent indents every line of s by two spaces.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
