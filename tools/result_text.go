package tools

import (
	"strconv"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// FormatResult renders r as the short text content a model reads: stdout, then
// stderr (labelled), then the final expression's value ("→ 42") or the error
// (type: message, then traceback), then one status line for a timeout, a
// kill, or truncated output, then one line per refused connection (at most
// maxRefusalLines, then a count). The structured content carries the same
// data.
func FormatResult(r sandbox.Result) string {
	var parts []string
	add := func(s string) {
		if s = strings.TrimRight(s, "\n"); s != "" {
			parts = append(parts, s)
		}
	}
	add(r.Stdout)
	if strings.TrimRight(r.Stderr, "\n") != "" {
		add("stderr:\n" + r.Stderr)
	}
	if r.Result != nil {
		add("→ " + *r.Result)
	}
	switch {
	case r.Error != nil && strings.TrimSpace(r.Error.Traceback) != "":
		// A Python traceback ends with "Type: message" already.
		add(r.Error.Traceback)
	case r.Error != nil:
		add(r.Error.Type + ": " + r.Error.Message)
	case r.Status == sandbox.StatusError && r.ExitCode != nil:
		add("exited with code " + strconv.Itoa(*r.ExitCode))
	case r.Status == sandbox.StatusTimeout:
		add("[timed out: the wall-clock limit was reached and the sandbox was killed]")
	case r.Status == sandbox.StatusKilled:
		add("[killed: the sandbox hit a resource limit (CPU time or memory) or was stopped]")
	}
	if r.Truncated {
		add("[output truncated: only the head and tail of each long stream are shown]")
	}
	add(networkText(r.Network))
	if len(parts) == 0 {
		return "(no output)"
	}
	return strings.Join(parts, "\n")
}

// maxRefusalLines bounds the refused connections the text lists; the
// structured content has them all.
const maxRefusalLines = 3

// networkText is one line per refused connection ("[network] Connection
// to evil.test:443 refused by ..."), at most maxRefusalLines and a count of the rest,
// so the model learns why its connection failed instead of guessing.
func networkText(n *sandbox.Network) string {
	if n == nil {
		return ""
	}
	var lines []string
	refused, more := 0, 0
	for _, c := range n.Connections {
		if c.Allowed || c.Method == "static" { // a static finding was never attempted
			continue
		}
		attempts := max(c.Count, 1) // a summarised entry stands for Count attempts
		refused += attempts
		if len(lines) == maxRefusalLines {
			more += attempts
			continue
		}
		why := c.Reason
		if why == "" {
			why = "Connection to " + c.Host + portSuffix(c.Port) + " refused by " + c.Rule + "."
		}
		if attempts > 1 {
			why += " (" + strconv.Itoa(attempts) + " attempts)"
		}
		lines = append(lines, "[network] "+why)
	}
	if more > 0 {
		lines = append(lines, "[network] "+strconv.Itoa(more)+" more refused "+plural(more, "connection", "connections")+" (see network.connections)")
	}
	if refused > 0 {
		lines = append(lines, "[network] these refusals are the operator's policy; do not try to reach these hosts another way.")
	}
	return strings.Join(lines, "\n")
}

// plural picks the form of a noun for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func portSuffix(port int) string {
	if port == 0 {
		return ""
	}
	return ":" + strconv.Itoa(port)
}
