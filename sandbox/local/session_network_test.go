//go:build linux

package local_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// TestSessionLedgerIsPerCall: through a session's proxy each call gets
// its own ledger: what an earlier call connected to is neither listed in
// nor charged to a later one, and a connection an earlier call left open
// is closed when that call ends.
func TestSessionLedgerIsPerCall(t *testing.T) {
	f := newNetworkFixture(t)
	s, err := f.b.StartSession(context.Background(), sandbox.SessionKey{Owner: "test", Name: "ledger"}, limits())
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	defer s.Close()
	prelude := fmt.Sprintf("import socket, ssl, urllib.request\nCTX = ssl.create_default_context(cadata=%q)\nTLS, PLAIN = %d, %d\n", f.caPEM, f.tlsPort, f.plainPort)
	calls := []struct {
		code   string
		stdout []string
		ledger []string
	}{
		{prelude + `
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(f"CONNECT api.test:{TLS} HTTP/1.1\r\nHost: api.test:{TLS}\r\n\r\n".encode())
print("proxy:", s.recv(4096).split(b"\r\n")[0].decode())
kept = CTX.wrap_socket(s, server_hostname="api.test")
kept.sendall(b"GET / HTTP/1.1\r\nHost: api.test\r\n\r\n")
print(kept.recv(4096).split(b"\r\n")[0].decode())
print(urllib.request.urlopen(f"http://plain.test:{PLAIN}/one", timeout=10).read().decode())`,
			[]string{"proxy: HTTP/1.1 200", "HTTP/1.1 200 OK", "hello over HTTP, GET /one"},
			[]string{"api.test CONNECT allowed network.allow[0]", "plain.test GET allowed network.allow[2]"}},
		{`
try:
    kept.sendall(b"GET / HTTP/1.1\r\nHost: api.test\r\n\r\n")
    print("old connection:", "closed" if not kept.recv(4096) else "OPEN")
except OSError as e:
    print("old connection: closed", type(e).__name__)
print(urllib.request.urlopen(f"http://plain.test:{PLAIN}/two", timeout=10).read().decode())`,
			[]string{"old connection: closed", "hello over HTTP, GET /two"},
			[]string{"plain.test GET allowed network.allow[2]"}},
	}
	for i, c := range calls {
		res := call(t, s, c.code)
		if res.Status != sandbox.StatusOK {
			t.Fatalf("call %d: status %s error %+v stderr %q", i+1, res.Status, res.Error, res.Stderr)
		}
		for _, want := range c.stdout {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("call %d: stdout lacks %q:\n%s", i+1, want, res.Stdout)
			}
		}
		if res.Network == nil || res.Network.Enforcement != sandbox.EnforcementProxy {
			t.Fatalf("call %d: network ledger = %+v, want enforcement %q", i+1, res.Network, sandbox.EnforcementProxy)
		}
		checkLedger(t, res.Network.Connections, c.ledger)
	}
}
