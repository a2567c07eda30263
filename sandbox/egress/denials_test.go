package egress

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

func TestDenials(t *testing.T) {
	srv := newRawServer(t, echo)
	srvPort := port(t, srv.addr())
	wildcardWithDeny := allowRules([]netrules.Rule{host("*.example.test")}, host("evil.example.test"))
	apiOnly := allowRules([]netrules.Rule{host("api.test", 443), host("rebind.test"), host("private.test"), host("cdn.test")},
		netrules.Rule{CIDR: "203.0.113.0/24"})
	noLoopback := netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{host("api.test")}}
	for _, tc := range []struct {
		name   string
		policy netrules.Rules
		target string
		phrase string // the status line's reason phrase
		rule   string
		reason string // in the body
	}{
		{"deny rule over wildcard allow", wildcardWithDeny, "evil.example.test:443",
			"Airlock policy: connection to evil.example.test:443 refused by network.deny[0] (host evil.example.test, every port)",
			"network.deny[0] (host evil.example.test, every port)", "refused by the operator's policy rule network.deny[0]"},
		{"deny rule matches any case", wildcardWithDeny, "EVIL.example.Test.:443",
			"Airlock policy: connection to evil.example.test:443 refused by network.deny[0] (host evil.example.test, every port)",
			"network.deny[0] (host evil.example.test, every port)", "evil.example.test:443"},
		{"not in the allow list", apiOnly, "elsewhere.example:443",
			"Airlock policy: connection to elsewhere.example:443 refused by network.allow (no rule matches)",
			"network.allow (no rule matches)", "elsewhere.example is not in the operator's allow list"},
		{"port not allowed", apiOnly, "api.test:22",
			"Airlock policy: connection to api.test:22 refused by network.allow[0] (host api.test, port 443)",
			"network.allow[0] (host api.test, port 443)", "api.test is allowed only on port 443"},
		{"rebinding to cloud metadata", apiOnly, "rebind.test:443",
			"Airlock policy: connection to rebind.test:443 refused by built-in deny (cloud metadata 169.254.169.254/32)",
			"built-in deny (cloud metadata 169.254.169.254/32)", "169.254.169.254 is a cloud metadata address"},
		{"rebinding to a private address", apiOnly, "private.test:443",
			"Airlock policy: connection to private.test:443 refused by built-in deny (private (RFC 1918) 10.0.0.0/8)",
			"built-in deny (private (RFC 1918) 10.0.0.0/8)", "private.test:443 (10.0.0.7)"},
		{"resolved address in a deny cidr", apiOnly, "cdn.test:443",
			"Airlock policy: connection to cdn.test:443 refused by network.deny[0] (cidr 203.0.113.0/24, every port)",
			"network.deny[0] (cidr 203.0.113.0/24, every port)", "cdn.test:443 (203.0.113.9)"},
		{"IP literal without a cidr rule", apiOnly, "198.51.100.7:443",
			"Airlock policy: connection to 198.51.100.7:443 refused by network.allow (no cidr rule matches)",
			"network.allow (no cidr rule matches)", "need a cidr rule"},
		{"loopback literal without a lift", noLoopback, "127.0.0.1:" + strconv.Itoa(srvPort),
			"Airlock policy: connection to 127.0.0.1:" + strconv.Itoa(srvPort) + " refused by built-in deny (loopback 127.0.0.0/8)",
			"built-in deny (loopback 127.0.0.0/8)", "127.0.0.1 is a loopback address"},
		{"IPv6 metadata literal", netrules.Rules{AllowEgress: true}, "[fd00:ec2::254]:80",
			"Airlock policy: connection to [fd00:ec2::254]:80 refused by built-in deny (cloud metadata fd00:ec2::254/128)",
			"built-in deny (cloud metadata fd00:ec2::254/128)", "cloud metadata"},
		{"IPv4-mapped IPv6 loopback", netrules.Rules{AllowEgress: true}, "[::ffff:127.0.0.1]:80",
			"Airlock policy: connection to [::ffff:127.0.0.1]:80 refused by built-in deny (loopback 127.0.0.0/8)",
			"built-in deny (loopback 127.0.0.0/8)", "loopback"},
		{"egress off", netrules.Rules{}, "api.test:443",
			"Airlock policy: connection to api.test:443 refused by network.allow_egress: false",
			"network.allow_egress: false", "allows no network access"},
		{"not a hostname", apiOnly, "bad_na!me:443",
			"Airlock policy: connection to bad_na!me:443 refused by hostname syntax",
			"hostname syntax", "is not a valid hostname"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, tc.policy)
			c, br, resp, body := p.connect(t, tc.target)
			if resp.StatusCode != 403 || resp.Status != "403 "+tc.phrase {
				t.Errorf("status line %q\nwant        %q", resp.Status, "403 "+tc.phrase)
			}
			if got := resp.Header.Get("X-Airlock-Rule"); got != tc.rule {
				t.Errorf("X-Airlock-Rule %q, want %q", got, tc.rule)
			}
			if !strings.Contains(body, tc.reason) || !strings.HasSuffix(body, policyNote+"\n") || strings.Count(body, "\n") != 2 {
				t.Errorf("body %q lacks %q or the note", body, tc.reason)
			}
			if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !resp.Close {
				t.Errorf("headers %v", resp.Header)
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("the connection should close after a denial: %v", err)
			}
			if n := p.d.dials(); n != 0 {
				t.Errorf("%d dials for a refused connection", n)
			}
			l := p.Close()
			if len(l.Entries) != 1 {
				t.Fatalf("ledger %+v", l)
			}
			e := l.Entries[0]
			if e.Allowed || e.Rule != tc.rule || !strings.Contains(e.Reason, tc.reason) || e.Method != "CONNECT" || e.Address != "" {
				t.Errorf("entry %+v", e)
			}
		})
	}
}

func TestPythonSeesTheReason(t *testing.T) {
	python, err := lookPython()
	if err != nil {
		t.Skip(err)
	}
	p := startProxy(t, allowRules([]netrules.Rule{host("*.example.test")}, host("evil.example.test")))
	script := `
import http.client, sys
c = http.client.HTTPSConnection("127.0.0.1", ` + strconv.Itoa(port(t, p.addr)) + `, timeout=10)
c.set_tunnel("evil.example.test", 443)
try:
    c.connect()
except OSError as e:
    print(e)
`
	out, err := runPython(python, script)
	if err != nil {
		t.Fatal(err, out)
	}
	want := "Tunnel connection failed: 403 Airlock policy: connection to evil.example.test:443 refused by network.deny[0] (host evil.example.test, every port)"
	if strings.TrimSpace(out) != want {
		t.Errorf("python said %q\nwant %q", out, want)
	}
}

func TestBadRequests(t *testing.T) {
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}))
	for _, tc := range []struct {
		name, raw string
		status    int
		phrase    string
	}{
		{"garbage", "hello\r\n\r\n", 400, "Airlock proxy: malformed request"},
		{"binary garbage", "\x00\x01\x02\xff\r\n\r\n", 400, "Airlock proxy: malformed request"},
		{"origin form", "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n", 400, "Airlock proxy: not a proxy request"},
		{"https URL", "GET https://api.test/ HTTP/1.1\r\nHost: api.test\r\n\r\n", 400, "Airlock proxy: use CONNECT for https"},
		{"unsupported method", "TRACE http://api.test/ HTTP/1.1\r\nHost: api.test\r\n\r\n", 405, "Airlock proxy: method TRACE not supported"},
		{"CONNECT without port", "CONNECT api.test HTTP/1.1\r\n\r\n", 400, "Airlock proxy: CONNECT needs host:port"},
		{"CONNECT to port 0", "CONNECT api.test:0 HTTP/1.1\r\n\r\n", 400, "Airlock proxy: bad CONNECT target"},
		{"CONNECT with a path", "CONNECT /rpc HTTP/1.1\r\n\r\n", 400, "Airlock proxy: CONNECT needs host:port"},
		{"bad port", "GET http://api.test:99999/ HTTP/1.1\r\n\r\n", 400, "Airlock proxy: bad URL"},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "Airlock proxy: HTTP/1.x only"},
		{"TLS to the proxy", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "Airlock proxy: TLS sent to a plain HTTP proxy"},
		{"header too large", "GET http://api.test/ HTTP/1.1\r\nX: " + strings.Repeat("a", 70000) + "\r\n\r\n", 431, "Airlock proxy: request header too large"},
		{"CR LF in a CONNECT host", "CONNECT a\rb.test:443 HTTP/1.1\r\n\r\n", 400, ""},
		{"non-ASCII CONNECT host", "CONNECT \u212Api.test:443 HTTP/1.1\r\n\r\n", 400, "Airlock proxy: bad CONNECT target"},
		{"non-ASCII URL host", "GET http://\u212Api.test/ HTTP/1.1\r\n\r\n", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := p.dial(t)
			go io.WriteString(c, tc.raw)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || (tc.phrase != "" && resp.Status != strconv.Itoa(tc.status)+" "+tc.phrase) {
				t.Errorf("got %q, want %d %s", resp.Status, tc.status, tc.phrase)
			}
			if len(b) == 0 || !resp.Close {
				t.Errorf("body %q, close %v", b, resp.Close)
			}
		})
	}
	if p.d.dials() != 0 {
		t.Errorf("%d dials", p.d.dials())
	}
}

func TestReasonPhraseIsSafe(t *testing.T) {
	r := policyRefusal(target{name: "x.test", port: 443}, netrules.Verdict{Rule: "rule\r\nX-Injected: 1 é" + strings.Repeat("z", 500)})
	b := string(r.bytes())
	status, _, _ := strings.Cut(b, "\r\n")
	if len(status) > 13+maxPhrase || strings.ContainsAny(status, "\r\né") || strings.Contains(b, "\r\nX-Injected") {
		t.Errorf("status line %q", status)
	}
}
