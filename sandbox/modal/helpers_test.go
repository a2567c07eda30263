package modal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
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
		AppName:       "airlock-test",
		Image:         "python:3.12-slim",
		CPU:           0.5,
		MemoryMiB:     256,
		Lifetime:      30 * time.Second,
		MaxTimeout:    60 * time.Second,
		DefaultLimits: callLimits,
		Network:       Network{Block: true},
		Instance:      "test-instance",
	}
}

// testBackend is a backend under test and what it logged.
type testBackend struct {
	*Backend
	logs   *observer.ObservedLogs
	logged *broadcast // tells of each entry, once it is in logs
}

// awaitLog waits until n entries whose message contains snippet are logged.
func (b *testBackend) awaitLog(t testing.TB, snippet string, n int) {
	t.Helper()
	timeout := time.After(safetyNet)
	for {
		next := b.logged.next() // before checking, so no entry is missed
		if b.logs.FilterMessageSnippet(snippet).Len() >= n {
			return
		}
		select {
		case <-next:
		case <-timeout:
			t.Fatalf("gave up after %v waiting for %d log entries with %q; logs: %v", safetyNet, n, snippet, b.logs.All())
		}
	}
}

// broadcast wakes every waiter at each notify.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

// next returns a channel closed at the next notify.
func (c *broadcast) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *broadcast) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// newBackend starts a backend on srv. When the test ends it closes it and
// fails the test if any sandbox or process is left alive on the control
// plane, or if a log line carries the token secret.
func newBackend(t testing.TB, srv *modaltest.Server, opts Options) *testBackend {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	logged := &broadcast{}
	// The hook runs once the observer has the entry.
	opts.Logger = zap.New(zapcore.RegisterHooks(core, func(zapcore.Entry) error {
		logged.notify()
		return nil
	}))
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
	return &testBackend{Backend: b, logs: logs, logged: logged}
}

// assertNothingAlive fails t when the control plane still has a live
// sandbox or process. Call it once the backend has closed: every sandbox
// it terminated has then finished, and the control plane finishes a
// sandbox only once its processes are gone.
func assertNothingAlive(t testing.TB, srv *modaltest.Server) {
	t.Helper()
	if n := srv.LiveSandboxes(); n != 0 {
		t.Errorf("%d sandbox(es) left alive on the control plane", n)
		return
	}
	await(t, srv, "the terminated sandboxes to finish", func() bool {
		for _, sb := range srv.Sandboxes() {
			if sb.Status == pb.GenericResult_GENERIC_STATUS_UNSPECIFIED {
				return false
			}
		}
		return true
	})
	if n := srv.LiveProcesses(); n != 0 {
		t.Errorf("%d process(es) left alive on the control plane", n)
	}
}

// safetyNet bounds every wait of these tests: a wait is for an event, and
// this only turns a test that would hang into one that fails.
const safetyNet = 60 * time.Second

// await waits, on the control plane's own events, until cond holds.
func await(t testing.TB, srv *modaltest.Server, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	if err := srv.Await(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// within waits for ch to deliver (or be closed), failing t after the
// safety net.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(safetyNet):
		t.Fatalf("gave up after %v waiting for %s", safetyNet, what)
		panic("unreachable")
	}
}

// outcome is what Execute returned.
type outcome struct {
	res sandbox.Result
	err error
}

// executeAsync runs req on b in the background; the channel delivers what
// Execute returned.
func executeAsync(ctx context.Context, b *testBackend, req sandbox.Request) <-chan outcome {
	done := make(chan outcome, 1)
	go func() {
		res, err := b.Execute(ctx, req)
		done <- outcome{res, err}
	}()
	return done
}

// awaitStdout waits until a live sandbox's code has written want to its
// stdout on the control plane, which sends it to the backend before any
// end of the stream.
func awaitStdout(t testing.TB, srv *modaltest.Server, want string) {
	t.Helper()
	await(t, srv, fmt.Sprintf("the code to print %q", want), func() bool {
		for _, sb := range srv.Sandboxes() {
			if sb.Live && strings.Contains(sb.Stdout, want) {
				return true
			}
		}
		return false
	})
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
