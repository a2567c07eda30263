package modaltest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	modal "github.com/modal-labs/modal-client/go"
)

const testImage = "python:3.12-slim"

// fixture is a server, an SDK client configured for it, an app and a built
// image: what every backend call starts from.
type fixture struct {
	srv *Server
	mc  *modal.Client
	app *modal.App
	img *modal.Image
}

// startServer starts a server, closed when the test ends, and points the
// SDK's environment at it.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	srv, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Close)
	srv.SetEnv(t)
	return srv
}

// newClient makes an SDK client from the environment (see SetEnv); params
// may override credentials.
func newClient(t *testing.T, params *modal.ClientParams) *modal.Client {
	t.Helper()
	if params == nil {
		params = &modal.ClientParams{}
	}
	params.Logger = slog.New(slog.DiscardHandler)
	mc, err := modal.NewClientWithOptions(params)
	if err != nil {
		t.Fatalf("NewClientWithOptions: %v", err)
	}
	t.Cleanup(mc.Close)
	return mc
}

func setup(t *testing.T, opts Options) fixture {
	t.Helper()
	srv := startServer(t, opts)
	mc := newClient(t, nil)
	ctx := testContext(t)
	app, err := mc.Apps.FromName(ctx, "airlock-test", &modal.AppFromNameParams{CreateIfMissing: true})
	if err != nil {
		t.Fatalf("Apps.FromName: %v", err)
	}
	img, err := mc.Images.FromRegistry(testImage, nil).Build(ctx, app, nil)
	if err != nil {
		t.Fatalf("Image.Build: %v", err)
	}
	return fixture{srv: srv, mc: mc, app: app, img: img}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// create creates a sandbox that is terminated when the test ends.
func (f fixture) create(t *testing.T, params *modal.SandboxCreateParams) *modal.Sandbox {
	t.Helper()
	sb, err := f.mc.Sandboxes.Create(testContext(t), f.app, f.img, params)
	if err != nil {
		t.Fatalf("Sandboxes.Create: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = sb.Terminate(ctx, &modal.SandboxTerminateParams{Wait: true})
	})
	return sb
}

// execResult is everything one exec produced.
type execResult struct {
	stdout, stderr    string
	stdoutErr, errErr error // read errors, other than end of stream
	code              int
	waitErr           error
}

// runExec runs argv the way the backend does: write stdin and close it,
// read stdout and stderr concurrently, then wait.
func runExec(t *testing.T, sb *modal.Sandbox, argv []string, stdin string, params *modal.SandboxExecParams) execResult {
	t.Helper()
	ctx := testContext(t)
	p, err := sb.Exec(ctx, argv, params)
	if err != nil {
		t.Fatalf("Exec(%q): %v", argv, err)
	}
	if stdin != "" {
		if _, err := io.WriteString(p.Stdin, stdin); err != nil {
			t.Fatalf("writing stdin: %v", err)
		}
	}
	if err := p.Stdin.Close(); err != nil {
		t.Fatalf("closing stdin: %v", err)
	}
	var r execResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		b, err := io.ReadAll(p.Stdout)
		r.stdout, r.stdoutErr = string(b), err
	}()
	go func() {
		defer wg.Done()
		b, err := io.ReadAll(p.Stderr)
		r.stderr, r.errErr = string(b), err
	}()
	wg.Wait()
	r.code, r.waitErr = p.Wait(ctx, nil)
	return r
}

// safetyNet bounds every wait of these tests: a wait is for an event, and
// this only turns a test that would hang into one that fails.
const safetyNet = 60 * time.Second

// await waits, on the server's own events (Server.Await), until cond holds.
func await(t *testing.T, srv *Server, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	if err := srv.Await(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// pollProcesses waits until cond, a condition on the processes in /proc,
// holds. It polls: a process that an exec left in the background starts
// and dies without telling the server.
func pollProcesses(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(safetyNet)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", safetyNet, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// within waits for ch to be closed or to deliver, failing t after the
// safety net.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(safetyNet):
		t.Fatalf("gave up after %v waiting for %s", safetyNet, what)
		panic("unreachable")
	}
}

// waitPast returns once the clock has passed deadline: for a deadline the
// SDK keeps by the clock, the clock passing it is the event.
func waitPast(deadline time.Time) {
	for d := time.Until(deadline); d >= 0; d = time.Until(deadline) {
		time.Sleep(d + time.Millisecond)
	}
}

// manualTimers stands in for the server's timers (Options.afterFunc): a
// test takes each one as it is started, and fires it when it chooses.
type manualTimers struct {
	started chan *manualTimer
}

func newManualTimers() *manualTimers {
	return &manualTimers{started: make(chan *manualTimer, 64)}
}

func (m *manualTimers) afterFunc(d time.Duration, f func()) stopper {
	tm := &manualTimer{d: d, f: f}
	m.started <- tm
	return tm
}

// next returns the next timer the server started, failing t unless it
// runs for d.
func (m *manualTimers) next(t *testing.T, d time.Duration) *manualTimer {
	t.Helper()
	tm := within(t, m.started, "the server to start a timer")
	if tm.d != d {
		t.Fatalf("the server started a timer for %v, want %v", tm.d, d)
	}
	return tm
}

// manualTimer is one of the server's timers, fired by the test.
type manualTimer struct {
	d time.Duration
	f func()

	mu   sync.Mutex
	done bool // stopped or fired
}

// Stop stops the timer, as time.Timer.Stop.
func (tm *manualTimer) Stop() bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	wasActive := !tm.done
	tm.done = true
	return wasActive
}

// fire runs the timer's function, as its time passing would, and waits
// for it to return; it reports false if the timer was stopped.
func (tm *manualTimer) fire() bool {
	if !tm.Stop() {
		return false
	}
	tm.f()
	return true
}
