package egress

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// testResolver resolves the test names; anything else is not found.
type testResolver map[string][]string

func (r testResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

// names is the resolver every test uses.
var names = testResolver{
	"api.test":          {"127.0.0.1"},
	"other.test":        {"127.0.0.1"},
	"evil.test":         {"127.0.0.1"},
	"evil.example.test": {"127.0.0.1"},
	"www.example.test":  {"127.0.0.1"},
	"down.test":         {"127.0.0.1"},
	"rebind.test":       {"169.254.169.254"},
	"private.test":      {"10.0.0.7"},
	"cdn.test":          {"203.0.113.9"},
	"mixed.test":        {"10.0.0.7", "127.0.0.1"},
	"fallback.test":     {"127.0.0.2", "127.0.0.1"},
	"v6.test":           {"::1"},
}

// dialer counts dials and can send a dialled address elsewhere (the tests
// reach "port 443" on a test server's random port that way).
type dialer struct {
	mu     sync.Mutex
	count  int
	addrs  []string
	remap  map[string]string
	dialer net.Dialer
}

func (d *dialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.count++
	d.addrs = append(d.addrs, addr)
	to := addr
	if r, ok := d.remap[addr]; ok {
		to = r
	}
	d.mu.Unlock()
	return d.dialer.DialContext(ctx, network, to)
}

func (d *dialer) dials() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.count
}

// proxy is a session under test.
type proxy struct {
	*Session
	addr     string        // host:port of the proxy
	d        *dialer       //
	admitted chan struct{} // receives when a client connection is admitted
	released chan struct{} // receives when a client connection's place is freed
}

// events is the buffer of proxy.admitted and proxy.released: more than
// any test opens connections.
const events = 4096

// loopback lifts the built-in loopback deny for the tests' servers.
var loopback = netrules.Rule{CIDR: "127.0.0.1/32"}

// allowRules is an egress policy with these allow rules (and the loopback
// lift) and deny rules.
func allowRules(allow []netrules.Rule, deny ...netrules.Rule) netrules.Rules {
	return netrules.Rules{AllowEgress: true, Allow: append(allow, loopback), Deny: deny}
}

// host is an allow rule for name on ports.
func host(name string, ports ...int) netrules.Rule {
	return netrules.Rule{Host: name, Ports: ports}
}

// startProxy serves a session on a loopback listener; it is closed when
// the test ends.
func startProxy(t testing.TB, n netrules.Rules, tweak ...func(*Config)) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dialer{remap: map[string]string{}}
	p := &proxy{addr: ln.Addr().String(), d: d, admitted: make(chan struct{}, events), released: make(chan struct{}, events)}
	notify := func(ch chan struct{}) func() {
		return func() {
			select {
			case ch <- struct{}{}:
			default: // nobody counts (benchmarks)
			}
		}
	}
	cfg := Config{Egress: n.Egress(), Resolver: names, Dial: d.Dial,
		hooks: &testHooks{admitted: notify(p.admitted), released: notify(p.released)}}
	for _, f := range tweak {
		f(&cfg)
	}
	p.Session = Serve(ln, cfg)
	t.Cleanup(func() { p.Session.Close() })
	return p
}

// wait waits for n events on ch (admitted or released client
// connections), failing the test after a generous safety net.
func (p *proxy) wait(t testing.TB, ch chan struct{}, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("waited for %d client connection events, saw %d", n, i)
		}
	}
}

// url is the proxy's URL, as the sandbox sees it in HTTP_PROXY.
func (p *proxy) url() string { return "http://" + p.addr }

// dial opens a client connection to the proxy, closed when the test ends,
// with a 30 s deadline so a test cannot hang on it.
func (p *proxy) dial(t testing.TB) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c, bufio.NewReader(c)
}

// connect sends CONNECT target on a new connection and returns the
// connection and the proxy's answer (its body read, for a refusal).
func (p *proxy) connect(t testing.TB, target string) (net.Conn, *bufio.Reader, *http.Response, string) {
	t.Helper()
	c, br := p.dial(t)
	if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("reading the answer to CONNECT %s: %v", target, err)
	}
	var body string
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
	}
	c.SetDeadline(time.Time{})
	return c, br, resp, body
}

// port is addr's port.
func port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// testCert is a self-signed certificate for the test names, and a pool
// trusting it.
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "api.test"},
		DNSNames:              []string{"api.test", "other.test", "v6.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
})

// rawServer is a TCP server that records what each connection sends and
// runs serve on it (nil: read everything).
type rawServer struct {
	ln       net.Listener
	received atomic.Int64
	accepted atomic.Int64
	done     chan struct{} // receives when a connection has ended
	wg       sync.WaitGroup
}

func newRawServer(t testing.TB, serve func(c net.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, done: make(chan struct{}, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					select {
					case s.done <- struct{}{}:
					default: // nobody is waiting (benchmarks)
					}
				}()
				defer c.Close()
				cc := &countConn{Conn: c, n: &s.received}
				if serve != nil {
					serve(cc)
				} else {
					io.Copy(io.Discard, cc)
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }

// waitEnded waits for one connection to end.
func (s *rawServer) waitEnded(t testing.TB) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the upstream connection did not end")
	}
}

// countConn counts the bytes read.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// echo copies a connection back to itself.
func echo(c net.Conn) { io.Copy(c, c) }

// clientHelloBytes is the ClientHello crypto/tls sends with cfg.
func clientHelloBytes(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		tls.Client(b, cfg).Handshake()
		b.Close()
	}()
	a.SetReadDeadline(time.Now().Add(30 * time.Second))
	h, err := readClientHello(a)
	if err != nil {
		t.Fatal(err)
	}
	return h.raw
}
