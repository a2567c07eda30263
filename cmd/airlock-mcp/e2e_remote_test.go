package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
	r.cmd, r.stderr = startHTTPServer(t, http.DefaultClient, "http://"+r.addr+"/healthz", args...)
	return r
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
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
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

// TestRemoteProgress: a long execution with a progress token sends
// progress notifications at a steady interval, and none after the result.
func TestRemoteProgress(t *testing.T) {
	r := startRemote(t, "", "alice")
	var (
		mu    sync.Mutex
		notes []*mcp.ProgressNotificationParams
	)
	s := r.connect(t, "alice", &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
		mu.Lock()
		notes = append(notes, req.Params)
		mu.Unlock()
	}})
	params := &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "import time\ntime.sleep(5)\nprint('slow done')"}}
	params.SetProgressToken("long-run-1")
	res, err := s.CallTool(context.Background(), params)
	if err != nil || res.IsError || !strings.Contains(contentText(res), "slow done") {
		t.Fatalf("call: %+v %v", res, err)
	}
	mu.Lock()
	got := len(notes)
	mu.Unlock()
	if got < 1 {
		t.Fatalf("no progress notification during a 5 s run")
	}
	mu.Lock()
	for i, n := range notes {
		if n.ProgressToken != "long-run-1" || n.Total != 30 || n.Progress <= 0 || (i > 0 && n.Progress <= notes[i-1].Progress) || !strings.Contains(n.Message, "running for") {
			t.Errorf("notification %d = %+v", i, n)
		}
	}
	mu.Unlock()
	time.Sleep(3 * time.Second) // longer than the interval
	mu.Lock()
	defer mu.Unlock()
	if len(notes) != got {
		t.Errorf("%d progress notifications arrived after the result", len(notes)-got)
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
		if !waitFor(20*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
			t.Fatal("the sandboxed process never started")
		}
		start := time.Now()
		cancel()
		<-done
		if !waitFor(10*time.Second, func() bool { return len(processesWith(marker)) == 0 }) {
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
		if !waitFor(20*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
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
		if !waitFor(10*time.Second, func() bool { return len(processesWith(marker)) == 0 }) {
			t.Fatalf("sandbox processes survived the cancellation: %v", processesWith(marker))
		}
		t.Logf("sandbox gone %s after notifications/cancelled", time.Since(start).Round(time.Millisecond))
		select {
		case got := <-answered:
			if !strings.Contains(got, `"id":41`) || !strings.Contains(got, "cancelled") {
				t.Errorf("the cancelled call resolved with %q", got)
			}
		case <-time.After(10 * time.Second):
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
		if !waitFor(20*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
			t.Fatal("the sandboxed process never started")
		}
		start := time.Now()
		cancel() // closes the connection; no notifications/cancelled is sent
		<-done
		if !waitFor(10*time.Second, func() bool { return len(processesWith(marker)) == 0 }) {
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

// TestRemoteShutdownDuringCalls: SIGTERM while calls run ends them, kills
// their sandboxes, exits in time, and leaves a complete, verifying audit
// log.
func TestRemoteShutdownDuringCalls(t *testing.T) {
	r := startRemote(t, "", "alice", "bob")
	marker := fmt.Sprintf("airlock-shutdown-%d", time.Now().UnixNano())
	var wg sync.WaitGroup
	for _, c := range []string{"alice", "bob", "alice"} {
		s := r.connect(t, c, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			call(context.Background(), s, sleeper(marker, 120))
		}()
	}
	if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) == 3 }) {
		t.Fatalf("want 3 sandboxed processes, have %d", len(processesWith(marker)))
	}
	took := r.stop(t)
	t.Logf("exited %s after SIGTERM", took.Round(time.Millisecond))
	wg.Wait()
	if left := processesWith(marker); len(left) > 0 {
		t.Errorf("processes left after shutdown: %v", left)
	}
	recs := r.auditRecords(t)
	if len(recs) != 3 {
		t.Fatalf("%d audit records, want 3", len(recs))
	}
	for _, rec := range recs {
		if rec["status"] != "cancelled" || rec["decision"] != "allowed" || rec["backend"] != "local" || rec["sandbox_id"] == "" {
			t.Errorf("audit record %v", rec)
		}
	}
	if !strings.Contains(r.stderr.String(), `"msg":"audit log closed"`) {
		t.Errorf("no audit close line in the log:\n%s", r.stderr)
	}
}

// TestRemoteLoad: a few hundred calls at concurrency 8 across several
// clients: zero errors, every output right, the metrics and the audit log
// account for each, and nothing is left running.
func TestRemoteLoad(t *testing.T) {
	const perWorker, workers = 40, 8
	clients := []string{"ci", "ide", "notebook", "agent"}
	r := startRemote(t, "limits:\n  calls_per_minute: 0\n", clients...)
	sessions := make([]*mcp.ClientSession, workers)
	for i := range sessions {
		sessions[i] = r.connect(t, clients[i%len(clients)], nil)
	}
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				want := fmt.Sprintf("w%d-i%d", w, i)
				res, err := call(context.Background(), sessions[w], fmt.Sprintf("print(%q)", want))
				if err != nil || res.IsError || !strings.Contains(contentText(res), want) {
					if failures.Add(1) <= 3 {
						t.Errorf("call %s: %+v %v", want, res, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed; the server logged:\n%s", n, perWorker*workers, r.stderr)
	}
	metrics := scrape(t, r, "ci")
	want := fmt.Sprintf(`airlock_tool_calls_total{backend="local",status="ok",tool="execute_python"} %d`, perWorker*workers)
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q:\n%s", want, grepLines(metrics, "airlock_"))
	}
	for _, m := range []string{"airlock_queue_depth 0", "airlock_executions_running 0", `airlock_sandboxes_running{backend="local"}`, "airlock_tool_call_duration_seconds_bucket"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
	// What this server still runs (its warm sandboxes) must die with it;
	// other packages' tests may be running sandboxes of their own.
	server := r.cmd.Process.Pid
	before := descendantsWith(server, "AIRLOCK-HARNESS")
	r.stop(t)
	recs := r.auditRecords(t)
	byClient := map[string]int{}
	for _, rec := range recs {
		byClient[rec["client"].(string)]++
	}
	if len(recs) != perWorker*workers || byClient["ci"] != 2*perWorker {
		t.Errorf("%d audit records, by client %v", len(recs), byClient)
	}
	// Orphans would have left the process tree; where cgroups are in use,
	// their cgroup names this server.
	left := processesWhose("cgroup", fmt.Sprintf("/airlock-sandboxes/%d-", server))
	for _, pid := range before {
		if b, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && strings.Contains(string(b), "AIRLOCK-HARNESS") {
			left = append(left, pid)
		}
	}
	if len(left) > 0 {
		t.Errorf("sandbox processes left after shutdown: %v", left)
	}
}

// scrape fetches /metrics with client's token.
func scrape(t *testing.T, r *remote, client string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+r.tokens[client])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			out = append(out, sc.Text())
		}
	}
	return strings.Join(out, "\n")
}

// TestRemoteLimits: the per-client rate limit and the bounded queue refuse
// with messages a model can act on; other clients are not affected; the
// body bound answers 413; /metrics needs a token.
func TestRemoteLimits(t *testing.T) {
	// One call a minute after a burst of two: however slow this machine,
	// the third rapid call finds the bucket empty.
	r := startRemote(t, "limits:\n  calls_per_minute: 1\n  call_burst: 2\n  max_concurrent: 1\n  max_queued: 0\n", "alice", "bob", "carol")
	alice, bob, carol := r.connect(t, "alice", nil), r.connect(t, "bob", nil), r.connect(t, "carol", nil)
	ctx := context.Background()

	for i := range 2 {
		if res, err := call(ctx, alice, "1"); err != nil || res.IsError {
			t.Fatalf("alice call %d: %+v %v", i, res, err)
		}
	}
	res, err := call(ctx, alice, "1")
	if err != nil || !res.IsError || !strings.Contains(contentText(res), `Rate limit: client "alice" may make 1 call per minute (bursts of 2); try again in `) {
		t.Errorf("third rapid call: %+v %v", res, err)
	}

	marker := fmt.Sprintf("airlock-busy-%d", time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		defer close(done)
		call(ctx, bob, sleeper(marker, 3))
	}()
	if !waitFor(20*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
		t.Fatal("bob's call never started")
	}
	res, err = call(ctx, carol, "1")
	if err != nil || !res.IsError || !strings.Contains(contentText(res), "Server busy: the only execution slot is in use and the operator lets no call wait for one (limits.max_queued is 0); try again in a little while") {
		t.Errorf("call while the only slot is taken: %+v %v", res, err)
	}
	<-done

	big := bytes.Repeat([]byte("x"), 2<<20)
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", bytes.NewReader(big))
	rawHeaders(req, r.tokens["carol"], "")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Get("http://" + r.addr + "/metrics"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	r.stop(t)
	statuses := map[string]int{}
	for _, rec := range r.auditRecords(t) {
		statuses[rec["status"].(string)]++
		if rec["status"] == "rate_limited" && (rec["decision"] != "denied" || !strings.Contains(rec["reason"].(string), "Rate limit")) {
			t.Errorf("rate-limited record %v", rec)
		}
	}
	if statuses["ok"] != 3 || statuses["rate_limited"] != 1 || statuses["busy"] != 1 {
		t.Errorf("audit statuses %v", statuses)
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

// TestStdioShutdownDuringCall: SIGTERM to a stdio server with a call
// running cancels it, kills its sandbox, exits, and the audit log holds the
// call and verifies.
func TestStdioShutdownDuringCall(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	cmd := exec.Command(airlockBinary(t), "--audit", auditPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-shutdown", Version: "1"}, nil)
	s, err := client.Connect(context.Background(), &mcp.CommandTransport{Command: cmd, TerminateDuration: 20 * time.Second}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, &stderr)
	}
	marker := fmt.Sprintf("airlock-stdio-shutdown-%d", time.Now().UnixNano())
	go call(context.Background(), s, sleeper(marker, 120))
	if !waitFor(20*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
		t.Fatalf("the sandboxed process never started\n%s", &stderr)
	}
	stopped := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() {
		for cmd.ProcessState == nil {
			if p, err := os.FindProcess(cmd.Process.Pid); err != nil || p.Signal(syscall.Signal(0)) != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the stdio server did not exit after SIGTERM\n%s", &stderr)
	}
	t.Logf("exited %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	s.Close()
	if left := processesWith(marker); len(left) > 0 {
		t.Errorf("processes left after shutdown: %v", left)
	}
	r := &remote{auditPath: auditPath}
	recs := r.auditRecords(t)
	if len(recs) != 1 || recs[0]["status"] != "cancelled" || recs[0]["client"] != "stdio" {
		t.Errorf("audit records %v\n%s", recs, &stderr)
	}
}
