package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTokensReloadOnSIGHUP: `airlock-mcp http` re-reads its tokens file on
// SIGHUP. A token added to the file is accepted once the server has logged
// the reload; a file that no longer loads is logged as refused, and the
// tokens in force stay. The server starts with SIGHUP ignored, as under
// nohup: it must take the signal over before it says it is serving (a
// SIGHUP that came between the two was lost, found by a loaded run).
func TestTokensReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	tokensFile := filepath.Join(dir, "tokens")
	const alice, bob = "tok-alice-0123456789abcdef", "tok-bob-0123456789abcdef"
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(tokensFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("alice " + alice + "\n")
	addr := freeLoopbackAddr(t)
	cmd := exec.Command("/bin/sh", "-c", `trap '' HUP; exec "$0" "$@"`, airlockBinary(t), "http", "--listen", addr, "--auth-tokens", tokensFile)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := logMessages(stderr)
	awaitLog(t, logs, "serving MCP over HTTP")

	status := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/mcp", strings.NewReader(
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"reload","version":"1"}}}`))
		rawHeaders(req, token, "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(bob); got != http.StatusUnauthorized {
		t.Fatalf("bob before the reload: %d, want 401", got)
	}

	write("alice " + alice + "\nbob " + bob + "\n")
	cmd.Process.Signal(syscall.SIGHUP)
	if fields := awaitLog(t, logs, "auth tokens reloaded"); fields["tokens"] != 2.0 {
		t.Errorf("reload logged %v, want 2 tokens", fields)
	}
	if got := status(bob); got != http.StatusOK {
		t.Errorf("bob after the reload: %d, want 200", got)
	}

	write("bob\n")
	cmd.Process.Signal(syscall.SIGHUP)
	awaitLog(t, logs, "auth tokens not reloaded; the previous ones stay in force")
	for name, token := range map[string]string{"alice": alice, "bob": bob} {
		if got := status(token); got != http.StatusOK {
			t.Errorf("%s after a failed reload: %d, want 200 (the tokens in force stay)", name, got)
		}
	}
}

// logMessages decodes the server's JSON log lines as they come.
func logMessages(stderr io.Reader) <-chan map[string]any {
	out := make(chan map[string]any, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var fields map[string]any
			if json.Unmarshal(sc.Bytes(), &fields) == nil {
				out <- fields
			}
		}
	}()
	return out
}

// awaitLog waits for the log line whose message is msg and returns its
// fields; the timeout only keeps a broken server from hanging the test.
func awaitLog(t *testing.T, logs <-chan map[string]any, msg string) map[string]any {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case fields, ok := <-logs:
			if !ok {
				t.Fatalf("the server exited before logging %q", msg)
			}
			if fields["msg"] == msg {
				return fields
			}
		case <-timeout:
			t.Fatalf("the server never logged %q", msg)
		}
	}
}
