package policy

import (
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// TestDescribe: the summary states the limits with their units, the
// backend's own account of the per-sandbox limits, and the network.
func TestDescribe(t *testing.T) {
	terms := sandbox.LimitTerms{PerSandbox: "the backend's words"}
	got := Default().Describe(terms)
	for _, want := range []string{
		"timeout: 30 s by default, 300 s at most\n",
		"per sandbox: the backend's words\n",
		"code up to 256 KiB", "output up to 64 KiB per stream", "4 calls at once",
		"network: none\n",
		"sessions: up to 4 per client and 16 in all; each ends 900 s after its last call or 14400 s after it started; kept at shutdown",
		"files: in up to 16 MiB in 64 files; out (under /work/out, and figures) up to 32 MiB in 64 files; images up to 1024 KiB inline; returned files readable for 3600 s by the client that made the call\n",
		"mounts: none\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe() =\n%s\nlacks %q", got, want)
		}
	}
	p := with(func(p *Policy) {
		p.Limits.MemoryMB, p.Limits.MaxOutputBytes, p.Limits.DefaultTimeoutS = 2048, 1500, 0.5
		p.Sessions.Enabled = false
		p.Backend.Local.Mounts = []Mount{{Host: "/srv/sales", Path: "/data/sales", ReadOnly: true}, {Host: "/srv/tmp", Path: "/mnt/tmp"}}
	})
	got = p.Describe(terms)
	for _, want := range []string{"output up to 1500 B", "0.5 s by default", "sessions: off (sessions.enabled: false)",
		"mounts: /data/sales ← /srv/sales (read-only), /mnt/tmp ← /srv/tmp (read-write)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe() =\n%s\nlacks %q", got, want)
		}
	}
}

func TestSHA256(t *testing.T) {
	def := Default().SHA256()
	if len(def) != 64 || strings.Trim(def, "0123456789abcdef") != "" {
		t.Fatalf("SHA256() = %q, want 64 hex digits", def)
	}
	// A file that spells out some defaults is the same effective policy.
	p, err := Parse([]byte("# same as default\nversion: 1\nlimits:\n  memory_mb: 512\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.SHA256(); got != def {
		t.Errorf("equivalent policy hashes to %s, default to %s", got, def)
	}
	changed := with(func(p *Policy) { p.Limits.MaxOpenFiles++ })
	if changed.SHA256() == def {
		t.Error("a changed limit does not change SHA256()")
	}
}

// TestExplainPerCall: the per-call connection and transfer limits are the
// Airlock proxy's; on Modal, which has none, the rules say they do not
// apply, and the rules themselves read the same.
func TestExplainPerCall(t *testing.T) {
	n := with(func(p *Policy) {
		p.Network.AllowEgress, p.Network.Allow = true, []NetworkRule{{Host: "pypi.org", Ports: []int{443}}}
		p.Network.MaxConnections, p.Network.MaxTransferMB = 8, 16
	}).Network
	local, modal := n.Explain(true), n.Explain(false)
	if !strings.Contains(local, "  per call: at most 8 connections and 16 MiB through the Airlock proxy\n") {
		t.Errorf("Explain() =\n%s\nlacks the proxy's per-call limits", local)
	}
	if strings.Contains(modal, "at most 8 connections") ||
		!strings.Contains(modal, "  per call: connections and transfer not capped (no Airlock proxy on this backend: max_connections and max_transfer_mb do not apply)\n") {
		t.Errorf("ExplainModal() =\n%s\nwant the proxy's limits said not to apply", modal)
	}
	for _, same := range []string{"allow[0]: host pypi.org, port 443\n", "169.254.169.254/32 (cloud metadata)", "on_unenforceable: refuse\n"} {
		if !strings.Contains(modal, same) {
			t.Errorf("ExplainModal() =\n%s\nlacks %q", modal, same)
		}
	}
}
