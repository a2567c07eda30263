package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestServeStdio runs one stdio session: initialize, tools/list and a
// tools/call over newline-delimited JSON-RPC, then EOF, which must be a
// clean stop. Then a second session is stopped by cancelling its ctx.
// (mcp-go has one stdio session per process, so both run in one test.)
func TestServeStdio(t *testing.T) {
	fb := &sandboxtest.Backend{Result: okResult()}
	s := newServer(t, fb, nil)

	t.Run("EOF", func(t *testing.T) {
		in := strings.Join([]string{
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + mcp.LATEST_LEGACY_PROTOCOL_VERSION + `","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`,
			`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		}, "\n") + "\n"
		pr, pw := io.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- ServeStdio(context.Background(), s, strings.NewReader(in), pw, 4, nil) }()

		responses := map[float64]json.RawMessage{}
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for len(responses) < 2 && sc.Scan() {
			var msg struct {
				ID     float64         `json:"id"`
				Result json.RawMessage `json:"result"`
			}
			if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
				t.Fatalf("bad line on stdout %q: %v", sc.Text(), err)
			}
			responses[msg.ID] = msg.Result
		}
		if !strings.Contains(string(responses[1]), `"airlock-mcp"`) {
			t.Errorf("initialize result = %s, want the server name", responses[1])
		}
		if !strings.Contains(string(responses[2]), `"execute_python"`) {
			t.Errorf("tools/list result = %s, want execute_python", responses[2])
		}
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("ServeStdio at EOF = %v, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("ServeStdio did not return at EOF")
		}
	})

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		inR, inW := io.Pipe() // input that never ends
		defer inW.Close()
		outR, outW := io.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- ServeStdio(ctx, s, inR, outW, 4, nil) }()
		// The server is serving once it answers a ping; then cancel.
		go func() { _, _ = io.WriteString(inW, `{"jsonrpc":"2.0","id":1,"method":"ping"}`+"\n") }()
		sc := bufio.NewScanner(outR)
		if !sc.Scan() || !strings.Contains(sc.Text(), `"id":1`) {
			t.Fatalf("no answer to ping: %q %v", sc.Text(), sc.Err())
		}
		go func() { _, _ = io.Copy(io.Discard, outR) }()
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("ServeStdio after cancel = %v, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("ServeStdio did not return after cancel")
		}
	})
}
