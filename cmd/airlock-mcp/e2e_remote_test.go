package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// remote is a running `airlock-mcp http` with a tokens file and an audit
// log, as a team would deploy it.
type remote struct {
	addr, auditPath string
	tokens          map[string]string // name → token
	cmd             *exec.Cmd
	stderr          *strings.Builder
}

// startRemote starts `airlock-mcp http` on a loopback port with one token
// per client name, an audit log, and the policy YAML given ("" for the
// defaults).
func startRemote(t *testing.T, policyYAML string, clients ...string) *remote {
	t.Helper()
	r, args := remoteArgs(t, policyYAML, clients...)
	r.cmd, r.stderr = startHTTPServer(t, http.DefaultClient, "http://"+r.addr+"/healthz", args...)
	return r
}

// remoteArgs writes the tokens file (one token per client name) and the
// policy ("" for the defaults) of a remote, and returns it with the
// arguments that serve it.
func remoteArgs(t *testing.T, policyYAML string, clients ...string) (*remote, []string) {
	t.Helper()
	dir := t.TempDir()
	r := &remote{addr: freeLoopbackAddr(t), auditPath: filepath.Join(dir, "audit.jsonl"), tokens: map[string]string{}}
	var lines []string
	for i, c := range clients {
		r.tokens[c] = fmt.Sprintf("tok-%s-%d-0123456789abcdef", c, i)
		lines = append(lines, c+" "+r.tokens[c])
	}
	tokensFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokensFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"http", "--listen", r.addr, "--auth-tokens", tokensFile, "--audit", r.auditPath}
	if policyYAML != "" {
		p := filepath.Join(dir, "policy.yaml")
		if err := os.WriteFile(p, []byte(policyYAML), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--policy", p)
	}
	return r, args
}

// connect opens an MCP session over streamable HTTP as client.
func (r *remote) connect(t *testing.T, client string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "remote-e2e-" + client, Version: "1"}, opts)
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   "http://" + r.addr + "/mcp",
		HTTPClient: &http.Client{Transport: bearerTransport{r.tokens[client]}},
	}, nil)
	if err != nil {
		t.Fatalf("connect as %s: %v\n%s", client, err, r.stderr)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// stop sends SIGTERM and waits for the exit (a behaviour bound, not a
// speed target).
func (r *remote) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, r.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the server did not exit after SIGTERM:\n%s", r.stderr)
	}
	return time.Since(start)
}

// auditRecords verifies the audit log with `airlock-mcp audit verify` and
// returns its records.
func (r *remote) auditRecords(t *testing.T) []map[string]any {
	t.Helper()
	out, err := exec.Command(airlockBinary(t), "audit", "verify", r.auditPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "chain intact") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	b, err := os.ReadFile(r.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

func call(ctx context.Context, s *mcp.ClientSession, code string) (*mcp.CallToolResult, error) {
	return s.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": code}})
}

// sleeper is code that leaves a process carrying marker and sleeps.
func sleeper(marker string, seconds int) string {
	return fmt.Sprintf("import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', %q])\ntime.sleep(%d)\nprint('finished')", marker, seconds)
}

// TestRemoteProgress: a running execution with a progress token sends
// progress notifications on its call's stream — each with the token, the
// call's timeout as total, growing progress and a message — and its result
// follows the last of them: nothing follows the result. The call runs until
// the test has seen two notifications and cancels it.
func TestRemoteProgress(t *testing.T) {
	r := startRemote(t, "", "alice")
	session := rawInitialize(t, r, "alice")
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"execute_python","arguments":{"code":%q},"_meta":{"progressToken":"long-run-1"}}}`,
		"import time\ntime.sleep(600)")
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(body))
	rawHeaders(req, r.tokens["alice"], session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("tools/call with a progress token: %s, %s", resp.Status, ct)
	}
	type message struct {
		ID     any    `json:"id"`
		Method string `json:"method"`
		Params struct {
			ProgressToken any     `json:"progressToken"`
			Progress      float64 `json:"progress"`
			Total         float64 `json:"total"`
			Message       string  `json:"message"`
		} `json:"params"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	var events []message
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	progress := 0
	for sc.Scan() { // until the server ends the stream
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var m message
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		events = append(events, m)
		if m.Method == "notifications/progress" {
			if progress++; progress == 2 {
				note, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}`))
				rawHeaders(note, r.tokens["alice"], session)
				if resp, err := http.DefaultClient.Do(note); err != nil || resp.StatusCode != http.StatusAccepted {
					t.Fatalf("notifications/cancelled: %v %v", resp, err)
				} else {
					resp.Body.Close()
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the call's stream: %v", err)
	}
	if len(events) < 3 {
		t.Fatalf("the stream carried %d messages, want two progress notifications and the result: %+v", len(events), events)
	}
	last := events[len(events)-1]
	if last.ID != float64(3) || (last.Result == nil && last.Error == nil) {
		t.Errorf("the stream's last message is not the call's answer: %+v", last)
	}
	for i, n := range events[:len(events)-1] {
		if n.Method != "notifications/progress" || n.Params.ProgressToken != "long-run-1" || n.Params.Total != 30 || n.Params.Progress <= 0 ||
			(i > 0 && n.Params.Progress <= events[i-1].Params.Progress) || !strings.Contains(n.Params.Message, "running for") {
			t.Errorf("message %d before the result = %+v", i, n)
		}
	}
	// A notification the call sent late would wait in the session for its
	// next request's stream.
	next, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":4,"method":"tools/list"}`))
	rawHeaders(next, r.tokens["alice"], session)
	if code, body := doRequest(t, next); code != http.StatusOK || strings.Contains(body, "notifications/progress") {
		t.Errorf("the session's next request: %d %.300s", code, body)
	}
}

// TestRemoteCancellation: notifications/cancelled (the SDK sends it when
// the call's context ends) and a client that drops its connection both
// stop the sandbox and resolve the call; nothing is left running.
func TestRemoteCancellation(t *testing.T) {
	r := startRemote(t, "", "alice")
	s := r.connect(t, "alice", nil)

	t.Run("notifications/cancelled", func(t *testing.T) {
		marker := fmt.Sprintf("airlock-cancel-%d", time.Now().UnixNano())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := call(ctx, s, sleeper(marker, 120))
			done <- err
		}()
		if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
			t.Fatal("the sandboxed process never started")
		}
		start := time.Now()
		cancel()
		<-done
		if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) == 0 }) {
			t.Fatalf("sandbox processes survived the cancellation: %v", processesWith(marker))
		}
		t.Logf("sandbox gone %s after the cancellation", time.Since(start).Round(time.Millisecond))
		// The session still works.
		if res, err := call(context.Background(), s, "1+1"); err != nil || res.IsError {
			t.Errorf("call after a cancellation: %+v %v", res, err)
		}
	})

	t.Run("notifications/cancelled alone, the request kept open", func(t *testing.T) {
		marker := fmt.Sprintf("airlock-notified-%d", time.Now().UnixNano())
		sessionID := rawInitialize(t, r, "alice")
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"execute_python","arguments":{"code":%q}}}`, sleeper(marker, 120))
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(body))
		rawHeaders(req, r.tokens["alice"], sessionID)
		answered := make(chan string, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answered <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answered <- string(b)
		}()
		if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
			t.Fatal("the sandboxed process never started")
		}
		start := time.Now()
		note, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":41,"reason":"user pressed stop"}}`))
		rawHeaders(note, r.tokens["alice"], sessionID)
		resp, err := http.DefaultClient.Do(note)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("notifications/cancelled: %v %v", resp, err)
		}
		resp.Body.Close()
		if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) == 0 }) {
			t.Fatalf("sandbox processes survived the cancellation: %v", processesWith(marker))
		}
		t.Logf("sandbox gone %s after notifications/cancelled", time.Since(start).Round(time.Millisecond))
		select {
		case got := <-answered:
			if !strings.Contains(got, `"id":41`) || !strings.Contains(got, "cancelled") {
				t.Errorf("the cancelled call resolved with %q", got)
			}
		case <-time.After(30 * time.Second):
			t.Error("the cancelled call never resolved")
		}
	})

	t.Run("client disconnect", func(t *testing.T) {
		marker := fmt.Sprintf("airlock-disconnect-%d", time.Now().UnixNano())
		sessionID := rawInitialize(t, r, "alice")
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"execute_python","arguments":{"code":%q}}}`, sleeper(marker, 120))
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(body))
		rawHeaders(req, r.tokens["alice"], sessionID)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
			t.Fatal("the sandboxed process never started")
		}
		start := time.Now()
		cancel() // closes the connection; no notifications/cancelled is sent
		<-done
		if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) == 0 }) {
			t.Fatalf("sandbox processes survived the disconnect: %v", processesWith(marker))
		}
		t.Logf("sandbox gone %s after the disconnect", time.Since(start).Round(time.Millisecond))
	})

	r.stop(t)
	recs := r.auditRecords(t)
	cancelled := 0
	for _, rec := range recs {
		if rec["status"] == "cancelled" {
			cancelled++
		}
	}
	if cancelled != 3 {
		t.Errorf("%d cancelled calls in the audit log, want 3: %v", cancelled, recs)
	}
	// The log says what the audit says.
	logged := 0
	for _, line := range strings.Split(r.stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "tool call" && rec["status"] == "cancelled" {
			logged++
		}
	}
	if logged != 3 {
		t.Errorf("%d tool call log lines with status cancelled, want 3:\n%s", logged, r.stderr)
	}
}

// rawInitialize opens a streamable HTTP session by hand and returns its id.
func rawInitialize(t *testing.T, r *remote, client string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`))
	rawHeaders(req, r.tokens[client], "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("initialize: %s, session %q", resp.Status, id)
	}
	req, _ = http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	rawHeaders(req, r.tokens[client], id)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return id
}

func rawHeaders(req *http.Request, token, session string) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
}

// TestInspectorOverHTTP: the MCP Inspector CLI lists and calls the tool
// over streamable HTTP with a bearer token.
func TestInspectorOverHTTP(t *testing.T) {
	insp := inspector(t)
	r := startRemote(t, "", "inspector")
	run := func(args ...string) (string, int) {
		full := append([]string{"--cli", "http://" + r.addr + "/mcp", "--transport", "http", "--header", "Authorization: Bearer " + r.tokens["inspector"], "--method"}, args...)
		cmd := exec.Command(insp, full...)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := run("tools/list"); code != 0 || !strings.Contains(out, `"execute_python"`) {
		t.Errorf("tools/list: exit %d\n%s", code, out)
	}
	if out, code := run("tools/call", "--tool-name", "execute_python", "--tool-arg", "code=print(6*7)"); code != 0 || !strings.Contains(out, `42\n`) {
		t.Errorf("tools/call: exit %d\n%s", code, out)
	}
	if out, code := run("resources/read", "--uri", "airlock://policy"); code != 0 || !strings.Contains(out, "Airlock policy in force") {
		t.Errorf("resources/read airlock://policy: exit %d\n%s", code, out)
	}
}
