package tools

import (
	"fmt"
	"strconv"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// executePythonDescription is the tool description the model reads every
// turn: what the tool does, the isolation it gets, the effective limits and
// network under p, and how results come back, in the words of the backend
// with capabilities c. Keep it short.
func executePythonDescription(p *policy.Policy, c sandbox.Capabilities) string {
	l, n := p.Limits, p.Network
	terms := c.Tool(p.DefaultLimits(), n.Rules(), n.OnUnenforceable == policy.Advisory)
	network := "none (no network at all)"
	if n.AllowEgress {
		network = n.Summary() + terms.Network
	}
	return fmt.Sprintf(`Run Python code in a fresh, isolated %s and return its output.
Each call starts from nothing: no variables, imports or files persist between calls, so send everything a computation needs in one call. %s Network: %s.
Limits per call: timeout %s s by default, at most %s s (timeout_s); memory %d MiB; CPU time %d s%s; stdout and stderr %s each, beyond which the middle is cut, keeping the head and tail.
Returns stdout, then stderr, then the value of a final bare expression as a REPL would show it (→ value), or the uncaught exception with its traceback.`,
		terms.Sandbox, terms.Files, network,
		seconds(l.DefaultTimeoutS), seconds(l.MaxTimeoutS), l.MemoryMB, l.CPUTimeS, terms.Processes,
		byteSize(l.MaxOutputBytes))
}

// seconds formats s without a trailing ".0" (30, 2.5).
func seconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }

// byteSize formats n in the largest binary unit that divides it exactly.
func byteSize(n int) string {
	switch {
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n > 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
