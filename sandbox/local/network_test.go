//go:build linux

package local_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/egress"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// testResolver maps test hostnames to addresses; every other name does not
// exist. The proxy resolves with it, so no test touches real DNS.
type testResolver map[string][]netip.Addr

func (r testResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// networkFixture is a local backend whose sandboxes reach the network only
// through the Airlock proxy, and two servers on 127.0.0.1 to reach: one
// HTTPS (certificate for api.test and other.test), one plain HTTP.
type networkFixture struct {
	b                  *local.Backend
	caPEM              string
	tlsPort, plainPort int
	tlsHits, plainHits *int64
}

func newNetworkFixture(t *testing.T) *networkFixture {
	t.Helper()
	cert, caPEM := testCertificate(t, "api.test", "other.test")
	var tlsHits, plainHits int64
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsHits++
		fmt.Fprintf(w, "hello over TLS, host %s", r.Host)
	}))
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the SNI case aborts a handshake on purpose
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	plainSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits++
		fmt.Fprintf(w, "hello over HTTP, %s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(plainSrv.Close)

	loopback := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	n := netrules.Rules{AllowEgress: true}
	n.Allow = []netrules.Rule{
		{Host: "api.test"}, {Host: "other.test"}, {Host: "plain.test"}, {Host: "rebind.test"}, {Host: "private.test"},
		// The test servers listen on loopback, which only a cidr rule
		// inside 127.0.0.0/8 lifts.
		{CIDR: "127.0.0.1/32"},
	}
	n.Deny = []netrules.Rule{{Host: "denied.test"}}
	cfg := &egress.Config{
		Egress: n.Egress(),
		Resolver: testResolver{
			"api.test": loopback, "other.test": loopback, "plain.test": loopback, "denied.test": loopback,
			"rebind.test":  {netip.MustParseAddr("169.254.169.254")},
			"private.test": {netip.MustParseAddr("10.0.0.7")},
		},
		MaxConnections: 16,
		MaxBytes:       1 << 20,
	}
	b, err := local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON"), Network: cfg})
	if err != nil {
		t.Fatalf("local backend with network: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return &networkFixture{
		b: b, caPEM: caPEM,
		tlsPort: port(t, tlsSrv.URL), plainPort: port(t, plainSrv.URL),
		tlsHits: &tlsHits, plainHits: &plainHits,
	}
}

func port(t *testing.T, rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	var p int
	fmt.Sscan(u.Port(), &p)
	return p
}

// testCertificate is a self-signed certificate for names, and its PEM.
func testCertificate(t *testing.T, names ...string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestNetworkThroughTheProxy runs real Python (urllib, http.client, socket)
// in sandboxes whose only way out is the Airlock proxy, and checks what got
// through, what was refused with which explanation, and the ledger.
func TestNetworkThroughTheProxy(t *testing.T) {
	f := newNetworkFixture(t)
	prelude := fmt.Sprintf("import os, socket, ssl, urllib.request, urllib.error\nCTX = ssl.create_default_context(cadata=%q)\nTLS, PLAIN = %d, %d\n", f.caPEM, f.tlsPort, f.plainPort)
	tests := []struct {
		name   string
		code   string
		stdout []string // substrings
		ledger []string // "host:port method allowed|denied rule-substring"
	}{
		{"HTTPS to an allowed host",
			`print(urllib.request.urlopen(f"https://api.test:{TLS}/", context=CTX, timeout=10).read().decode())`,
			[]string{"hello over TLS, host api.test:"}, []string{"api.test CONNECT allowed network.allow[0]"}},
		{"plain HTTP to an allowed host",
			`print(urllib.request.urlopen(f"http://plain.test:{PLAIN}/x?y=1", timeout=10).read().decode())`,
			[]string{"hello over HTTP, GET /x"}, []string{"plain.test GET allowed network.allow[2]"}},
		{"HTTPS to a denied host: the 403 explains",
			`try:
    urllib.request.urlopen(f"https://denied.test:{TLS}/", context=CTX, timeout=10)
except Exception as e:
    print("ERR", e)`,
			[]string{"ERR", "Tunnel connection failed: 403 Airlock policy", "denied.test", "network.deny[0]"},
			[]string{"denied.test CONNECT denied network.deny[0]"}},
		{"plain HTTP to a host not in the allow list: 403 body says why",
			`try:
    urllib.request.urlopen(f"http://elsewhere.test:{PLAIN}/", timeout=10)
except urllib.error.HTTPError as e:
    print("HTTP", e.code, e.read().decode())`,
			[]string{"HTTP 403", "elsewhere.test", "not in the operator's allow list", "only the operator can change it"},
			[]string{"elsewhere.test GET denied no rule matches"}},
		{"an allowed name resolving to the metadata address is refused before dialling",
			`try:
    urllib.request.urlopen(f"https://rebind.test:{TLS}/", context=CTX, timeout=10)
except Exception as e:
    print("ERR", e)`,
			[]string{"ERR", "403", "cloud metadata"}, []string{"rebind.test CONNECT denied cloud metadata"}},
		{"an allowed name resolving to a private address is refused",
			`try:
    urllib.request.urlopen(f"http://private.test:{PLAIN}/", timeout=10)
except urllib.error.HTTPError as e:
    print("HTTP", e.code, e.read().decode())`,
			[]string{"HTTP 403", "private (RFC 1918)"}, []string{"private.test GET denied private"}},
		{"an IP literal without a cidr rule is refused",
			`try:
    urllib.request.urlopen("http://198.51.100.7/", timeout=10)
except urllib.error.HTTPError as e:
    print("HTTP", e.code, e.read().decode())`,
			[]string{"HTTP 403", "need a cidr rule"}, []string{"198.51.100.7 GET denied no cidr rule matches"}},
		{"TLS whose SNI differs from the CONNECT host is cut",
			`s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(f"CONNECT api.test:{TLS} HTTP/1.1\r\nHost: api.test:{TLS}\r\n\r\n".encode())
print("proxy:", s.recv(4096).split(b"\r\n")[0].decode())
try:
    t = CTX.wrap_socket(s, server_hostname="other.test")
    t.sendall(b"GET / HTTP/1.0\r\nHost: other.test\r\n\r\n")
    print("GOT", t.recv(4096))
except Exception as e:
    print("ERR", type(e).__name__)`,
			[]string{"proxy: HTTP/1.1 200", "ERR"}, []string{"api.test CONNECT denied sni check"}},
		{"no route around the proxy: raw TCP, DNS, UDP, IPv6",
			`for what, f in [
    ("tcp", lambda: socket.create_connection(("127.0.0.1", TLS), timeout=3)),
    ("dns", lambda: socket.getaddrinfo("api.test", 443)),
    ("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53))),
    ("tcp6", lambda: socket.create_connection(("::1", TLS), timeout=3)),
    ("public", lambda: socket.create_connection(("198.51.100.7", 80), timeout=3)),
]:
    try:
        f()
        print(what, "CONNECTED")
    except Exception as e:
        print(what, "blocked:", type(e).__name__)
print("proxy env:", os.environ.get("HTTPS_PROXY"), repr(os.environ.get("NO_PROXY")))`,
			[]string{"tcp blocked:", "dns blocked:", "udp blocked:", "tcp6 blocked:", "public blocked:", "proxy env: http://127.0.0.1:3128 ''"},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.b.Execute(context.Background(), sandbox.Request{Code: prelude + tt.code, Limits: limits()})
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if res.Status != sandbox.StatusOK {
				t.Fatalf("status %s: %s %s", res.Status, res.Stderr, res.Error)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(res.Stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, res.Stdout)
				}
			}
			if strings.Contains(res.Stdout, "CONNECTED") {
				t.Errorf("a connection bypassed the proxy:\n%s", res.Stdout)
			}
			if res.Network == nil || res.Network.Enforcement != sandbox.EnforcementProxy {
				t.Fatalf("network ledger = %+v, want enforcement %q", res.Network, sandbox.EnforcementProxy)
			}
			checkLedger(t, res.Network.Connections, tt.ledger)
		})
	}
}

// checkLedger checks that each want line ("host method allowed|denied
// rule-substring") matches one ledger entry, and that there are no others.
func checkLedger(t *testing.T, got []sandbox.Connection, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("ledger has %d entries, want %d: %+v", len(got), len(want), got)
		return
	}
	for i, w := range want {
		f := strings.SplitN(w, " ", 4)
		c := got[i]
		if c.Host != f[0] || c.Method != f[1] || c.Allowed != (f[2] == "allowed") || !strings.Contains(c.Rule+" "+c.Reason, f[3]) {
			t.Errorf("ledger[%d] = %+v, want %s", i, c, w)
		}
		if c.Allowed && (c.Address == "" || c.BytesIn == 0 || c.BytesOut == 0) {
			t.Errorf("ledger[%d]: allowed without address or bytes: %+v", i, c)
		}
		if !c.Allowed && c.Reason == "" {
			t.Errorf("ledger[%d]: denied without a reason: %+v", i, c)
		}
	}
}

// TestNetworkOffHasNoProxy: with no network policy the sandbox has no proxy
// and no proxy variables, and the ledger says "none".
func TestNetworkOffHasNoProxy(t *testing.T) {
	res := run(t, `import os, socket
print(sorted(k for k in os.environ if "proxy" in k.lower()))
try:
    socket.create_connection(("127.0.0.1", 3128), timeout=3)
    print("CONNECTED")
except OSError as e:
    print("blocked", type(e).__name__)`)
	if res.Status != sandbox.StatusOK || !strings.Contains(res.Stdout, "[]\nblocked") {
		t.Errorf("status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
	}
	if res.Network == nil || res.Network.Enforcement != sandbox.EnforcementNone || len(res.Network.Connections) != 0 {
		t.Errorf("ledger = %+v", res.Network)
	}
}
