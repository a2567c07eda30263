package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// BenchmarkHTTPSConnection measures what the proxy adds to an HTTPS
// connection: each iteration opens a new TCP connection, does a full TLS
// handshake and one small GET to a loopback server, directly or through
// the proxy (CONNECT, policy decision, resolving, dialling, SNI check,
// relaying). Keep-alives are off, so no connection is reused.
func BenchmarkHTTPSConnection(b *testing.B) {
	srv := tlsServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srvAddr := srv.Listener.Addr().String()
	target := "https://api.test:" + strconv.Itoa(port(b, srvAddr)) + "/"
	_, pool := testCert()
	run := func(b *testing.B, tr *http.Transport) {
		tr.DisableKeepAlives = true
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		c := &http.Client{Transport: tr}
		b.ReportAllocs()
		for b.Loop() {
			resp, err := c.Get(target)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	b.Run("direct", func(b *testing.B) {
		var d net.Dialer
		run(b, &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, srvAddr)
		}})
	})
	b.Run("via-proxy", func(b *testing.B) {
		p := startProxy(b, allowRules([]netrules.Rule{host("api.test", 443, port(b, srvAddr))}))
		u, _ := url.Parse(p.url())
		run(b, &http.Transport{Proxy: http.ProxyURL(u)})
	})
}

// BenchmarkTCPConnection isolates the proxy's own cost from TLS: each
// iteration opens a connection to a loopback echo server, directly or with
// CONNECT through the proxy, and does one 1-byte round trip.
func BenchmarkTCPConnection(b *testing.B) {
	srv := newRawServer(b, echo)
	target := "api.test:" + strconv.Itoa(port(b, srv.addr()))
	roundTrip := func(b *testing.B, c net.Conn, r io.Reader) {
		if _, err := c.Write([]byte{1}); err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		if _, err := io.ReadFull(r, one[:]); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			c, err := net.Dial("tcp", srv.addr())
			if err != nil {
				b.Fatal(err)
			}
			roundTrip(b, c, c)
		}
	})
	b.Run("via-proxy", func(b *testing.B) {
		p := startProxy(b, allowRules([]netrules.Rule{host("api.test")}))
		req := []byte("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
		for b.Loop() {
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(resp, err)
			}
			roundTrip(b, c, br)
		}
	})
}
