package egress

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

func TestCloseWithOpenTunnel(t *testing.T) {
	srv := newRawServer(t, echo)
	// Idle client connections are not closed by a timeout here: Close
	// must close them.
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}), quietClients)
	c, br, resp, _ := p.connect(t, "api.test:"+strconv.Itoa(port(t, srv.addr())))
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	roundTrip(t, c, br, "ping")
	// An idle client connection, and one half-way through a header.
	idle, _ := p.dial(t)
	partial, _ := p.dial(t)
	io.WriteString(partial, "GET http://api.test/ HTTP/1.1\r\n")
	p.wait(t, p.admitted, 3)
	if snap := p.Snapshot(); len(snap.Entries) != 1 || snap.Entries[0].BytesIn != 4 {
		t.Errorf("snapshot %+v", snap)
	}

	closed := make(chan Ledger, 1)
	go func() { closed <- p.Close() }()
	var l Ledger
	select {
	case l = <-closed:
	case <-time.After(60 * time.Second):
		t.Fatal("Close did not return: it waits for connections it should close")
	}
	for _, conn := range []net.Conn{idle, partial} {
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Error("a client connection without a request is still open")
		}
	}
	if len(l.Entries) != 1 || l.Entries[0].BytesOut != 4 || l.Entries[0].BytesIn != 4 || !l.Entries[0].Allowed {
		t.Errorf("ledger %+v", l)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
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
	if left := blockedSessionGoroutines(); len(left) > 0 {
		t.Errorf("session goroutines still blocked after Close:\n%s", strings.Join(left, "\n\n"))
	}
}

// blockedSessionGoroutines returns the stacks of the goroutines of a
// Session that wait for something (I/O, a channel, a lock, a timer). Close
// waits until each has called WaitGroup.Done, after which one may still be
// on its way out, runnable but no longer waiting: those are not counted.
func blockedSessionGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		_, state, _ := strings.Cut(header, "[")
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",") // "select, 2 minutes"
		onItsWay := state == "runnable" || state == "running" || state == "preempted" || state == "copystack"
		if strings.Contains(g, "sandbox/egress.(*Session)") && !onItsWay {
			out = append(out, g)
		}
	}
	return out
}

// blockingResolver blocks until the session ends, then until the test
// releases it.
type blockingResolver struct {
	started   chan struct{} // closed when the lookup starts
	cancelled chan struct{} // closed when the session has ended it
	release   chan struct{} // closed by the test to let it return
}

func (r *blockingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	close(r.started)
	<-ctx.Done()
	close(r.cancelled)
	<-r.release
	return nil, ctx.Err()
}

func TestCloseWaitsForHandlers(t *testing.T) {
	r := &blockingResolver{started: make(chan struct{}), cancelled: make(chan struct{}), release: make(chan struct{})}
	p := startProxy(t, allowRules([]netrules.Rule{host("slow.test")}), func(c *Config) { c.Resolver = r })
	c, _ := p.dial(t)
	io.WriteString(c, "CONNECT slow.test:443 HTTP/1.1\r\n\r\n")
	<-r.started
	closed := make(chan Ledger, 1)
	go func() { closed <- p.Close() }()
	<-r.cancelled // Close has begun: it cancels the session's lookups
	select {
	case l := <-closed:
		t.Fatalf("Close returned while a handler was still resolving: %+v", l)
	default:
	}
	close(r.release)
	select {
	case l := <-closed:
		// The handler's record is in: Close waited for it.
		if len(l.Entries) != 1 || l.Entries[0].Error != "resolve slow.test: the call ended" {
			t.Errorf("ledger %+v", l)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Close did not return once the handler could")
	}
}
