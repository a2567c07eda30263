package modal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// The tests below run the real SDK against modaltest, the test control
// plane on 127.0.0.1, which runs each exec'd process on this machine.

// testPython is the interpreter the control plane runs for python3:
// $AIRLOCK_TEST_PYTHON, /usr/bin/python3, or python3 on PATH.
func testPython(t testing.TB) string {
	if p := os.Getenv("AIRLOCK_TEST_PYTHON"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 for the test control plane")
	}
	return p
}

// startCP starts a test control plane, closed when the test ends, and
// points the SDK's environment at it.
func startCP(t testing.TB, opts modaltest.Options) *modaltest.Server {
	t.Helper()
	if opts.Python == "" {
		opts.Python = testPython(t)
	}
	srv, err := modaltest.Start(opts)
	if err != nil {
		t.Fatalf("modaltest.Start: %v", err)
	}
	t.Cleanup(srv.Close)
	srv.SetEnv(t)
	return srv
}

// callLimits are the limits of an ordinary test call.
var callLimits = sandbox.Limits{
	Timeout:        20 * time.Second,
	MemoryBytes:    512 << 20,
	CPUTime:        30 * time.Second,
	MaxProcesses:   64,
	MaxOutputBytes: 64 << 10,
	MaxFileBytes:   16 << 20,
	MaxOpenFiles:   256,
}

// baseOptions are the options of a test backend; tests change what they
// need.
func baseOptions() Options {
	return Options{
		AppName:    "airlock-test",
		Image:      "python:3.12-slim",
		CPU:        0.5,
		MemoryMiB:  256,
		Lifetime:   30 * time.Second,
		MaxTimeout: 60 * time.Second,
		PoolLimits: callLimits,
		Network:    Network{Block: true},
		Instance:   "test-instance",
	}
}

// testBackend is a backend under test and what it logged.
type testBackend struct {
	*Backend
	logs *observer.ObservedLogs
}

// newBackend starts a backend on srv. When the test ends it closes it and
// fails the test if any sandbox or process is left alive on the control
// plane, or if a log line carries the token secret.
func newBackend(t testing.TB, srv *modaltest.Server, opts Options) *testBackend {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	opts.Logger = zap.New(core)
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertNothingAlive(t, srv)
		for _, e := range logs.All() {
			line := e.Message
			for k, v := range e.ContextMap() {
				line += " " + k + "=" + fmt.Sprint(v)
			}
			if strings.Contains(line, modaltest.DefaultTokenSecret) {
				t.Errorf("a log line carries the token secret: %s", line)
			}
		}
	})
	return &testBackend{Backend: b, logs: logs}
}

// assertNothingAlive fails t when the control plane still has a live
// sandbox or process.
func assertNothingAlive(t testing.TB, srv *modaltest.Server) {
	t.Helper()
	if n := srv.LiveSandboxes(); n != 0 {
		t.Errorf("%d sandbox(es) left alive on the control plane", n)
	}
	// Terminating a sandbox kills its processes before it returns; allow
	// the reaper a moment.
	if !eventually(2*time.Second, func() bool { return srv.LiveProcesses() == 0 }) {
		t.Errorf("%d process(es) left alive on the control plane", srv.LiveProcesses())
	}
}

// eventually polls cond until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
