package tools

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// executePythonDescription is the tool description the model reads every
// turn: what the tool does, the isolation it gets, the effective limits and
// network, and how results come back, for the backend named backend. Keep
// it short.
func executePythonDescription(l policy.Limits, n policy.Network, backend string) string {
	where, files, procs := "sandbox", fmt.Sprintf("Files can be written only in /tmp and the working directory (%d MiB in all) and are discarded afterwards.", l.MaxFileMB), fmt.Sprintf("; %d processes", l.MaxProcesses)
	if backend == policy.BackendModal {
		// A Modal sandbox is a whole container of its own: the code may
		// write anywhere in it, and the process count is not capped.
		where = "cloud sandbox (a Modal container)"
		files = fmt.Sprintf("Files (each up to %d MiB) can be written anywhere in the sandbox and are discarded afterwards.", l.MaxFileMB)
		procs = ""
	}
	return fmt.Sprintf(`Run Python code in a fresh, isolated %s and return its output.
Each call starts from nothing: no variables, imports or files persist between calls, so send everything a computation needs in one call. %s Network: %s.
Limits per call: timeout %s s by default, at most %s s (timeout_s); memory %d MiB; CPU time %d s%s; stdout and stderr %s each, beyond which the middle is cut, keeping the head and tail.
Returns stdout, then stderr, then the value of a final bare expression as a REPL would show it (→ value), or the uncaught exception with its traceback.`,
		where, files, networkDescription(n, backend),
		seconds(l.DefaultTimeoutS), seconds(l.MaxTimeoutS), l.MemoryMB, l.CPUTimeS, procs,
		byteSize(l.MaxOutputBytes))
}

// networkDescription states the effective network policy and who enforces
// it on backend, so the model knows before calling what it may reach.
func networkDescription(n policy.Network, backend string) string {
	if !n.AllowEgress {
		return "none (no network at all)"
	}
	s := n.Summary()
	switch backend {
	case policy.BackendLocal:
		return s + ". Connections go through the Airlock proxy (HTTP_PROXY and HTTPS_PROXY are set; urllib, requests, httpx and pip use them); raw sockets, DNS lookups and UDP have no route. A refused connection gets HTTP 403 with the reason, and every attempt is listed in the result's network ledger"
	case policy.BackendModal:
		gaps := n.ModalGaps()
		if len(gaps) == 0 || n.OnUnenforceable != policy.Advisory {
			return s + " (enforced by Modal)"
		}
		rules := make([]string, len(gaps))
		for i, g := range gaps {
			rules[i] = g.Rule
		}
		return s + " (enforced by Modal, except these rules, which are ADVISORY ONLY: " + strings.Join(slices.Compact(rules), "; ") +
			"; code naming a destination the policy denies but Modal would let through is refused before running)"
	}
	return s
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
