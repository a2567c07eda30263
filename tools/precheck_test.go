package tools_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// withNetwork is the default policy with the network section n.
func withNetwork(n policy.Network) *policy.Policy {
	p := policy.Default()
	p.Network = n
	if p.Network.OnUnenforceable == "" {
		p.Network.OnUnenforceable = policy.Refuse
	}
	return p
}

// runCode calls execute_python with code under p on a fake backend named
// backend that returns result.
func runCode(t *testing.T, p *policy.Policy, backend, code string, result sandbox.Result) (string, bool, *sandboxtest.Backend) {
	t.Helper()
	fb := &sandboxtest.Backend{BackendName: backend, Result: result}
	tool, err := tools.ExecutePython(p, capable(fb), tools.Sessions{}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	res := tool.Handler(context.Background(), call(`{"code":`+strconv.Quote(code)+`}`))
	return text(t, res), res.IsError, fb
}

// TestPreCheckRefusesOnlyWhatTheBackendCannotEnforce: code naming a
// destination the policy denies runs wherever the backend blocks that
// destination itself (the local backend always; Modal for what its
// allowlists leave out); it is refused before running only where the
// backend would let it through (a Modal advisory gap), and the refusal
// says the rule cannot be enforced while the code runs.
func TestPreCheckRefusesOnlyWhatTheBackendCannotEnforce(t *testing.T) {
	pypi := policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{{Host: "pypi.org", Ports: []int{443}}}}
	advisory := func(n policy.Network) policy.Network { n.OnUnenforceable = policy.Advisory; return n }
	denyInsideWildcard := advisory(policy.Network{AllowEgress: true,
		Allow: []policy.NetworkRule{{Host: "*.example.com", Ports: []int{443}}},
		Deny:  []policy.NetworkRule{{Host: "admin.example.com"}}})
	portedCIDR := advisory(policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{{CIDR: "203.0.113.0/24", Ports: []int{443}}}})
	tests := []struct {
		name    string
		n       policy.Network
		backend string
		code    string
		refused []string // substrings of the refusal; nil: the code runs
	}{
		{"local, default policy: urllib.parse only", policy.Network{}, local.Name,
			`from urllib.parse import urlparse; print(urlparse("https://example.com/a").netloc)`, nil},
		{"local, default policy: socket imported, a URL in a string", policy.Network{}, local.Name,
			"import socket\nprint('see https://example.com/docs')", nil},
		{"local, default policy: the metadata service (no route in the sandbox)", policy.Network{}, local.Name,
			"import urllib.request\nurllib.request.urlopen('http://169.254.169.254/latest/meta-data/')", nil},
		{"local with an allow list: the proxy refuses the host", pypi, local.Name,
			"import requests\nrequests.get('https://evil.test/x')", nil},
		{"modal, default policy: BlockNetwork", policy.Network{}, modal.Name,
			"import requests\nrequests.get('https://evil.test/x')", nil},
		{"modal, open egress: the CIDR allowlist leaves metadata out", policy.Network{AllowEgress: true}, modal.Name,
			"import requests\nrequests.get('http://169.254.169.254/latest/meta-data/')", nil},
		{"modal advisory: the domain allowlist leaves the host out", advisory(pypi), modal.Name,
			"import requests\nrequests.get('https://evil.test/x')", nil},
		{"modal advisory: a gap named without network use", denyInsideWildcard, modal.Name,
			"print('https://admin.example.com/')", nil},
		{"modal advisory: a host deny inside an allowed wildcard", denyInsideWildcard, modal.Name,
			"import requests\nrequests.get('https://admin.example.com/users')",
			[]string{`Code refused before running: it contacts admin.example.com ("https://admin.example.com/users", line 2), which the operator's network policy denies: `,
				"network.deny[0] (host admin.example.com, every port)", "This backend cannot enforce that rule while the code runs"}},
		{"modal advisory: a port a cidr rule does not allow", portedCIDR, modal.Name,
			"import socket\nsocket.create_connection(('203.0.113.9', 22))",
			[]string{`it contacts 203.0.113.9 ("203.0.113.9", line 2)`, "This backend cannot enforce that rule while the code runs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := sandbox.Result{Status: sandbox.StatusOK, Backend: tt.backend}
			got, isError, fb := runCode(t, withNetwork(tt.n), tt.backend, tt.code, ok)
			if tt.refused == nil {
				if isError || len(fb.Requests()) != 1 || strings.Contains(got, "refused before running") {
					t.Errorf("not run: isError %v, %d backend calls, text %q", isError, len(fb.Requests()), got)
				}
				return
			}
			if !isError || len(fb.Requests()) != 0 {
				t.Errorf("not refused: isError %v, %d backend calls", isError, len(fb.Requests()))
			}
			for _, want := range tt.refused {
				if !strings.Contains(got, want) {
					t.Errorf("refusal %q lacks %q", got, want)
				}
			}
			if strings.Contains(got, "enforced while the code runs") {
				t.Errorf("refusal claims the rule is enforced while the code runs: %q", got)
			}
		})
	}
}

// TestPreCheckNote: when the code names a denied destination and the run
// then shows a refused or failed connection, the text ends with one note
// naming the finding and the rule; otherwise, or when the ledger already
// explains the refusal of that very host, there is none.
func TestPreCheckNote(t *testing.T) {
	const metadataCode = "import urllib.request\nurllib.request.urlopen('http://169.254.169.254/latest/meta-data/')"
	const metadataNote = `[network] The Airlock pre-check found 169.254.169.254 ("http://169.254.169.254/latest/meta-data/", line 2) in the code, ` +
		`which the operator's network policy denies: Connection to 169.254.169.254:80 refused: the operator's policy allows no network access from this sandbox (network.allow_egress is false).`
	failed := func(typ, msg string) sandbox.Result {
		return sandbox.Result{Status: sandbox.StatusError, Error: &sandbox.ErrorInfo{Type: typ, Message: msg}}
	}
	pypi := policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{{Host: "pypi.org", Ports: []int{443}}}}
	proxyRefused := func(host string) sandbox.Result {
		r := failed("urllib.error.URLError", "<urlopen error Tunnel connection failed: 403 Airlock policy>")
		r.Network = &sandbox.Network{Enforcement: sandbox.EnforcementProxy, Connections: []sandbox.Connection{
			{Host: host, Port: 443, Method: "CONNECT", Rule: "network.allow (no rule matches)", Reason: "Connection to " + host + ":443 refused: " + host + " is not in the operator's allow list (network.allow)."}}}
		return r
	}
	tests := []struct {
		name    string
		n       policy.Network
		backend string
		code    string
		result  sandbox.Result
		note    string // the note's text, "" for none
	}{
		{"no route: URLError", policy.Network{}, local.Name, metadataCode,
			failed("urllib.error.URLError", "<urlopen error [Errno 101] Network is unreachable>"), metadataNote},
		{"no DNS: gaierror", policy.Network{}, local.Name, "import socket\nsocket.create_connection(('evil.test', 443))",
			failed("socket.gaierror", "[Errno -3] Temporary failure in name resolution"), `[network] The Airlock pre-check found evil.test ("evil.test", line 2) in the code`},
		{"no route: plain OSError", policy.Network{}, local.Name, metadataCode,
			failed("OSError", "[Errno 101] Network is unreachable"), metadataNote},
		{"requests' ConnectionError", policy.Network{}, local.Name, "import requests\nrequests.get('https://evil.test/x')",
			failed("requests.exceptions.ConnectionError", "HTTPSConnectionPool(host='evil.test', port=443): Max retries exceeded"), "[network] The Airlock pre-check found evil.test"},
		{"Modal cuts the connection", policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{{CIDR: "203.0.113.0/24"}}}, modal.Name,
			"import socket\nsocket.create_connection(('198.51.100.7', 22))",
			failed("ConnectionResetError", "[Errno 104] Connection reset by peer"), "[network] The Airlock pre-check found 198.51.100.7"},
		{"the proxy refused another host", pypi, local.Name, "import requests\nrequests.get('https://evil.test/x')",
			proxyRefused("other.test"), "[network] The Airlock pre-check found evil.test"},
		{"the proxy's ledger already explains this host", pypi, local.Name, "import requests\nrequests.get('https://evil.test/x')",
			proxyRefused("evil.test"), ""},
		{"an unrelated error", policy.Network{}, local.Name, metadataCode, failed("KeyError", "'x'"), ""},
		{"an OSError that is not the network", policy.Network{}, local.Name, metadataCode,
			failed("FileNotFoundError", "[Errno 2] No such file or directory: 'x'"), ""},
		{"the code succeeded", policy.Network{}, local.Name, metadataCode, sandbox.Result{Status: sandbox.StatusOK}, ""},
		{"nothing denied in the code", policy.Network{}, local.Name, "import socket\nsocket.create_connection((HOST, 443))",
			failed("socket.gaierror", "[Errno -3] Temporary failure in name resolution"), ""},
		{"loopback is the sandbox's own", policy.Network{}, local.Name, "import urllib.request\nurllib.request.urlopen('http://localhost:8000/')",
			failed("urllib.error.URLError", "<urlopen error [Errno 111] Connection refused>"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, fb := runCode(t, withNetwork(tt.n), tt.backend, tt.code, tt.result)
			if len(fb.Requests()) != 1 {
				t.Fatalf("%d backend calls, want the code run once: %q", len(fb.Requests()), got)
			}
			notes := strings.Count(got, "pre-check found")
			if tt.note == "" {
				if notes != 0 {
					t.Errorf("unexpected note in %q", got)
				}
				return
			}
			last := got[strings.LastIndexByte(got, '\n')+1:]
			if notes != 1 || !strings.HasPrefix(last, tt.note) {
				t.Errorf("text %q\nwant it to end with one note starting %q", got, tt.note)
			}
		})
	}
}
