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
	wildcard := write("wildcard.yaml", "network:\n  allow_egress: true\n  on_unenforceable: advisory\n  allow:\n    - {host: '*.example.com', ports: [443]}\n    - {cidr: 203.0.113.0/24}\n"+
		"backend:\n  modal:\n    app_name: ci\n    image: ghcr.io/acme/py:3.13\n    cpu: 0.25\n    memory_mb: 256\n    timeout_s: 60\n    environment: prod\n    pool_size: 2\n")
	layered := write("layered.yaml", "backend:\n  modal:\n    image: python:3.12-slim\n    apt: [python3-numpy]\n    pip: [requests, pandas==2.2.3]\n")
	badLayer := write("badlayer.yaml", "backend:\n  modal:\n    pip: ['x; curl evil']\n")
	egress := write("egress.yaml", "network:\n  allow_egress: true\n")
	none := write("none.yaml", "version: 1\n")
	bad := write("bad.yaml", "network:\n  allow_egress: true\n  deny:\n    - {host: 'not a host'}\n")
	noPython := write("nopython.yaml", "backend:\n  local:\n    python: "+filepath.Join(dir, "no-such-python3")+"\n")
	trailingComma := write("comma.json", "{\n  \"version\": 1,\n}\n")
	tests := []struct {
		name string
		args []string
		code int
		out  []string // substrings of stdout
		not  []string // not in stdout
		err  string   // substring of stderr
	}{
		{"valid, local accepts, modal refuses", []string{"policy", "check", tlsHosts}, 0,
			[]string{"valid (version 1, sha256 ", "allow[0]: host pypi.org, port 443", "deny[0]: cidr 198.51.100.0/24", "169.254.169.254/32 (cloud metadata)",
				"backend local: accepted", "enforced by the Airlock proxy", "backend modal: REFUSED", "/network/allow/0: rule network.allow[0] (host pypi.org, port 443) cannot be enforced on Modal"}, nil, ""},
		{"--backend modal makes the refusal an error", []string{"--backend", "modal", "policy", "check", tlsHosts}, 1, []string{"backend modal: REFUSED"}, nil, ""},
		{"--backend local accepts it", []string{"--backend", "local", "policy", "check", tlsHosts}, 0, nil, nil, ""},
		{"advisory runs on modal and says what is advisory", []string{"--backend", "modal", "policy", "check", advisory}, 0,
			[]string{"backend modal: accepted", "natively: domain allowlist (TLS on port 443, by SNI): pypi.org", "ADVISORY only (Airlock static check): network.allow[0]"}, nil, ""},
		{"without --backend: the local view, both verdicts, no modal settings", []string{"policy", "check", wildcard}, 0,
			[]string{"  per sandbox: memory 512 MiB, CPU 60 s, 64 processes,", "  python: /usr/bin/python3 (the default)", "1 warm sandbox(es)",
				"  per call: at most 64 connections and 256 MiB through the Airlock proxy\n",
				"backend local: accepted", "backend modal: accepted", "natively: domain allowlist (TLS on port 443, by SNI): example.com, *.example.com\n"},
			[]string{"modal: app", "ghcr.io/acme/py", "not capped"}, ""},
		{"--backend local: the same local view", []string{"--backend", "local", "policy", "check", wildcard}, 0,
			[]string{"  python: /usr/bin/python3 (the default)", "through the Airlock proxy", "backend local: accepted", "backend modal: accepted"},
			[]string{"modal: app", "ghcr.io/acme/py"}, ""},
		{"--backend modal: what Modal receives", []string{"--backend", "modal", "policy", "check", wildcard}, 0,
			[]string{"  per sandbox: memory 512 MiB (Modal's hard limit); CPU 60 s, 256 open files, files up to 64 MiB each (rlimits the code, root in its container, could raise); processes and scratch space not capped (a container of its own)\n",
				"  modal: app ci (environment: \"prod\"), image ghcr.io/acme/py:3.13; each sandbox requests 0.25 CPU and 256 MiB and lives 60 s beyond its call's timeout; pool: 2 sandbox(es) kept ready (billed while idle)\n",
				"  per call: connections and transfer not capped (no Airlock proxy on this backend: max_connections and max_transfer_mb do not apply)\n",
				"backend modal: accepted\n  natively: domain allowlist (TLS on port 443, by SNI): example.com, *.example.com\n  natively: CIDR allowlist (every port): 203.0.113.0/24\n"},
			[]string{"python: ", "warm sandbox", "64 processes", "through the Airlock proxy", "backend local"}, ""},
		{"--backend modal, open egress: the CIDR allowlist counted", []string{"--backend", "modal", "policy", "check", egress}, 0,
			[]string{"  natively: CIDR allowlist (every port): ", " blocks (every address, without the deny cidr rules and the built-in denies)\n"}, nil, ""},
		{"--backend modal, no egress: BlockNetwork", []string{"--backend", "modal", "policy", "check", none}, 0,
			[]string{"  network: none\n", "  egress: off (no network at all)\n", "backend modal: accepted\n  no network: Modal BlockNetwork\n"}, []string{"per call: connections"}, ""},
		{"an unknown --backend is a usage error", []string{"--backend", "modl", "policy", "check", tlsHosts}, 2, nil, nil, `unknown backend "modl"`},
		{"invalid file names the entry", []string{"policy", "check", bad}, 1, nil, nil, "/network/deny/0"},
		{"missing file", []string{"policy", "check", filepath.Join(dir, "nope.yaml")}, 1, nil, nil, "nope.yaml"},
		{"usage", []string{"policy"}, 2, nil, nil, "usage: airlock-mcp policy check FILE"},
		{"flags after the file", []string{"policy", "check", tlsHosts, "--backend", "modal"}, 1, []string{"backend modal: REFUSED"}, []string{"backend local"}, ""},
		{"a named interpreter that does not run fails the local backend", []string{"policy", "check", noPython}, 1,
			[]string{"backend local: REFUSED", "/backend/local/python: interpreter " + filepath.Join(dir, "no-such-python3") + " cannot be used", "leave backend.local.python out to use /usr/bin/python3"}, nil, ""},
		{"... and --backend local", []string{"policy", "check", noPython, "--backend", "local"}, 1, []string{"backend local: REFUSED"}, nil, ""},
		{"... but not Modal, which does not use it", []string{"--backend", "modal", "policy", "check", noPython}, 0, []string{"backend modal: accepted"}, nil, ""},
		{"--backend modal shows the image definition with its layers", []string{"--backend", "modal", "policy", "check", layered}, 0,
			[]string{"image python:3.12-slim with layers [RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends 'python3-numpy' && rm -rf /var/lib/apt/lists/* | RUN python3 -m pip install --no-cache-dir --disable-pip-version-check 'requests' 'pandas==2.2.3']; each sandbox"}, nil, ""},
		{"a pip entry that is not a requirement is invalid", []string{"policy", "check", badLayer}, 1, nil, nil, "/backend/modal/pip/0"},
		{"a .json policy is strict JSON", []string{"policy", "check", trailingComma}, 1, nil, nil, "comma.json:3: JSON syntax error: invalid character '}'"},
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
			for _, s := range tt.not {
				if strings.Contains(stdout.String(), s) {
					t.Errorf("stdout has %q:\n%s", s, &stdout)
				}
			}
			if !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("stderr lacks %q:\n%s", tt.err, &stderr)
			}
		})
	}
}
