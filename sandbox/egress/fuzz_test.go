package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// helloSeeds are real ClientHellos for the fuzzers to start from.
func helloSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, cfg := range []*tls.Config{
		{ServerName: "api.test"},
		{ServerName: ""},
		{ServerName: "other.test", NextProtos: []string{"h2", "http/1.1"}},
		{ServerName: "api.test", MaxVersion: tls.VersionTLS12},
		{ServerName: "a-much-longer-name.with.several.labels.example.test", MinVersion: tls.VersionTLS13},
	} {
		cfg.InsecureSkipVerify = true
		out = append(out, clientHelloBytes(t, cfg))
	}
	// The first hello split over two records.
	h := out[0]
	body := h[5:]
	split := append([]byte{22, 3, 1, 0, 10}, body[:10]...)
	rest := body[10:]
	split = append(split, 22, 3, 1, byte(len(rest)>>8), byte(len(rest)))
	out = append(out, append(split, rest...))
	return out
}

// FuzzClientHello checks that the ClientHello parser never panics, and
// that when crypto/tls accepts a hello, the parser either rejects it or
// finds the same server name: the proxy may be stricter than a TLS server,
// never more lenient about the name.
func FuzzClientHello(f *testing.F) {
	for _, h := range helloSeeds(f) {
		f.Add(h)
	}
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := readClientHello(bytes.NewReader(data))
		if err == nil {
			if !bytes.HasPrefix(data, h.raw) {
				t.Fatalf("raw %x is not the input's prefix", h.raw)
			}
			if h.hasSNI != (h.serverName != "") {
				t.Fatalf("hasSNI %v with name %q", h.hasSNI, h.serverName)
			}
		}
		name, ok := tlsServerName(data)
		if ok && err == nil && name != h.serverName {
			t.Fatalf("crypto/tls sees server name %q, the proxy %q", name, h.serverName)
		}
	})
}

// tlsServerName runs a crypto/tls server on data and returns the server
// name of the ClientHello it parsed, if it parsed one.
func tlsServerName(data []byte) (string, bool) {
	var name string
	var got bool
	stop := errors.New("stop")
	conn := &scriptConn{r: bytes.NewReader(data)}
	srv := tls.Server(conn, &tls.Config{
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			name, got = hi.ServerName, true
			return nil, stop
		},
	})
	srv.Handshake()
	return name, got
}

// scriptConn is a net.Conn reading a script and discarding writes.
type scriptConn struct {
	net.Conn
	r io.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// fuzzUpstream is the Dial of the request fuzzer: an in-memory server
// that answers every connection with a small HTTP response and reads
// whatever comes.
func fuzzUpstream(ctx context.Context, network, addr string) (net.Conn, error) {
	if strings.HasSuffix(addr, ":81") {
		return nil, errors.New("connection refused")
	}
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		go io.Copy(io.Discard, b)
		io.WriteString(b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}()
	return a, nil
}

// anyName resolves every name to a documentation address.
type anyName struct{}

func (anyName) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if host == "nx.test" {
		return nil, errors.New("no such host")
	}
	return []netip.Addr{netip.MustParseAddr("192.0.2.1")}, nil
}

// FuzzRequest feeds arbitrary bytes to a session's client connection: the
// proxy must answer or close, never panic or hang, and Close must return.
func FuzzRequest(f *testing.F) {
	hello := helloSeeds(f)[0]
	for _, s := range []string{
		"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n" + string(hello),
		"CONNECT api.test:8443 HTTP/1.1\r\n\r\n" + string(hello),
		"CONNECT api.test:22 HTTP/1.1\r\n\r\nSSH-2.0-x\r\n",
		"CONNECT 192.0.2.1:443 HTTP/1.1\r\n\r\n" + string(hello),
		"CONNECT evil.test:443 HTTP/1.1\r\n\r\n",
		"CONNECT api.test:81 HTTP/1.1\r\n\r\n",
		"GET http://api.test/x?y HTTP/1.1\r\nHost: api.test\r\nConnection: keep-alive\r\n\r\nGET http://evil.test/ HTTP/1.1\r\n\r\n",
		"POST http://api.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST http://api.test/ HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
		"GET http://nx.test/ HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"\x16\x03\x01\x00\x05hello",
		"garbage",
	} {
		f.Add([]byte(s))
	}
	n := netrules.Rules{AllowEgress: true, Deny: []netrules.Rule{{Host: "evil.test"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := Serve(ln, Config{Egress: n.Egress(), Resolver: anyName{}, Dial: fuzzUpstream, MaxConnections: 3, MaxBytes: 4096})
		defer s.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		go func() {
			c.Write(data)
			c.(*net.TCPConn).CloseWrite()
		}()
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("the proxy neither answered nor closed: %v", err)
		}
		done := make(chan struct{})
		go func() { s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Close did not return")
		}
	})
}
