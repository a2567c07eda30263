package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
)

// Describe returns a few short lines for humans stating the effective
// limits with their units, as printed by `airlock-mcp doctor` and `run`.
func (p *Policy) Describe() string {
	l := p.Limits
	python := p.Backend.Local.Python
	if python == "" {
		python = "auto (python3 on PATH, then /usr/bin/python3)"
	}
	var b strings.Builder
	b.WriteString("timeout: " + formatSeconds(l.DefaultTimeoutS) + " s by default, " + formatSeconds(l.MaxTimeoutS) + " s at most\n")
	b.WriteString("per sandbox: memory " + formatMiB(l.MemoryMB) + ", CPU " + strconv.Itoa(l.CPUTimeS) + " s, " +
		strconv.Itoa(l.MaxProcesses) + " processes, " + strconv.Itoa(l.MaxOpenFiles) + " open files, files and scratch " + formatMiB(l.MaxFileMB) + "\n")
	b.WriteString("per call: code up to " + formatBytes(l.MaxCodeBytes) + ", output up to " + formatBytes(l.MaxOutputBytes) + " per stream; " +
		strconv.Itoa(l.MaxConcurrent) + " calls at once\n")
	rate := "no rate limit per client"
	if l.CallsPerMinute > 0 {
		rate = strconv.Itoa(l.CallsPerMinute) + " calls per minute per client (bursts of " + strconv.Itoa(l.CallBurst) + ")"
	}
	b.WriteString("queue: up to " + strconv.Itoa(l.MaxQueued) + " calls wait up to " + formatSeconds(l.QueueTimeoutS) + " s for a slot, then \"server busy\"; " + rate + "\n")
	b.WriteString("network: " + p.Network.Summary() + "\n")
	b.WriteString("python: " + python + "; " + strconv.Itoa(p.Backend.Local.WarmSandboxes) + " warm sandbox(es)\n")
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

// formatMiB formats n MiB, in GiB when whole ("512 MiB", "2 GiB").
func formatMiB(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + " GiB"
	}
	return strconv.Itoa(n) + " MiB"
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
