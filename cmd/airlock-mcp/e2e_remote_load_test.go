package main_test

import (
	"bufio"
	"bytes"
	"context"
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

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/server"
)

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

	// Bob's call holds the only slot until the test cancels it.
	marker := fmt.Sprintf("airlock-busy-%d", time.Now().UnixNano())
	bobCtx, cancelBob := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		call(bobCtx, bob, sleeper(marker, 120))
	}()
	if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
		t.Fatal("bob's call never started")
	}
	res, err = call(ctx, carol, "1")
	if err != nil || !res.IsError || !strings.Contains(contentText(res), "Server busy: the only execution slot is in use and the operator lets no call wait for one (limits.max_queued is 0); try again in a little while") {
		t.Errorf("call while the only slot is taken: %+v %v", res, err)
	}
	cancelBob()
	<-done

	// One byte over the bound for this policy's default limits (the code
	// and the files a call may carry).
	big := bytes.Repeat([]byte("x"), int(server.MaxBodyBytesFor(policy.Default()))+1)
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", bytes.NewReader(big))
	rawHeaders(req, r.tokens["carol"], "")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the bound: %v %v", resp, err)
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
	if statuses["ok"] != 2 || statuses["rate_limited"] != 1 || statuses["busy"] != 1 || statuses["cancelled"] != 1 {
		t.Errorf("audit statuses %v", statuses)
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
	if !waitFor(30*time.Second, func() bool { return len(processesWith(marker)) > 0 }) {
		t.Fatalf("the sandboxed process never started\n%s", &stderr)
	}
	// The SDK's transport owns cmd.Wait; waitPidExit waits on a pidfd.
	stopped := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitPidExit(cmd.Process.Pid, time.Now().Add(20*time.Second)); err != nil {
		t.Fatalf("the stdio server did not exit after SIGTERM: %v\n%s", err, &stderr)
	}
	t.Logf("exited %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	s.Close()
	if left := processesWith(marker); len(left) > 0 {
		t.Errorf("processes left after shutdown: %v", left)
	}
	r := &remote{auditPath: auditPath}
	recs := r.auditRecords(t)
	if len(recs) != 1 || recs[0]["status"] != "cancelled" || recs[0]["client"] != server.StdioClient() {
		t.Errorf("audit records %v\n%s", recs, &stderr)
	}
}
