package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// serveLimited serves a transport (tokens of alice and bob, metrics at
// MetricsPath) through a ConnLimiter on a loopback port; it returns the
// address and the limiter.
func serveLimited(t *testing.T, limits ConnLimits) (string, *ConnLimiter) {
	t.Helper()
	tokens, err := LoadTokens(writeTokens(t, "alice "+aliceToken+"\nbob "+bobToken+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "airlock_build_info 1") })
	transport := NewHTTPTransport(newServer(t, &sandboxtest.Backend{Result: okResult()}, nil), HTTPOptions{Tokens: tokens, Metrics: metrics})
	conns := NewConnLimiter(limits, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(transport, conns)
	go srv.Serve(conns.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), conns
}

// dialFrom opens a TCP connection to addr from the loopback address from
// ("" for any); it sends nothing.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// authenticate sends an authenticated request on c and returns its status
// (0 when the connection is gone).
func authenticate(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a safety net, not the test
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n", MetricsPath, aliceToken); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitClosed waits until the server closes c.
func waitClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a safety net, not the test
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: read %v, want the server to close it", what, err)
	}
}

// TestConnLimitsKeepRoomForAuthenticatedClients: connections that have not
// authenticated fill at most their share; a new connection takes the place
// of the oldest of them, so a client with a token always gets in, and an
// authenticated connection is never displaced.
func TestConnLimitsKeepRoomForAuthenticatedClients(t *testing.T) {
	addr, conns := serveLimited(t, ConnLimits{Max: 4, PerAddress: 4}) // 3 for unauthenticated connections
	idle := []net.Conn{dialFrom(t, "", addr), dialFrom(t, "", addr), dialFrom(t, "", addr)}
	client := dialFrom(t, "", addr)
	waitClosed(t, idle[0], "the oldest unauthenticated connection")
	if code := authenticate(t, client); code != http.StatusOK {
		t.Fatalf("the authenticated client's request: %d", code)
	}
	for i := range 3 {
		idle = append(idle, dialFrom(t, "", addr))
		if i > 0 {
			waitClosed(t, idle[i], "an older unauthenticated connection")
		}
	}
	if code := authenticate(t, client); code != http.StatusOK {
		t.Errorf("the authenticated connection after a flood: %d", code)
	}
	if code := authenticate(t, idle[3]); code != http.StatusOK {
		t.Errorf("a connection that had room: %d", code)
	}
	if open, unauthenticated := conns.ConnCounts(); open != 4 || unauthenticated != 2 {
		t.Errorf("%d connections open, %d unauthenticated; want 4 and 2", open, unauthenticated)
	}
}

// TestConnLimitsRefuseWhenAllAuthenticated: when every connection has
// authenticated, a new one is closed at once and the others stay.
func TestConnLimitsRefuseWhenAllAuthenticated(t *testing.T) {
	addr, conns := serveLimited(t, ConnLimits{Max: 3, PerAddress: 3})
	var clients []net.Conn
	for range 3 {
		c := dialFrom(t, "", addr)
		if code := authenticate(t, c); code != http.StatusOK {
			t.Fatalf("authenticating: %d", code)
		}
		clients = append(clients, c)
	}
	waitClosed(t, dialFrom(t, "", addr), "a connection over the cap")
	for i, c := range clients {
		if code := authenticate(t, c); code != http.StatusOK {
			t.Errorf("authenticated connection %d after the refusal: %d", i, code)
		}
	}
	if open, _ := conns.ConnCounts(); open != 3 {
		t.Errorf("%d connections open, want 3", open)
	}
}

// TestConnLimitsPerAddress: an address at its cap displaces its own oldest
// unauthenticated connection, not another address's.
func TestConnLimitsPerAddress(t *testing.T) {
	addr, _ := serveLimited(t, ConnLimits{Max: 10, PerAddress: 2})
	other := dialFrom(t, "127.0.0.2", addr) // the oldest connection of all
	first := dialFrom(t, "127.0.0.1", addr)
	dialFrom(t, "127.0.0.1", addr)
	dialFrom(t, "127.0.0.1", addr)
	waitClosed(t, first, "the address's oldest connection")
	if code := authenticate(t, other); code != http.StatusOK {
		t.Errorf("another address's connection: %d", code)
	}
}
