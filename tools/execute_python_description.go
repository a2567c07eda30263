package tools

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// executePythonDescription is the tool description the model reads every
// turn: what the tool does, the isolation it gets, the effective limits and
// network under p, and how results come back, in the words of the backend
// with capabilities c. Keep it short.
func executePythonDescription(p *policy.Policy, c sandbox.Capabilities, s Sessions) string {
	l, n := p.Limits, p.Network
	terms := c.Tool(p.DefaultLimits(), n.Rules(), n.OnUnenforceable == policy.Advisory)
	network := "none (no network at all)"
	if n.AllowEgress {
		network = n.Summary() + terms.Network
	}
	persistence, sessions := "Each call starts from nothing: no variables, imports or files persist between calls, so send everything a computation needs in one call.", ""
	if s.Registry != nil {
		persistence = "Without session, each call starts from nothing: no variables, imports or files persist between calls."
		sessions = "\n" + sessionsDescription(p.Sessions)
	}
	return fmt.Sprintf(`Run Python code in a fresh, isolated %s and return its output.
%s %s Network: %s.%s
%s
Limits per call: timeout %s s by default, at most %s s (timeout_s); memory %d MiB; CPU time %d s%s; stdout and stderr %s each, beyond which the middle is cut, keeping the head and tail.
Returns stdout, then stderr, then the value of a final bare expression as a REPL would show it (→ value), or the uncaught exception with its traceback; then the files and figures.`,
		terms.Sandbox, persistence, terms.Files, network, sessions, filesDescription(p),
		seconds(l.DefaultTimeoutS), seconds(l.MaxTimeoutS), l.MemoryMB, l.CPUTimeS, terms.Processes,
		byteSize(l.MaxOutputBytes))
}

// filesDescription tells the model how files go in and come out under p,
// and which operator data every sandbox sees (backend.local.mounts).
func filesDescription(p *policy.Policy) string {
	f := p.Files
	d := fmt.Sprintf("Files: give the code files with files (written under the working directory /work before it runs; at most %d files, %s in all). "+
		"Every file the code leaves under out/ (/work/out) is returned, up to %d files and %s: images (PNG, JPEG, GIF, WebP) up to %s as images, small text files as text, others as links (airlock://files/...) readable with resources/read for %s s. "+
		"matplotlib figures still open when the code ends (or passed to plt.show()) come back as PNG images without anything special in the code.",
		f.MaxInCount, byteSize64(p.MaxInBytes()), f.MaxOutCount, byteSize64(f.MaxOutBytes()), byteSize64(f.MaxInlineImageBytes()), strconv.Itoa(f.TTLS))
	if ms := p.Backend.Local.Mounts; len(ms) > 0 {
		parts := make([]string, len(ms))
		for i, m := range ms {
			mode := "read-only"
			if !m.ReadOnly {
				mode = "writable"
			}
			parts[i] = m.Path + " (" + mode + ")"
		}
		d += " The operator's data is at " + strings.Join(parts, ", ") + "."
	}
	return d
}

// byteSize64 is byteSize of an int64.
func byteSize64(n int64) string { return byteSize(int(n)) }

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

// sessionsDescription tells the model, under the session policy ps, what
// a session keeps, when to use one, when its state is lost, and the
// limits.
func sessionsDescription(ps policy.Sessions) string {
	return fmt.Sprintf("Sessions: with session (a name you choose), the calls naming it share one interpreter in a sandbox of its own, created on first use, with the same isolation and limits: its globals, imports and files persist (the scratch space lasts the session's whole life), so load data or import heavy modules once, then work on them over many calls; calls in one session run one at a time. "+
		"A session's state is lost when it ends: after %s s without a call, %s s after it started, by end_session, or when its interpreter dies (a crash, the memory limit, or code that ignores the interrupt at its timeout); the next call then starts afresh, and its result says restarted with the reason. "+
		"You may keep %d sessions at once: end those you no longer need with end_session; list_sessions shows yours.",
		strconv.Itoa(ps.IdleTTLS), strconv.Itoa(ps.MaxLifetimeS), ps.MaxPerClient)
}
