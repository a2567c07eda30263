package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Describe returns a few short lines for people stating the effective
// limits with their units, as a backend applies them: t is the backend's
// account of its per-sandbox limits (sandbox.Capabilities.Limits of
// DefaultLimits). `airlock-mcp doctor` and `policy check` print it, and
// the airlock://policy resource carries it.
func (p *Policy) Describe(t sandbox.LimitTerms) string {
	l := p.Limits
	var b strings.Builder
	b.WriteString("timeout: " + formatSeconds(l.DefaultTimeoutS) + " s by default, " + formatSeconds(l.MaxTimeoutS) + " s at most\n")
	b.WriteString("per sandbox: " + t.PerSandbox + "\n")
	b.WriteString("per call: code up to " + formatBytes(l.MaxCodeBytes) + ", output up to " + formatBytes(l.MaxOutputBytes) + " per stream; " +
		strconv.Itoa(l.MaxConcurrent) + " calls at once\n")
	rate := "no rate limit per client"
	if l.CallsPerMinute > 0 {
		rate = strconv.Itoa(l.CallsPerMinute) + " calls per minute per client (bursts of " + strconv.Itoa(l.CallBurst) + ")"
	}
	b.WriteString("queue: up to " + strconv.Itoa(l.MaxQueued) + " calls wait up to " + formatSeconds(l.QueueTimeoutS) + " s for a slot, then \"server busy\"; " + rate + "\n")
	b.WriteString("network: " + p.Network.Summary() + "\n")
	b.WriteString("sessions: " + p.Sessions.Summary() + "\n")
	b.WriteString("files: " + p.Files.Summary() + "\n")
	b.WriteString("mounts: " + MountsSummary(p.Backend.Local.Mounts) + "\n")
	return b.String()
}

// SHA256 returns the hex SHA-256 of the effective policy's canonical JSON:
// encoding/json of the Policy, whose keys come in the fixed order of its
// fields with every default filled in, so files that mean the same policy
// hash the same. Audit records name the policy by it.
func (p *Policy) SHA256() string {
	b, err := json.Marshal(p)
	if err != nil {
		// A Policy has only numbers, bools and strings; encoding fails only
		// on a non-finite float, which no valid policy holds.
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// formatBytes formats n bytes in the largest binary unit that divides it
// ("256 KiB", "1 MiB", "1000 B").
func formatBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}
