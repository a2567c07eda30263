package egress

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
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
		Timeout: 30 * time.Second,
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
		rule     netrules.Rule
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
			p := startProxy(t, allowRules([]netrules.Rule{tc.rule}))
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
	p := startProxy(t, netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{host("v6.test", 443), {CIDR: "::1/128"}}})
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

func TestAllowedAddressesOnly(t *testing.T) {
	srv := newRawServer(t, echo)
	srvPort := strconv.Itoa(port(t, srv.addr()))
	t.Run("a name resolving to a denied and an allowed address", func(t *testing.T) {
		p := startProxy(t, allowRules([]netrules.Rule{host("mixed.test")}))
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
		p := startProxy(t, netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{host("fallback.test"), {CIDR: "127.0.0.0/8"}}})
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
	c.SetDeadline(time.Now().Add(30 * time.Second))
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
	p := startProxy(t, allowRules([]netrules.Rule{host("down.test"), host("unknown.test")}))
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
	srv := newRawServer(t, echo)
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
			p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}))
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
				// The hello reaches the server unchanged: it echoes it.
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				back := make([]byte, len(hello))
				if _, err := io.ReadFull(br, back); err != nil || string(back) != string(hello) {
					t.Fatalf("the server echoed %d bytes (%v), not the %d-byte hello", len(back), err, len(hello))
				}
			} else {
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
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
				if e.BytesOut != int64(len(hello)) || e.BytesIn != int64(len(hello)) {
					t.Errorf("bytes out %d, in %d, want the hello's %d both ways", e.BytesOut, e.BytesIn, len(hello))
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
			p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}))
			c, br, resp, _ := p.connect(t, "api.test:"+strconv.Itoa(port(t, tc.srv.addr())))
			if resp.StatusCode != 200 {
				t.Fatal(resp.Status)
			}
			if tc.greeting != "" {
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				line, err := br.ReadString('\n')
				if err != nil || line != tc.greeting {
					t.Fatalf("greeting %q, %v", line, err)
				}
			}
			if tc.send == "\x16\x03" {
				// Two bytes of what might be a TLS record header, and
				// the client's end of the stream: the proxy waits for the
				// rest of the header, which never comes, so nothing is
				// relayed (the echo server would send it back); the
				// unreadable hello is refused with a TLS alert.
				received := tc.srv.received.Load()
				io.WriteString(c, tc.send)
				c.(*net.TCPConn).CloseWrite()
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				if back, err := io.ReadAll(br); string(back) != string(alertAccessDenied) || err != nil {
					t.Errorf("got %q back (%v), want only the proxy's TLS alert", back, err)
				}
				if n := tc.srv.received.Load() - received; n != 0 {
					t.Errorf("upstream received %d bytes", n)
				}
				return
			}
			roundTrip(t, c, br, tc.send)
		})
	}
}
