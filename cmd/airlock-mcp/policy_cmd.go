package main

import (
	"context"
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
// and Modal's verdict alone. Exit 0 when the file is valid and the
// backend it would run on (backendFlag, default local) can honour it on
// this host; 1 when the file is invalid or that backend refuses it; 2 on
// a usage error. The other backend's verdict is shown, not counted.
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
		err := b.check(p)
		if err == nil && b.host != nil {
			err = b.host(p)
		}
		if err != nil {
			fmt.Fprintf(stdout, "REFUSED\n%s\n", indent(err.Error()))
			if b.name == backendFlag || (backendFlag == "" && b.name == local.Name) {
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

// checkInterpreter checks that the interpreter the policy names in
// backend.local.python runs here and is Python 3: without it the local
// backend cannot start. A policy that names none (local.DefaultPython) passes;
// doctor checks the host itself.
func checkInterpreter(p *policy.Policy) error {
	python := p.Backend.Local.Python
	if python == "" {
		return nil
	}
	if _, err := local.FindInterpreter(context.Background(), python); err != nil {
		return &policy.LoadError{Problems: []policy.Problem{{Pointer: "/backend/local/python", Message: fmt.Sprintf(
			"%s, or leave backend.local.python out to use %s",
			strings.TrimRight(err.Error(), ": "), local.DefaultPython)}}}
	}
	return nil
}
