package precheck

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

var (
	egressOff = policy.Network{}
	open      = policy.Network{AllowEgress: true}
	pypiOnly  = policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{
		{Host: "pypi.org", Ports: []int{443}},
		{Host: "*.pythonhosted.org", Ports: []int{443}},
	}}
	wildcardWithDeny = policy.Network{AllowEgress: true,
		Allow: []policy.NetworkRule{{Host: "*.example.com"}},
		Deny:  []policy.NetworkRule{{Host: "bad.example.com"}},
	}
	privateAllowed = policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{{CIDR: "10.1.0.0/16", Ports: []int{5432}}}}
)

// blocksNothing is a backend that enforces none of the policy itself: the
// pre-check refuses every denied finding of code that uses the network.
var blocksNothing Enforcement = func(Finding) bool { return false }

func TestCheckDecisions(t *testing.T) {
	tests := []struct {
		name   string
		net    policy.Network
		code   string
		refuse string // the refused finding's "host port rule", "" for none
		reason string // a part of its reason
	}{
		{"egress off refuses a URL", egressOff, "import requests\nr = requests.get('https://pypi.org/simple/numpy/')",
			"pypi.org 443 network.allow_egress: false", "network.allow_egress is false"},
		{"allow list allows", pypiOnly, "import requests\nrequests.get('https://pypi.org/simple/numpy/')\nrequests.get('https://files.pythonhosted.org/x.whl')",
			"", ""},
		{"allow list refuses another host", pypiOnly, "import requests\nrequests.get('https://pypi.org/')\nrequests.get('https://evil.test/x')",
			"evil.test 443 network.allow (no rule matches)", "evil.test is not in the operator's allow list"},
		{"allow list refuses another port", pypiOnly, "import urllib.request\nurllib.request.urlopen('http://pypi.org/simple/')",
			"pypi.org 80 network.allow[0] (host pypi.org, port 443)", "allowed only on port 443"},
		{"a bare host with unknown port is allowed when some port is", pypiOnly, "import socket\nHOST = 'pypi.org'", "", ""},
		{"deny rule inside a wildcard", wildcardWithDeny, "import httpx\nhttpx.get('https://good.example.com/')\nhttpx.get('https://bad.example.com/x')",
			"bad.example.com 443 network.deny[0] (host bad.example.com, every port)", "refused by the operator's policy rule network.deny[0]"},
		{"wildcard allows its apex", wildcardWithDeny, "import httpx\nhttpx.get('https://example.com/')", "", ""},
		{"metadata IP with open egress", open, "import requests\nrequests.get('http://169.254.169.254/latest/meta-data')",
			"169.254.169.254 80 built-in deny (cloud metadata 169.254.169.254/32)", "cloud metadata address"},
		{"metadata name with open egress", open, "import requests\nrequests.get('http://metadata.google.internal/computeMetadata/v1/')",
			"metadata.google.internal 80 built-in deny (cloud metadata 169.254.169.254/32)", "metadata.google.internal:80 (169.254.169.254)"},
		// Loopback is the sandbox's own: a server the code starts itself.
		{"localhost is never refused statically", open, "import requests\nrequests.get('http://localhost:8000/')", "", ""},
		{"loopback with egress off is not refused either", egressOff, "import urllib.request as u\nu.urlopen('http://0x7f.1/admin')", "", ""},
		{"IP literal needs a cidr rule", pypiOnly, "import socket\ns = socket.create_connection(('203.0.113.7', 443))",
			"203.0.113.7 443 network.allow (no cidr rule matches)", "need a cidr rule"},
		{"cidr rule lifts a built-in deny", privateAllowed, "import psycopg2, socket\nsocket.create_connection(('10.1.2.3', 5432))", "", ""},
		{"open egress allows a public host", open, "import requests\nrequests.get('https://evil.test/')", "", ""},
		{"first denied finding is refused", pypiOnly, "import requests\nfor u in ['https://pypi.org/', 'https://a.test/', 'https://b.test/']: requests.get(u)",
			"a.test 443 network.allow (no rule matches)", ""},
		{"a tuple's port is decided", pypiOnly, "import socket\nsocket.create_connection(('pypi.org', 80))",
			"pypi.org 80 network.allow[0] (host pypi.org, port 443)", ""},
		// when the code uses the network
		{"URL in a comment only", egressOff, "import requests\n# requests.get('https://evil.test/')\nprint(1)", "", ""},
		{"no networking module", egressOff, "import json\nDOCS = 'https://evil.test/docs'\nprint(DOCS)", "", ""},
		{"from import", egressOff, "from urllib.request import urlopen\nurlopen('http://evil.test/')", "evil.test 80 network.allow_egress: false", ""},
		{"import list", egressOff, "import os, socket\nH = 'evil.test'", "evil.test 0 network.allow_egress: false", ""},
		{"module used without import", egressOff, "r = requests.get('https://evil.test')", "evil.test 443 network.allow_egress: false", ""},
		{"asyncio open_connection", egressOff, "import asyncio\nasync def f():\n    await asyncio.open_connection('evil.test', 80)", "evil.test 80 network.allow_egress: false", ""},
		{"asyncio alone", egressOff, "import asyncio\nURL = 'https://evil.test/'", "", ""},
		{"subprocess with curl", egressOff, "import subprocess\nsubprocess.run(['curl', '-s', 'https://evil.test/x'])", "evil.test 443 network.allow_egress: false", ""},
		{"os.system with wget", egressOff, "import os\nos.system('wget -q http://evil.test/x')", "evil.test 80 network.allow_egress: false", ""},
		{"subprocess without a network tool", egressOff, "import subprocess\nsubprocess.run(['echo', 'https://evil.test/'])", "", ""},
		{"network tool without a shell", egressOff, "print('curl https://evil.test/')", "", ""},
		{"dynamic import", egressOff, "m = __import__('socket')\nH = 'evil.test'", "evil.test 0 network.allow_egress: false", ""},
		{"module name as an attribute", egressOff, "self.requests.get('https://evil.test/')", "", ""},
		{"module name as a string", egressOff, "print('requests', 'https://evil.test/')", "", ""},
		{"module name in a comment", egressOff, "# import requests\nu = 'https://evil.test/'", "", ""},
		{"module name in an f-string field", egressOff, "x = f\"{requests.get('https://evil.test/')}\"", "evil.test 443 network.allow_egress: false", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.code, tt.net.Egress(), blocksNothing)
			got := ""
			if r.Refused != nil {
				got = fmt.Sprintf("%s %d %s", r.Refused.Host, r.Refused.Port, r.Refused.Rule)
			}
			if got != tt.refuse {
				t.Fatalf("refused %q, want %q (findings %+v, network use %q)", got, tt.refuse, r.Findings, r.NetworkUse)
			}
			if r.Refused != nil {
				f := r.Refused
				if f.Allowed || f.Verdict.Allowed || f.Rule != f.Verdict.Rule || !strings.Contains(f.Verdict.Reason, tt.reason) {
					t.Errorf("refused finding %+v, want reason containing %q", f, tt.reason)
				}
				if r.NetworkUse == "" {
					t.Error("refused without network use")
				}
				if r.Denied == nil || *r.Denied != *r.Refused {
					t.Errorf("denied %+v, want the refused finding", r.Denied)
				}
			}
			if len(r.Findings) == 0 && !strings.Contains(tt.name, "comment") {
				t.Error("no findings")
			}
		})
	}
}

func TestNetworkUse(t *testing.T) {
	tests := []struct{ code, want string }{
		{"import requests", "import requests, line 1"},
		{"x = 1\nfrom http.client import HTTPConnection", "from http import, line 2"},
		{"import os, \\\n  socket", "import socket, line 2"},
		{"httpx.get(u)", "httpx used, line 1"},
		{"import subprocess\nsubprocess.run(['/usr/bin/curl', u])", `import subprocess, line 1, running "curl" (line 2)`},
		{"os.popen('nc -z host 80')", `os.popen, line 1, running "nc" (line 1)`},
		{"importlib.import_module('urllib.request')", `import of "urllib.request", line 1`},
		{"import json\nrequests = None", ""},
		{"import os\nos.system('ls')", ""},
	}
	for _, tt := range tests {
		if got := Check(tt.code, nil, nil).NetworkUse; got != tt.want {
			t.Errorf("NetworkUse of %q = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestMessage(t *testing.T) {
	code := "import requests\n\nrequests.get(\"https://evil.test/x\")"
	r := Check(code, wildcardWithDeny.Egress(), blocksNothing)
	want := `Code refused before running: it contacts evil.test ("https://evil.test/x", line 3), which the operator's network policy denies: ` +
		`Connection to evil.test:443 refused: evil.test is not in the operator's allow list (network.allow). ` +
		`This backend cannot enforce that rule while the code runs, so the Airlock layer refuses the code instead; leave that destination out of the code.`
	if got := r.Message(); got != want {
		t.Errorf("Message() =\n%s\nwant\n%s", got, want)
	}
	if got := (Result{}).Message(); got != "" {
		t.Errorf("Message() without refusal = %q", got)
	}
	// The refusal never claims the rule is enforced while the code runs.
	if strings.Contains(r.Message(), "enforced while the code runs") {
		t.Errorf("Message() claims enforcement: %s", r.Message())
	}

	r = Check(code, policy.Network{}.Egress(), nil)
	want = `The Airlock pre-check found evil.test ("https://evil.test/x", line 3) in the code, which the operator's network policy denies: ` +
		`Connection to evil.test:443 refused: the operator's policy allows no network access from this sandbox (network.allow_egress is false).`
	if got := r.Note(); got != want {
		t.Errorf("Note() =\n%s\nwant\n%s", got, want)
	}
	if got := (Result{}).Note(); got != "" {
		t.Errorf("Note() without a denied finding = %q", got)
	}

	r = Check("import requests\nrequests.get('http://169.254.169.254/latest/meta-data')", policy.Network{AllowEgress: true}.Egress(), blocksNothing)
	if m := r.Message(); !strings.Contains(m, `it contacts 169.254.169.254 ("http://169.254.169.254/latest/meta-data", line 2)`) ||
		!strings.Contains(m, "169.254.169.254 is a cloud metadata address") {
		t.Errorf("Message() = %s", m)
	}
}

// TestEnforcement: the pre-check refuses only a denied destination the
// backend would let through, in code that uses the network. Where the
// backend enforces the policy (nil Enforcement), code that only mentions a
// URL, or that fails to connect at run time, is never refused; the denied
// finding is kept for a note.
func TestEnforcement(t *testing.T) {
	onlyEvil := Enforcement(func(f Finding) bool { return f.Host != "evil.test" })
	tests := []struct {
		name     string
		net      policy.Network
		enforced Enforcement
		code     string
		denied   string // the first denied finding's host, "" for none
		refused  string // the refused finding's host, "" for none
	}{
		{"urllib.parse only, default policy", egressOff, nil,
			`from urllib.parse import urlparse; print(urlparse("https://example.com/a").netloc)`, "example.com", ""},
		{"socket imported, a URL in a string", egressOff, nil,
			"import socket\nprint('see https://example.com/docs')", "example.com", ""},
		{"a real request to a denied host, enforced at run time", pypiOnly, nil,
			"import requests\nrequests.get('https://evil.test/x')", "evil.test", ""},
		{"the metadata address, enforced at run time", open, nil,
			"import urllib.request\nurllib.request.urlopen('http://169.254.169.254/')", "169.254.169.254", ""},
		{"denied findings the backend blocks are passed over", egressOff, onlyEvil,
			"import requests\nrequests.get('https://a.test/')\nrequests.get('https://evil.test/')", "a.test", "evil.test"},
		{"a finding the backend lets through is refused", egressOff, onlyEvil,
			"import requests\nrequests.get('https://evil.test/')", "evil.test", "evil.test"},
		{"never without network use", egressOff, blocksNothing,
			"DOCS = 'https://evil.test/docs'", "evil.test", ""},
		{"allowed findings are not asked about", pypiOnly, Enforcement(func(f Finding) bool { panic("asked about " + f.Host) }),
			"import requests\nrequests.get('https://pypi.org/simple/')", "", ""},
		{"loopback is neither denied nor refused", egressOff, blocksNothing,
			"import requests\nrequests.get('http://localhost:8000/')", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.code, tt.net.Egress(), tt.enforced)
			denied, refused := "", ""
			if r.Denied != nil {
				denied = r.Denied.Host
			}
			if r.Refused != nil {
				refused = r.Refused.Host
			}
			if denied != tt.denied || refused != tt.refused {
				t.Errorf("denied %q, refused %q; want %q, %q (findings %+v)", denied, refused, tt.denied, tt.refused, r.Findings)
			}
			if (r.Message() != "") != (refused != "") || (r.Note() != "") != (denied != "") {
				t.Errorf("Message() %q, Note() %q", r.Message(), r.Note())
			}
		})
	}
}

func TestFindingJSON(t *testing.T) {
	r := Check("import requests\nrequests.get('https://evil.test/x')", pypiOnly.Egress(), nil)
	b, err := json.Marshal(r.Denied)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"host":"evil.test","port":443,"source":"https://evil.test/x","line":2,"allowed":false,"rule":"network.allow (no rule matches)"}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant %s", b, want)
	}
}

// TestLimits: at most MaxFindings are kept, but a denied destination after
// them is still found and refused; Check decides at most maxDestinations.
func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("import requests\n")
	for i := range 100 {
		fmt.Fprintf(&b, "requests.get('https://h%d.example.com/')\n", i)
	}
	b.WriteString("requests.get('https://evil.test/')\n")
	r := Check(b.String(), wildcardWithDeny.Egress(), blocksNothing)
	if len(r.Findings) != MaxFindings || r.Findings[0].Host != "h0.example.com" || r.Findings[MaxFindings-1].Host != "h63.example.com" {
		t.Errorf("%d findings, first %v", len(r.Findings), r.Findings[0])
	}
	if r.Refused == nil || r.Refused.Host != "evil.test" || r.Refused.Line != 102 || r.Denied == nil || *r.Denied != *r.Refused {
		t.Errorf("Refused = %+v, Denied = %+v", r.Refused, r.Denied)
	}

	b.Reset()
	for i := range maxDestinations + 100 {
		fmt.Fprintf(&b, "'h%d.test'\n", i)
	}
	a := &analyzer{}
	a.run(b.String())
	if len(a.cands) != maxDestinations {
		t.Errorf("%d destinations kept", len(a.cands))
	}
}

// TestNilEgress: a nil policy is the default one, no network.
func TestNilEgress(t *testing.T) {
	r := Check("import socket\nH = 'evil.test'", nil, nil)
	if r.Denied == nil || r.Denied.Rule != "network.allow_egress: false" {
		t.Errorf("Denied = %+v", r.Denied)
	}
}

// TestAdversarial: inputs built to make a naive scanner slow or deep stay
// fast and bounded.
func TestAdversarial(t *testing.T) {
	const n = 1 << 20
	inputs := map[string]string{
		"nested f-strings": strings.Repeat(`f"{`, n/3),
		"nested brackets":  strings.Repeat("(", n),
		"many URLs":        `"` + strings.Repeat("http://a/", n/9) + `"`,
		"scheme chains":    `"` + strings.Repeat("a://", n/4) + `"`,
		"long scheme":      `"` + strings.Repeat("a", n) + `://evil.test"`,
		"long authority":   `"http://` + strings.Repeat("a.", n/2) + `"`,
		"long userinfo":    `"http://` + strings.Repeat("@", n) + `"`,
		"many literals":    strings.Repeat(`"a.test" `, n/9),
		"many ints":        strings.Repeat(`("a.test", 1)`, n/13),
		"backslashes":      `"` + strings.Repeat(`\`, n) + `"`,
		"unterminated":     strings.Repeat(`'''"`, n/4),
		"comments":         strings.Repeat("#'\n", n/3),
	}
	for name, code := range inputs {
		t.Run(name, func(t *testing.T) {
			r := Check(code, open.Egress(), blocksNothing)
			if len(r.Findings) > MaxFindings {
				t.Errorf("%d findings", len(r.Findings))
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"import requests\nrequests.get('https://evil.test:8443/x')",
		`socket.create_connection(("10.0.0.1", 22))`,
		`f"https://{h}:{p}/x" f'{f"{x!r:>{w}}"}' rb'\x00' '''`,
		"u = ('http://' 'pypi.org@evil.test')  # 'x'\n\"\"\"http://[::1]:80/\n",
		"\"http://0x7f.1/\\\n\" '\\N{DASH}' b\"\\u1234\" r'\\'",
		"x = '\xff\xfe://\x00.test'",
	} {
		f.Add(s)
	}
	net := policy.Network{AllowEgress: true,
		Allow: []policy.NetworkRule{{Host: "*.test"}, {CIDR: "10.0.0.0/8", Ports: []int{22}}},
		Deny:  []policy.NetworkRule{{Host: "evil.test", Ports: []int{443}}},
	}.Egress()
	f.Fuzz(func(t *testing.T, code string) {
		r := Check(code, net, blocksNothing)
		if len(r.Findings) > MaxFindings {
			t.Fatalf("%d findings", len(r.Findings))
		}
		lines := strings.Count(code, "\n") + 1
		for _, x := range r.Findings {
			if x.Host == "" || len(x.Source) > maxSource || !utf8.ValidString(x.Source) || x.Line < 1 || x.Line > lines ||
				x.Port < 0 || x.Port > 65535 || x.Allowed != x.Verdict.Allowed || x.Rule != x.Verdict.Rule {
				t.Fatalf("bad finding %+v", x)
			}
		}
		if (r.Refused != nil) != (r.Message() != "") || r.Refused != nil && (r.Refused.Allowed || r.NetworkUse == "" || r.Denied == nil) {
			t.Fatalf("bad refusal %+v", r)
		}
		if (r.Denied != nil) != (r.Note() != "") || r.Denied != nil && r.Denied.Allowed {
			t.Fatalf("bad denied finding %+v", r)
		}
	})
}
