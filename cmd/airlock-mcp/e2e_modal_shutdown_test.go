package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestModalShutdownEndToEnd: SIGTERM under a running call, with a warm
// pool: the call is stopped and told the server is shutting down (not that
// its client cancelled it), the log says a signal ended the server (not
// that stdio closed) and carries no failed refill, and no sandbox is left.
func TestModalShutdownEndToEnd(t *testing.T) {
	srv := startModalCP(t)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("backend:\n  modal:\n    pool_size: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	server := connectEnv(t, srv.ClientEnv(), "--backend", "modal", "--policy", policy)
	const sleepCode = "import time\nprint('running', flush=True)\ntime.sleep(600)"
	type answer struct {
		res *mcp.CallToolResult
		err error
	}
	last := make(chan answer, 1)
	go func() {
		res, err := server.session.CallTool(context.Background(), &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": sleepCode, "timeout_s": 300}})
		last <- answer{res, err}
	}()
	if err := awaitModal(srv, func() bool { return modalStdoutHas(srv, "running\n") }); err != nil {
		t.Fatalf("the call never started: %v", err)
	}
	// The pool refills behind the call: let the refill be under way when
	// the signal comes.
	if err := awaitModal(srv, func() bool { return srv.CreatedSandboxes() >= 2 }); err != nil {
		t.Fatalf("the pool did not refill: %v", err)
	}
	if err := server.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var a answer
	select {
	case a = <-last: // the server answered it, or went away under it
	case <-time.After(time.Minute):
		t.Fatal("the call in flight outlived the server's shutdown")
	}
	server.shutdown()
	if a.err == nil {
		text := contentText(a.res)
		if !a.res.IsError || !strings.Contains(text, "the server is shutting down") || strings.Contains(text, "client cancelled") {
			t.Errorf("the call stopped by the shutdown reads %q", text)
		}
	}
	log := server.stderr.String()
	for _, bad := range []string{"stdio closed", "could not refill", "context canceled"} {
		if strings.Contains(log, bad) {
			t.Errorf("the shutdown's log says %q:\n%s", bad, log)
		}
	}
	if !strings.Contains(log, "signal received; shutting down") {
		t.Errorf("the log does not say a signal ended the server:\n%s", log)
	}
	if err := awaitModal(srv, func() bool { return modalAllFinished(srv) }); err != nil {
		t.Errorf("after shutdown: %d sandboxes alive: %v", srv.LiveSandboxes(), err)
	}
	if n := srv.LiveProcesses(); n != 0 {
		t.Errorf("after shutdown: %d processes alive", n)
	}
}
