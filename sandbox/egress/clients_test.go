package egress

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(fds)
}

// quietClients keeps idle client connections (and those half-way through a
// header) open for the whole test rather than firstRequestTimeout (and
// headerTimeout), so that what holds them is the test.
func quietClients(c *Config) { c.hooks.requestTimeout = time.Hour }

// With max client connections open, the next ones are refused at once with
// a 403 naming the limit and recorded, whatever holds the open ones; the
// session's descriptors stay bounded by the limit; and a closed connection
// frees its place.
func TestClientConnectionLimit(t *testing.T) {
	const max, extra = 4, 20
	srv := newRawServer(t, echo)
	target := "api.test:" + strconv.Itoa(port(t, srv.addr()))
	for _, tc := range []struct {
		name    string
		open    func(t *testing.T, p *proxy) net.Conn
		perConn int // descriptors the proxy holds for each
		srvConn int // descriptors the test's upstream server holds for each
	}{
		{"idle connections", func(t *testing.T, p *proxy) net.Conn {
			c, _ := p.dial(t)
			return c
		}, 1, 0},
		{"a request header half sent", func(t *testing.T, p *proxy) net.Conn {
			c, _ := p.dial(t)
			io.WriteString(c, "GET http://api.test/ HTTP/1.1\r\n")
			return c
		}, 1, 0},
		{"open tunnels", func(t *testing.T, p *proxy) net.Conn {
			c, br, resp, _ := p.connect(t, target)
			if resp.StatusCode != 200 {
				t.Fatal(resp.Status)
			}
			roundTrip(t, c, br, "ping") // the upstream server has accepted it
			return c
		}, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}), quietClients,
				func(c *Config) { c.MaxClientConns = max })
			baseline := openFDs(t)
			held := make([]net.Conn, max)
			for i := range held {
				held[i] = tc.open(t, p)
			}
			p.wait(t, p.admitted, max)

			for i := range extra {
				c, br := p.dial(t)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("connection %d beyond the limit: %v", i+1, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 403 || resp.Status != "403 Airlock policy: connection refused by proxy limit: at most 4 connections to the proxy open at once" ||
					resp.Header.Get("X-Airlock-Rule") != "proxy limit" || !resp.Close {
					t.Fatalf("connection %d beyond the limit: %q %v", i+1, resp.Status, resp.Header)
				}
				if !strings.Contains(string(body), "at most 4 connections to it may be open at once per call") ||
					!strings.Contains(string(body), "close the connections it no longer needs") {
					t.Errorf("body %q", body)
				}
				if _, err := br.ReadByte(); err == nil {
					t.Error("the refused connection was not closed")
				}
				c.Close()
			}
			// The test holds max connections and the server's ends of the
			// tunnels; the proxy holds its ends (it has closed every
			// refused one: the test read the end of each).
			proxyFDs := openFDs(t) - baseline - max*(1+tc.srvConn)
			if bound := tc.perConn * max; proxyFDs > bound {
				t.Errorf("the proxy holds %d descriptors, want at most %d", proxyFDs, bound)
			}
			select {
			case <-p.released:
				t.Fatal("a client connection held by the test was released")
			default:
			}

			// A connection closed by the client frees its place.
			held[0].Close()
			p.wait(t, p.released, 1)
			c, br := p.dial(t)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.Status != "400 Airlock proxy: not a proxy request" {
				t.Fatalf("after a place was freed: %v %v", resp, err)
			}

			l := p.Close()
			s := l.Summary()
			if s.Denied != extra {
				t.Errorf("summary %+v, want %d refusals", s, extra)
			}
			for _, e := range l.Entries {
				if !e.Allowed && (e.Rule != "proxy limit" || e.Host != "" || e.Method != "" ||
					e.Reason != "Connection to the Airlock proxy refused: at most 4 connections to it may be open at once per call, and this call had them all open; close the connections it no longer needs (or reuse them), then retry.") {
					t.Errorf("entry %+v", e)
				}
			}
		})
	}
}

// Python's http.client shows the limit's reason when it opens one
// connection too many: it reads the answer, not a reset.
func TestPythonSeesTheClientLimit(t *testing.T) {
	python, err := lookPython()
	if err != nil {
		t.Skip(err)
	}
	const max = 3
	p := startProxy(t, allowRules(nil), quietClients, func(c *Config) { c.MaxClientConns = max })
	script := `
import http.client, socket, sys
held = [socket.create_connection(("127.0.0.1", ` + strconv.Itoa(port(t, p.addr)) + `), timeout=30) for _ in range(` + strconv.Itoa(max) + `)]
print("held", flush=True)
sys.stdin.readline()
c = http.client.HTTPSConnection("127.0.0.1", ` + strconv.Itoa(port(t, p.addr)) + `, timeout=30)
c.set_tunnel("api.test", 443)
try:
    c.connect()
except OSError as e:
    print(e)
`
	cmd := exec.Command(python, "-I", "-c", script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); line != "held\n" {
		t.Fatalf("python said %q, %v; stderr %s", line, err, stderr.String())
	}
	p.wait(t, p.admitted, max) // its connections are the proxy's
	io.WriteString(stdin, "go\n")
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err, stderr.String())
	}
	want := "Tunnel connection failed: 403 Airlock policy: connection refused by proxy limit: at most 3 connections to the proxy open at once"
	if got := strings.TrimSpace(string(rest)); got != want {
		t.Errorf("python said %q\nwant %q", got, want)
	}
}

// flakyListener fails its first Accept calls as a process out of
// descriptors does.
type flakyListener struct {
	net.Listener
	failures int // Accept calls left to fail
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures > 0 {
		l.failures--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// A failing Accept is retried after a wait that doubles up to a second
// (the loop neither spins nor ends), and the session serves afterwards.
func TestAcceptBacksOffAndRecovers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	waits := make(chan time.Duration, 20)
	s := Serve(&flakyListener{Listener: ln, failures: 10}, Config{hooks: &testHooks{
		backoff: func(d time.Duration) <-chan time.Time {
			waits <- d
			now := make(chan time.Time, 1)
			now <- time.Time{}
			return now
		},
	}})
	defer s.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("after the failures: %v %v", resp, err)
	}
	close(waits)
	var got []time.Duration
	for d := range waits {
		got = append(got, d)
	}
	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000}
	if len(got) != len(want) {
		t.Fatalf("waits %v, want %v ms", got, want)
	}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Errorf("waits %v, want %v ms", got, want)
			break
		}
	}
}

// A listener that fails for good is closed by Close all the same.
func TestCloseWhileAcceptFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{}, 1)
	s := Serve(&flakyListener{Listener: ln, failures: 1 << 30}, Config{hooks: &testHooks{
		backoff: func(d time.Duration) <-chan time.Time {
			select {
			case waiting <- struct{}{}:
			default:
			}
			return nil // waits until the session ends
		},
	}})
	<-waiting
	s.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the listener is still open: %v", err)
	}
}
