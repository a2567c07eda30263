package server

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// deadlineConn records the read deadlines the server sets on a connection.
type deadlineConn struct {
	net.Conn
	mu   sync.Mutex
	last time.Time
	set  bool
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.last, c.set = t, true
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.last, c.set = t, true
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) readDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.set
}

// deadlineListener hands out deadlineConns, the first on first.
type deadlineListener struct {
	net.Listener
	first chan *deadlineConn
}

func (l *deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	dc := &deadlineConn{Conn: c}
	select {
	case l.first <- dc:
	default:
	}
	return dc, nil
}

// TestReadTimeoutSparesCallsAndStreams: the server's ReadTimeout bounds
// reading a request, but once an authenticated request is read its
// connection has no read deadline left — which, when it passed, would
// cancel the request's context and so cut off a long call or a stream.
func TestReadTimeoutSparesCallsAndStreams(t *testing.T) {
	modernCall := `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"execute_python","arguments":{"code":"print(1)"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	tests := []struct {
		name    string
		request func(addr string) *http.Request
		running func(t *testing.T, b *gateBackend, resp *http.Response)
	}{
		{"a long call", func(addr string) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+StreamablePath, strings.NewReader(modernCall))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
			req.Header.Set("Mcp-Method", "tools/call")
			req.Header.Set("Mcp-Name", "execute_python")
			return req
		}, func(t *testing.T, b *gateBackend, _ *http.Response) { b.nextCall(t) }},
		{"an SSE stream", func(addr string) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+SSEPath, nil)
			return req
		}, func(t *testing.T, _ *gateBackend, resp *http.Response) {
			if resp == nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %v", SSEPath, resp)
			}
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "event: endpoint") {
				t.Fatalf("SSE stream: %q %v", line, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend := newGateBackend()
			tokens, err := LoadTokens(writeTokens(t, "alice "+aliceToken+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			transport := NewHTTPTransport(newServer(t, backend, nil), HTTPOptions{Tokens: tokens})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			dl := &deadlineListener{Listener: ln, first: make(chan *deadlineConn, 1)}
			srv := NewHTTPServer(transport, nil)
			go srv.Serve(dl)
			defer srv.Close()
			if srv.ReadTimeout <= 0 || srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 || srv.WriteTimeout != 0 {
				t.Fatalf("timeouts: read %v, header %v, idle %v, write %v", srv.ReadTimeout, srv.ReadHeaderTimeout, srv.IdleTimeout, srv.WriteTimeout)
			}

			req := tc.request(ln.Addr().String())
			req.Header.Set("Authorization", "Bearer "+aliceToken)
			type answer struct {
				resp *http.Response
				err  error
			}
			answers := make(chan answer, 1)
			go func() {
				resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
				answers <- answer{resp, err}
			}()
			var streamed *http.Response
			if req.Method == http.MethodGet {
				a := <-answers
				if a.err != nil {
					t.Fatal(a.err)
				}
				streamed = a.resp
				defer streamed.Body.Close()
			}
			tc.running(t, backend, streamed)
			conn := <-dl.first
			if deadline, set := conn.readDeadline(); !set || !deadline.IsZero() {
				t.Errorf("while the request runs, its connection's read deadline is %v (set: %v), want none", deadline, set)
			}
			close(backend.release)
			if req.Method == http.MethodPost {
				if a := <-answers; a.err != nil || a.resp.StatusCode != http.StatusOK {
					t.Errorf("the call's answer: %v %v", a.resp, a.err)
				} else {
					a.resp.Body.Close()
				}
			}
		})
	}
}
