package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// tlsServer is an HTTPS test server with the certificate for api.test.
func tlsServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	cert, _ := testCert()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// proxiedClient is an HTTP client using p as its proxy and trusting the
// test certificate.
func proxiedClient(p *proxy) *http.Client {
	_, pool := testCert()
	u, _ := url.Parse(p.url())
	return &http.Client{
		Transport: &http.Transport{
			Proxy:           http.ProxyURL(u),
			TLSClientConfig: &tls.Config{RootCAs: pool},
		},
		Timeout: 10 * time.Second,
	}
}

func TestHTTPSThroughConnect(t *testing.T) {
	srv := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s over %s", r.Host, r.Proto)
	}))
	srvPort := port(t, srv.Listener.Addr().String())
	for _, tc := range []struct {
		name     string
		url      string
		rule     policy.NetworkRule
		ruleName string
		address  string
	}{
		{"test server port", "https://api.test:" + strconv.Itoa(srvPort) + "/", host("api.test", srvPort),
			"network.allow[0] (host api.test, port " + strconv.Itoa(srvPort) + ")", "127.0.0.1:" + strconv.Itoa(srvPort)},
		{"port 443", "https://api.test/", host("api.test", 443),
			"network.allow[0] (host api.test, port 443)", "127.0.0.1:443"},
		{"wildcard rule", "https://api.test/", host("*.api.test", 443),
			"network.allow[0] (host *.api.test, port 443)", "127.0.0.1:443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, allowRules([]policy.NetworkRule{tc.rule}))
			p.d.remap["127.0.0.1:443"] = srv.Listener.Addr().String()
			c := proxiedClient(p)
			resp, err := c.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "hello from " + strings.TrimSuffix(strings.TrimPrefix(tc.url, "https://"), "/") + " over HTTP/1.1"; string(body) != want {
				t.Errorf("body %q, want %q", body, want)
			}
			c.CloseIdleConnections()
			l := p.Close()
			if len(l.Entries) != 1 {
				t.Fatalf("ledger %+v, want one entry", l)
			}
			e := l.Entries[0]
			if e.Method != "CONNECT" || e.Host != "api.test" || !e.Allowed || e.Rule != tc.ruleName ||
				e.Address != tc.address || e.Error != "" || e.Reason != "" {
				t.Errorf("entry %+v", e)
			}
			if e.BytesOut < 100 || e.BytesIn < 500 {
				t.Errorf("bytes out %d, in %d: too few for a TLS exchange", e.BytesOut, e.BytesIn)
			}
			if p.d.dials() != 1 {
				t.Errorf("%d dials, want 1", p.d.dials())
			}
		})
	}
}

func TestHTTPSThroughConnectIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "v6")
	}))
	srv.Listener.Close()
	srv.Listener = ln
	cert, _ := testCert()
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	p := startProxy(t, policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{host("v6.test", 443), {CIDR: "::1/128"}}})
	p.d.remap["[::1]:443"] = ln.Addr().String()
	c := proxiedClient(p)
	resp, err := c.Get("https://v6.test/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "v6" {
		t.Errorf("body %q", b)
	}
	c.CloseIdleConnections()
	if e := p.Close().Entries[0]; e.Address != "[::1]:443" || !e.Allowed {
		t.Errorf("entry %+v", e)
	}
}

func TestPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Proxy-Authenticate", "Basic realm=upstream")
		fmt.Fprintf(w, "%s %s host=%s body=%q ua=%q proxy-auth=%q proxy-conn=%q conn-header=%q",
			r.Method, r.RequestURI, r.Host, body, r.UserAgent(), r.Header.Get("Proxy-Authorization"),
			r.Header.Get("Proxy-Connection"), r.Header.Get("X-Private-Hop"))
	}))
	defer srv.Close()
	srvPort := strconv.Itoa(port(t, srv.Listener.Addr().String()))
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}))

	c, br := p.dial(t)
	exchange := func(raw string) (*http.Response, string) {
		t.Helper()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	// Two requests on one kept-alive client connection, each decided
	// and sent on a fresh upstream connection.
	resp, body := exchange("GET http://api.test:" + srvPort + "/path?q=1 HTTP/1.1\r\nHost: ignored.example\r\n" +
		"Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nConnection: X-Private-Hop\r\nX-Private-Hop: 1\r\n\r\n")
	want := `GET /path?q=1 host=api.test:` + srvPort + ` body="" ua="" proxy-auth="" proxy-conn="" conn-header=""`
	if resp.StatusCode != 200 || body != want {
		t.Errorf("first answer %s %q, want 200 %q", resp.Status, body, want)
	}
	if resp.Header.Get("Proxy-Authenticate") != "" || resp.Close {
		t.Errorf("hop-by-hop header leaked or connection not kept: %v", resp.Header)
	}
	resp, body = exchange("POST http://API.test:" + srvPort + "/submit HTTP/1.1\r\nHost: api.test\r\nUser-Agent: python-requests/2.32\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	want = `POST /submit host=API.test:` + srvPort + ` body="hello world" ua="python-requests/2.32" proxy-auth="" proxy-conn="" conn-header=""`
	if resp.StatusCode != 200 || body != want {
		t.Errorf("second answer %s %q, want 200 %q", resp.Status, body, want)
	}

	// A denied request on the same connection: 403, then the connection
	// closes.
	resp, body = exchange("GET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n")
	if resp.StatusCode != 403 ||
		resp.Status != "403 Airlock policy: connection to evil.test:80 refused by network.allow (no rule matches)" ||
		resp.Header.Get("X-Airlock-Rule") != "network.allow (no rule matches)" {
		t.Errorf("denial %q %v", resp.Status, resp.Header)
	}
	if !strings.Contains(body, "evil.test is not in the operator's allow list") || !strings.Contains(body, policyNote) {
		t.Errorf("denial body %q", body)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after a denial the connection should close; read: %v", err)
	}

	l := p.Close()
	if len(l.Entries) != 3 {
		t.Fatalf("ledger %+v", l)
	}
	for i, want := range []struct {
		method, host string
		allowed      bool
	}{{"GET", "api.test", true}, {"POST", "API.test", true}, {"GET", "evil.test", false}} {
		e := l.Entries[i]
		if e.Method != want.method || e.Host != want.host || e.Allowed != want.allowed {
			t.Errorf("entry %d: %+v", i, e)
		}
		if want.allowed && (e.Address != "127.0.0.1:"+srvPort || e.BytesOut == 0 || e.BytesIn == 0) {
			t.Errorf("entry %d: %+v", i, e)
		}
		if !want.allowed && (e.Address != "" || e.BytesOut != 0 || e.Reason == "") {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if p.d.dials() != 2 {
		t.Errorf("%d dials, want 2", p.d.dials())
	}
}

func TestPlainHTTPWithGoClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "1000")
			return
		}
		io.WriteString(w, strings.Repeat("x", 100000))
	}))
	defer srv.Close()
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}))
	c := proxiedClient(p)
	u := "http://api.test:" + strconv.Itoa(port(t, srv.Listener.Addr().String())) + "/"
	for range 3 {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 100000 {
			t.Errorf("got %d bytes", len(b))
		}
	}
	resp, err := c.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ContentLength != 1000 {
		t.Errorf("HEAD: content length %d", resp.ContentLength)
	}
	resp, err = c.Get("http://evil.test/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("denied: %s", resp.Status)
	}
	c.CloseIdleConnections()
	if s := p.Close().Summary(); s.Attempts != 5 || s.Allowed != 4 || s.Denied != 1 || s.BytesIn < 300000 {
		t.Errorf("summary %+v", s)
	}
}

func TestExpectContinueAndStreaming(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "second\n")
			return
		}
		b, _ := io.ReadAll(r.Body) // sends 100 Continue
		fmt.Fprintf(w, "got %q", b)
	}))
	defer srv.Close()
	defer close(release)
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}))
	u := "api.test:" + strconv.Itoa(port(t, srv.Listener.Addr().String()))

	c, br := p.dial(t)
	io.WriteString(c, "POST http://"+u+"/upload HTTP/1.1\r\nHost: "+u+"\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("want a 100 Continue before sending the body, got %q, %v", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("interim response not ended: %q", blank)
	}
	io.WriteString(c, "data")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `got "data"` {
		t.Errorf("body %q", b)
	}

	// A streamed response reaches the client as it comes.
	io.WriteString(c, "GET http://"+u+"/stream HTTP/1.1\r\nHost: "+u+"\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || first != "first\n" {
		t.Errorf("first chunk %q, %v", first, err)
	}
}

func TestDenials(t *testing.T) {
	srv := newRawServer(t, echo)
	srvPort := port(t, srv.addr())
	wildcardWithDeny := allowRules([]policy.NetworkRule{host("*.example.test")}, host("evil.example.test"))
	apiOnly := allowRules([]policy.NetworkRule{host("api.test", 443), host("rebind.test"), host("private.test"), host("cdn.test")},
		policy.NetworkRule{CIDR: "203.0.113.0/24"})
	noLoopback := policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{host("api.test")}}
	for _, tc := range []struct {
		name   string
		policy policy.Network
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
		{"IPv6 metadata literal", policy.Network{AllowEgress: true}, "[fd00:ec2::254]:80",
			"Airlock policy: connection to [fd00:ec2::254]:80 refused by built-in deny (cloud metadata fd00:ec2::254/128)",
			"built-in deny (cloud metadata fd00:ec2::254/128)", "cloud metadata"},
		{"IPv4-mapped IPv6 loopback", policy.Network{AllowEgress: true}, "[::ffff:127.0.0.1]:80",
			"Airlock policy: connection to [::ffff:127.0.0.1]:80 refused by built-in deny (loopback 127.0.0.0/8)",
			"built-in deny (loopback 127.0.0.0/8)", "loopback"},
		{"egress off", policy.Network{}, "api.test:443",
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
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
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
	p := startProxy(t, allowRules([]policy.NetworkRule{host("*.example.test")}, host("evil.example.test")))
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

func TestAllowedAddressesOnly(t *testing.T) {
	srv := newRawServer(t, echo)
	srvPort := strconv.Itoa(port(t, srv.addr()))
	t.Run("a name resolving to a denied and an allowed address", func(t *testing.T) {
		p := startProxy(t, allowRules([]policy.NetworkRule{host("mixed.test")}))
		c, br, resp, _ := p.connect(t, "mixed.test:"+srvPort)
		if resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		roundTrip(t, c, br, "ping")
		if p.d.dials() != 1 || p.d.addrs[0] != "127.0.0.1:"+srvPort {
			t.Errorf("dialled %v", p.d.addrs)
		}
	})
	t.Run("the next checked address after a failed dial", func(t *testing.T) {
		p := startProxy(t, policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{host("fallback.test"), {CIDR: "127.0.0.0/8"}}})
		c, br, resp, _ := p.connect(t, "fallback.test:"+srvPort)
		if resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		roundTrip(t, c, br, "ping")
		if p.d.dials() != 2 || p.d.addrs[0] != "127.0.0.2:"+srvPort || p.d.addrs[1] != "127.0.0.1:"+srvPort {
			t.Errorf("dialled %v", p.d.addrs)
		}
		c.Close()
		if e := p.Close().Entries[0]; e.Address != "127.0.0.1:"+srvPort || e.Error != "" {
			t.Errorf("entry %+v", e)
		}
	})
	t.Run("an IP literal with a cidr rule", func(t *testing.T) {
		p := startProxy(t, allowRules(nil))
		c, br, resp, _ := p.connect(t, "127.0.0.1:"+srvPort)
		if resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		roundTrip(t, c, br, "ping")
		c.Close()
		if e := p.Close().Entries[0]; !e.Allowed || e.Host != "127.0.0.1" || e.Address != "127.0.0.1:"+srvPort ||
			e.Rule != "network.allow[0] (cidr 127.0.0.1/32, every port)" || e.BytesIn != 4 || e.BytesOut != 4 {
			t.Errorf("entry %+v", e)
		}
	})
}

// roundTrip sends msg through a tunnel to an echo server and reads it back.
func roundTrip(t testing.TB, c net.Conn, br *bufio.Reader, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo %q, %v", buf, err)
	}
}

func TestUpstreamFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := strconv.Itoa(port(t, ln.Addr().String()))
	ln.Close()
	p := startProxy(t, allowRules([]policy.NetworkRule{host("down.test"), host("unknown.test")}))
	for _, tc := range []struct {
		target, phrase, errText string
	}{
		{"down.test:" + closedPort, "Airlock proxy: connection to down.test:" + closedPort + " failed: connect: connection refused", "dial 127.0.0.1:" + closedPort},
		{"unknown.test:443", "Airlock proxy: cannot resolve unknown.test", "resolve unknown.test"},
	} {
		_, _, resp, body := p.connect(t, tc.target)
		if resp.StatusCode != 502 || resp.Status != "502 "+tc.phrase {
			t.Errorf("status %q, want 502 %s", resp.Status, tc.phrase)
		}
		if body == "" || strings.Contains(body, "policy") {
			t.Errorf("body %q", body)
		}
	}
	l := p.Close()
	for i, e := range l.Entries {
		if !e.Allowed || !strings.HasPrefix(e.Error, []string{"dial 127.0.0.1:" + closedPort, "resolve unknown.test"}[i]) || e.Reason == "" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if s := l.Summary(); s.Failed != 2 || s.Allowed != 2 {
		t.Errorf("summary %+v", s)
	}
}

func TestSNICheck(t *testing.T) {
	srv := newRawServer(t, nil)
	tlsSrv := newRawServer(t, echo)
	for _, tc := range []struct {
		name       string
		target     string // CONNECT target; port 443 is sent to srv
		serverName string // the client's SNI; "-" sends plain text
		allowed    bool
		reason     []string
	}{
		{"SNI of another name", "api.test:443", "other.test", false, []string{`SNI) "other.test" is not the CONNECT host api.test`}},
		{"no SNI for a name", "api.test:443", "", false, []string{"names no server (SNI)", "api.test"}},
		{"not TLS on port 443", "api.test:443", "-", false, []string{"did not start a TLS handshake"}},
		{"SNI of an IP literal's other name", "127.0.0.1:443", "api.test", false, []string{`"api.test" is not the CONNECT host 127.0.0.1`}},
		{"SNI mismatch on another port", "api.test:" + strconv.Itoa(port(t, tlsSrv.addr())), "other.test", false, []string{`"other.test"`}},
		{"matching SNI", "api.test:443", "api.test", true, nil},
		{"matching SNI, other case", "api.test:443", "API.Test", true, nil},
		{"no SNI for an IP literal", "127.0.0.1:443", "", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}))
			p.d.remap["127.0.0.1:443"] = srv.addr()
			before := srv.received.Load() + tlsSrv.received.Load()
			c, br, resp, _ := p.connect(t, tc.target)
			if resp.StatusCode != 200 {
				t.Fatal(resp.Status)
			}
			var hello []byte
			if tc.serverName == "-" {
				hello = []byte("GET / HTTP/1.1\r\nHost: api.test\r\n\r\n")
			} else {
				hello = clientHelloBytes(t, &tls.Config{ServerName: tc.serverName, InsecureSkipVerify: true})
			}
			c.Write(hello)
			if tc.allowed {
				// The hello reaches the server, unchanged in length.
				for deadline := time.Now().Add(5 * time.Second); srv.received.Load()-before < int64(len(hello)); {
					if time.Now().After(deadline) {
						t.Fatalf("upstream received %d bytes of the %d-byte hello", srv.received.Load()-before, len(hello))
					}
					time.Sleep(time.Millisecond)
				}
			} else {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				rest, _ := io.ReadAll(br)
				if tc.serverName != "-" && string(rest) != string(alertAccessDenied) {
					t.Errorf("client got %x, want a TLS access_denied alert", rest)
				}
				if got := srv.received.Load() + tlsSrv.received.Load() - before; got != 0 {
					t.Errorf("upstream received %d bytes after a refused hello", got)
				}
			}
			c.Close()
			l := p.Close()
			if len(l.Entries) != 1 {
				t.Fatalf("ledger %+v", l)
			}
			e := l.Entries[0]
			if e.Allowed != tc.allowed {
				t.Errorf("entry %+v, want allowed %v", e, tc.allowed)
			}
			if tc.allowed {
				if e.BytesOut != int64(len(hello)) {
					t.Errorf("bytes out %d, want the hello's %d", e.BytesOut, len(hello))
				}
				return
			}
			if e.Rule != "sni check" || e.BytesOut != 0 || e.BytesIn != 0 || e.Address == "" {
				t.Errorf("entry %+v", e)
			}
			for _, r := range tc.reason {
				if !strings.Contains(e.Reason, r) {
					t.Errorf("reason %q lacks %q", e.Reason, r)
				}
			}
		})
	}
}

func TestConnectionLimit(t *testing.T) {
	srv := newRawServer(t, echo)
	target := "api.test:" + strconv.Itoa(port(t, srv.addr()))
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}), func(c *Config) { c.MaxConnections = 2 })
	for i := range 2 {
		c, br, resp, _ := p.connect(t, target)
		if resp.StatusCode != 200 {
			t.Fatalf("connection %d: %s", i+1, resp.Status)
		}
		roundTrip(t, c, br, "hi")
		if i == 0 {
			c.Close() // a closed connection still counts
		}
	}
	// A denial does not use up the limit, but the third connection is
	// refused.
	if _, _, resp, _ := p.connect(t, "evil.test:443"); resp.Header.Get("X-Airlock-Rule") != "network.allow (no rule matches)" {
		t.Errorf("denial: %s", resp.Status)
	}
	_, _, resp, body := p.connect(t, target)
	if resp.StatusCode != 403 || resp.Status != "403 Airlock policy: connection to "+target+" refused by proxy limit: at most 2 connections per call" ||
		resp.Header.Get("X-Airlock-Rule") != "proxy limit" {
		t.Errorf("third connection: %q %v", resp.Status, resp.Header)
	}
	if !strings.Contains(body, "at most 2 connections per call") {
		t.Errorf("body %q", body)
	}
	if p.d.dials() != 2 {
		t.Errorf("%d dials", p.d.dials())
	}
	l := p.Close()
	if e := l.Entries[3]; e.Allowed || e.Rule != "proxy limit" || !strings.Contains(e.Reason, "at most 2 connections") {
		t.Errorf("entry %+v", e)
	}
}

func TestByteLimit(t *testing.T) {
	const limit = 64 << 10
	big := newRawServer(t, func(c net.Conn) {
		chunk := make([]byte, 16<<10)
		for range 64 { // 1 MiB
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	idle := newRawServer(t, echo)
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}), func(c *Config) { c.MaxBytes = limit })

	// An idle tunnel, then a download that exceeds the limit: both end.
	idleConn, idleBr, resp, _ := p.connect(t, "api.test:"+strconv.Itoa(port(t, idle.addr())))
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	roundTrip(t, idleConn, idleBr, "ping")
	c, br, resp, _ := p.connect(t, "api.test:"+strconv.Itoa(port(t, big.addr())))
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, br)
	if n != limit-8 {
		t.Errorf("downloaded %d bytes, want the %d left of the limit", n, limit-8)
	}
	idleConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idleBr.ReadByte(); err == nil {
		t.Error("the idle tunnel was not closed")
	}
	// New connections are refused.
	_, _, resp, body := p.connect(t, "api.test:"+strconv.Itoa(port(t, idle.addr())))
	if resp.StatusCode != 403 || !strings.Contains(resp.Status, "refused by proxy limit: at most 65536 bytes per call (reached)") {
		t.Errorf("after the limit: %s", resp.Status)
	}
	if !strings.Contains(body, "relays at most 65536 bytes per call") {
		t.Errorf("body %q", body)
	}
	l := p.Close()
	if len(l.Entries) != 3 {
		t.Fatalf("ledger %+v", l)
	}
	for _, e := range l.Entries[:2] {
		if !e.Allowed || !strings.Contains(e.Error, "at most 65536 bytes per call") || !strings.Contains(e.Reason, "65536 bytes") {
			t.Errorf("entry %+v", e)
		}
	}
	if s := l.Summary(); s.BytesIn+s.BytesOut != limit {
		t.Errorf("relayed %d bytes, want exactly the limit %d", s.BytesIn+s.BytesOut, limit)
	}
	if e := l.Entries[2]; e.Allowed || e.Rule != "proxy limit" {
		t.Errorf("entry %+v", e)
	}
}

func TestByteLimitPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 1<<20))
	}))
	defer srv.Close()
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}), func(c *Config) { c.MaxBytes = 100 << 10 })
	c := proxiedClient(p)
	resp, err := c.Get("http://api.test:" + strconv.Itoa(port(t, srv.Listener.Addr().String())) + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= 100<<10 {
		t.Errorf("read %d bytes, err %v: the download should be cut", n, err)
	}
	if e := p.Close().Entries[0]; !strings.Contains(e.Error, "at most 102400 bytes per call") || e.BytesIn+e.BytesOut != 100<<10 {
		t.Errorf("entry %+v", e)
	}
}

func TestCloseWithOpenTunnel(t *testing.T) {
	srv := newRawServer(t, echo)
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}))
	before := runtime.NumGoroutine()
	c, br, resp, _ := p.connect(t, "api.test:"+strconv.Itoa(port(t, srv.addr())))
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	roundTrip(t, c, br, "ping")
	// An idle client connection, and one half-way through a header.
	idle, _ := net.Dial("tcp", p.addr)
	defer idle.Close()
	partial, _ := net.Dial("tcp", p.addr)
	defer partial.Close()
	io.WriteString(partial, "GET http://api.test/ HTTP/1.1\r\n")
	time.Sleep(50 * time.Millisecond)
	if snap := p.Snapshot(); len(snap.Entries) != 1 || snap.Entries[0].BytesIn != 4 {
		t.Errorf("snapshot %+v", snap)
	}

	start := time.Now()
	l := p.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if len(l.Entries) != 1 || l.Entries[0].BytesOut != 4 || l.Entries[0].BytesIn != 4 || !l.Entries[0].Allowed {
		t.Errorf("ledger %+v", l)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Error("the client side of the tunnel is still open")
	}
	srv.waitEnded(t) // the upstream side was closed
	if l2 := p.Close(); fmt.Sprint(l2) != fmt.Sprint(l) {
		t.Errorf("second Close returned %+v", l2)
	}
	if _, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		t.Error("the listener is still open")
	}
	// Every goroutine of the session has returned (a goroutine that has
	// just called WaitGroup.Done may still be on its way out).
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "sandbox/egress.(*Session)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session goroutines left after Close:\n%s", stacks)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Logf("goroutines: %d before, %d after (test servers included)", before, after)
	}
}

func TestBadRequests(t *testing.T) {
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}))
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
	r := policyRefusal(target{name: "x.test", port: 443}, policy.Verdict{Rule: "rule\r\nX-Injected: 1 é" + strings.Repeat("z", 500)})
	b := string(r.bytes())
	status, _, _ := strings.Cut(b, "\r\n")
	if len(status) > 13+maxPhrase || strings.ContainsAny(status, "\r\né") || strings.Contains(b, "\r\nX-Injected") {
		t.Errorf("status line %q", status)
	}
}

func TestLedgerKeepsTheFirstEntries(t *testing.T) {
	p := startProxy(t, allowRules(nil))
	for range maxEntries + 4 {
		p.connect(t, "evil.test:443")
	}
	l := p.Close()
	if len(l.Entries) != maxEntries || l.Dropped != 4 {
		t.Errorf("%d entries, %d dropped", len(l.Entries), l.Dropped)
	}
	s := l.Summary()
	if s.Attempts != maxEntries+4 || s.Denied != maxEntries {
		t.Errorf("summary %+v", s)
	}
	if got, want := s.String(), "260 connection attempts: 0 allowed, 256 denied, 4 not recorded; 0 bytes out, 0 bytes in"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

// blockingResolver blocks until the session ends, then takes a moment to
// return.
type blockingResolver struct {
	started  chan struct{}
	returned atomic.Bool
}

func (r *blockingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	close(r.started)
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	r.returned.Store(true)
	return nil, ctx.Err()
}

func TestCloseWaitsForHandlers(t *testing.T) {
	r := &blockingResolver{started: make(chan struct{})}
	p := startProxy(t, allowRules([]policy.NetworkRule{host("slow.test")}), func(c *Config) { c.Resolver = r })
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "CONNECT slow.test:443 HTTP/1.1\r\n\r\n")
	<-r.started
	l := p.Close()
	if !r.returned.Load() {
		t.Error("Close returned before the request's handler")
	}
	if len(l.Entries) != 1 || l.Entries[0].Error != "resolve slow.test: the call ended" {
		t.Errorf("ledger %+v", l)
	}
}

func TestTunnelProtocols(t *testing.T) {
	greeter := newRawServer(t, func(c net.Conn) {
		io.WriteString(c, "220 ready\r\n")
		echo(c)
	})
	echoer := newRawServer(t, echo)
	for _, tc := range []struct {
		name     string
		srv      *rawServer
		greeting string // what the server says first
		send     string
	}{
		{"the server speaks first", greeter, "220 ready\r\n", "EHLO x\r\n"},
		{"one byte, then waiting for the answer", echoer, "", "\x01"},
		{"a first byte like TLS's, then not TLS", echoer, "", "\x16\x01\x02\x03\x04\x05"},
		{"the start of a TLS record header only", echoer, "", "\x16\x03"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}))
			c, br, resp, _ := p.connect(t, "api.test:"+strconv.Itoa(port(t, tc.srv.addr())))
			if resp.StatusCode != 200 {
				t.Fatal(resp.Status)
			}
			if tc.greeting != "" {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				line, err := br.ReadString('\n')
				if err != nil || line != tc.greeting {
					t.Fatalf("greeting %q, %v", line, err)
				}
			}
			if tc.send == "\x16\x03" {
				// Two bytes of what might be a TLS record header: the
				// proxy waits for the rest (bounded by helloTimeout), so
				// nothing comes back yet.
				io.WriteString(c, tc.send)
				c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if _, err := br.ReadByte(); err == nil {
					t.Error("bytes relayed before the record header was complete")
				}
				return
			}
			roundTrip(t, c, br, tc.send)
		})
	}
}

func TestPlainHTTPEdgeCases(t *testing.T) {
	garbage := newRawServer(t, func(c net.Conn) {
		io.WriteString(c, "SSH-2.0-not-http\r\n")
	})
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part one, ")
		w.(http.Flusher).Flush() // forces a chunked response
		io.WriteString(w, "part two")
	}))
	defer chunked.Close()
	p := startProxy(t, allowRules([]policy.NetworkRule{host("api.test")}))
	exchange := func(raw string) (*http.Response, string, error) {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, raw)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		_, after := br.ReadByte()
		return resp, string(b), after
	}

	target := "api.test:" + strconv.Itoa(port(t, garbage.addr()))
	resp, body, _ := exchange("GET http://" + target + "/ HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
	if resp.StatusCode != 502 || resp.Status != "502 Airlock proxy: no valid response from "+target ||
		!strings.Contains(body, "sent no valid HTTP response") {
		t.Errorf("garbage upstream: %q %q", resp.Status, body)
	}

	// An HTTP/1.0 client gets the chunked body unchunked, and the
	// connection closes after it.
	target = "api.test:" + strconv.Itoa(port(t, chunked.Listener.Addr().String()))
	resp, body, after := exchange("GET http://" + target + "/ HTTP/1.0\r\n\r\n")
	if resp.StatusCode != 200 || body != "part one, part two" || len(resp.TransferEncoding) != 0 || after != io.EOF {
		t.Errorf("HTTP/1.0: %s %q %v, then %v", resp.Status, body, resp.TransferEncoding, after)
	}
	l := p.Close()
	if e := l.Entries[0]; !e.Allowed || !strings.HasPrefix(e.Error, "read upstream: ") {
		t.Errorf("entry %+v", e)
	}
}
