package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tlsHosts := write("hosts.yaml", "network:\n  allow_egress: true\n  allow:\n    - {host: pypi.org, ports: [443]}\n  deny:\n    - {cidr: 198.51.100.0/24}\n")
	advisory := write("advisory.yaml", "network:\n  allow_egress: true\n  on_unenforceable: advisory\n  allow:\n    - {host: pypi.org, ports: [443]}\n")
	bad := write("bad.yaml", "network:\n  allow_egress: true\n  deny:\n    - {host: 'not a host'}\n")
	tests := []struct {
		name string
		args []string
		code int
		out  []string // substrings of stdout
		err  string   // substring of stderr
	}{
		{"valid, local accepts, modal refuses", []string{"policy", "check", tlsHosts}, 0,
			[]string{"valid (version 1, sha256 ", "allow[0]: host pypi.org, port 443", "deny[0]: cidr 198.51.100.0/24", "169.254.169.254/32 (cloud metadata)",
				"backend local: accepted", "enforced by the Airlock proxy", "backend modal: REFUSED", "/network/allow/0: rule network.allow[0] (host pypi.org, port 443) cannot be enforced on Modal"}, ""},
		{"--backend modal makes the refusal an error", []string{"--backend", "modal", "policy", "check", tlsHosts}, 1, []string{"backend modal: REFUSED"}, ""},
		{"--backend local accepts it", []string{"--backend", "local", "policy", "check", tlsHosts}, 0, nil, ""},
		{"advisory runs on modal and says what is advisory", []string{"--backend", "modal", "policy", "check", advisory}, 0,
			[]string{"backend modal: accepted", "natively: domain allowlist (TLS on port 443, by SNI): pypi.org", "ADVISORY only (Airlock static check): network.allow[0]"}, ""},
		{"invalid file names the entry", []string{"policy", "check", bad}, 1, nil, "/network/deny/0"},
		{"missing file", []string{"policy", "check", filepath.Join(dir, "nope.yaml")}, 1, nil, "nope.yaml"},
		{"usage", []string{"policy"}, 2, nil, "usage: airlock-mcp policy check FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			for _, s := range tt.out {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			if !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("stderr lacks %q:\n%s", tt.err, &stderr)
			}
		})
	}
}
