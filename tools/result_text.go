package tools

import (
	"strconv"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// FormatResult renders r as the short text content a model reads: stdout, then
// stderr (labelled), then the final expression's value ("→ 42") or the error
// (type: message, then traceback), then one status line for a timeout, a
// kill, or truncated output. The structured content carries the same data.
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
	if len(parts) == 0 {
		return "(no output)"
	}
	return strings.Join(parts, "\n")
}
