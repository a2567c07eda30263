package modal

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// The pool's schedule (retiring idle sandboxes, backing off failed
// refills) runs on a fake clock the tests move; what the pool does meanwhile
// is observed on the control plane's events and the timers the pool starts.

// newPoolBackend starts a backend with a pool of size n (0: none) on a fake
// clock.
func newPoolBackend(t testing.TB, srv *modaltest.Server, opts Options, n int) (*testBackend, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	opts.PoolSize, opts.clock = n, clk
	return newBackend(t, srv, opts), clk
}

// waitPoolFull waits until b has n sandboxes ready. A refill that ends
// nudges the pool, which goes back to sleep: each time, the clock sees a
// timer started, and the test looks again.
func waitPoolFull(t testing.TB, b *testBackend, clk *fakeClock, n int) {
	t.Helper()
	for b.PoolReady() != n {
		clk.nextTimer(t)
	}
}

// TestPoolServesCallsWithoutCreating: calls served from a full pool do not
// wait for a creation: they complete while every creation is held on the
// control plane. Each pooled sandbox serves one call, is terminated, and
// the pool refills in the background, tagged as pooled, never holding more
// than its size.
func TestPoolServesCallsWithoutCreating(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, clk := newPoolBackend(t, srv, baseOptions(), 2)
	waitPoolFull(t, b, clk, 2)
	if n := srv.CreatedSandboxes(); n != 2 {
		t.Fatalf("%d sandboxes created to fill a pool of 2", n)
	}

	release := srv.Hold("SandboxCreateV2")
	defer release()
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			o := within(t, executeAsync(testContext(t), b, sandbox.Request{Code: "6*7", Limits: callLimits}), "a pooled call")
			if o.err != nil || o.res.Status != sandbox.StatusOK || o.res.Result == nil || *o.res.Result != "42" {
				t.Errorf("call %d: %+v, %v", i, o.res, o.err)
			}
		})
	}
	wg.Wait()
	// Both pooled sandboxes served one call each and are terminated; two
	// refills are being created, and no more.
	await(t, srv, "both pooled sandboxes to be terminated", func() bool { return srv.TerminatedSandboxes() == 2 })
	await(t, srv, "the refills to reach Modal", func() bool { return srv.InFlight("SandboxCreateV2") == 2 })
	release()
	waitPoolFull(t, b, clk, 2)
	if created, live, asked := srv.CreatedSandboxes(), srv.LiveSandboxes(), len(srv.Requests("SandboxCreateV2")); created != 4 || live != 2 || asked != 4 {
		t.Errorf("after refilling: %d created, %d live, %d creations asked; want 4, 2 and 4", created, live, asked)
	}
	for _, sb := range srv.Sandboxes() {
		if sb.Tags[TagPool] != "true" || sb.Tags[TagInstance] != "test-instance" {
			t.Errorf("pooled sandbox %s has tags %v", sb.ID, sb.Tags)
		}
		if want := uint32((createAllowance + 30*time.Second + 60*time.Second + execGrace) / time.Second); sb.Definition.GetTimeoutSecs() != want {
			t.Errorf("pooled sandbox lifetime %d s, want %d (creation allowance + idle budget + longest call)", sb.Definition.GetTimeoutSecs(), want)
		}
	}
	// The pool is drained at shutdown: newBackend's cleanup checks that no
	// sandbox is left alive after Close.
}

// TestPoolMismatchedLimitsCreate: a call whose limits differ from those the
// pooled harnesses were started with gets a sandbox of its own.
func TestPoolMismatchedLimitsCreate(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, clk := newPoolBackend(t, srv, baseOptions(), 1)
	waitPoolFull(t, b, clk, 1)
	pooled := srv.Sandboxes()[0].ID
	limits := callLimits
	limits.MaxOpenFiles = 64
	res, err := b.Execute(testContext(t), sandbox.Request{Code: "import resource\nresource.getrlimit(resource.RLIMIT_NOFILE)[0]", Limits: limits})
	if err != nil || res.Result == nil || *res.Result != "64" {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	if res.SandboxID == pooled || b.PoolReady() != 1 || srv.CreatedSandboxes() != 2 {
		t.Errorf("ran in %s (pooled %s), pool %d ready, %d created: the pooled sandbox was used for other limits", res.SandboxID, pooled, b.PoolReady(), srv.CreatedSandboxes())
	}
	// A longer timeout than the pool's default is fine: only the timeout
	// differs.
	limits = callLimits
	limits.Timeout = 45 * time.Second
	res, err = b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: limits})
	if err != nil || res.Status != sandbox.StatusOK {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	if res.SandboxID != pooled {
		t.Errorf("a call with another timeout ran in %s, not in the pooled sandbox %s", res.SandboxID, pooled)
	}
}

// TestPoolReplacesIdleSandboxes: a pooled sandbox idle for its lifetime
// budget, less a margin, is terminated and replaced, so a call never takes
// one that Modal is about to end.
func TestPoolReplacesIdleSandboxes(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	opts := baseOptions()
	opts.Lifetime = 2 * time.Second // a margin of half: retired after 1 s idle
	const idle = time.Second
	b, clk := newPoolBackend(t, srv, opts, 1)
	// The pool sleeps while the first sandbox is created, then until it
	// must retire it.
	for d := clk.nextTimer(t); d != idle; d = clk.nextTimer(t) {
		if d != time.Hour {
			t.Fatalf("the pool slept %v, want an hour (nothing to do) or %v (the retirement)", d, idle)
		}
	}
	if b.PoolReady() != 1 || srv.CreatedSandboxes() != 1 {
		t.Fatalf("%d ready, %d created; want 1 and 1", b.PoolReady(), srv.CreatedSandboxes())
	}
	first := srv.Sandboxes()[0].ID

	clk.Advance(idle)
	await(t, srv, "the idle sandbox to be replaced", func() bool {
		return srv.CreatedSandboxes() == 2 && srv.TerminatedSandboxes() == 1 && srv.InFlight("SandboxTerminateV2") == 0
	})
	waitPoolFull(t, b, clk, 1)
	if info, _ := srv.Sandbox(first); info.Live {
		t.Errorf("the idle sandbox %s is still live", first)
	}
	if live := srv.LiveSandboxes(); live != 1 {
		t.Errorf("%d sandboxes live with a pool of 1", live)
	}
}

// TestPoolBacksOffWhenCreationFails: refills that fail do not hammer Modal:
// each waits twice as long as the one before, up to a minute, with no
// creation meanwhile and no wake-up before its time; calls meanwhile get the
// failure as an error; and the pool recovers on its own.
func TestPoolBacksOffWhenCreationFails(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	srv.FailCreates(-1, status.Error(codes.ResourceExhausted, "quota"))
	b, clk := newPoolBackend(t, srv, baseOptions(), 1)
	backoffs := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, backoff := range backoffs {
		// A refill is in flight: the pool sleeps until nudged.
		if d := clk.nextTimer(t); d != time.Hour {
			t.Fatalf("attempt %d: while refilling the pool slept %v, want an hour (until the refill ends)", i+1, d)
		}
		// It failed: the pool sleeps out the back-off.
		if d := clk.nextTimer(t); d != backoff {
			t.Fatalf("after failure %d the pool slept %v, want %v", i+1, d, backoff)
		}
		if n := len(srv.Requests("SandboxCreateV2")); n != i+1 {
			t.Fatalf("%d creation attempts after %d failures", n, i+1)
		}
		failures := b.logs.FilterMessageSnippet("could not refill the Modal sandbox pool").All()
		if len(failures) != i+1 || failures[i].ContextMap()["retry_in"] != backoff {
			t.Fatalf("after failure %d, logged %d failures, the last %v; want retry_in %v", i+1, len(failures), failures[len(failures)-1].ContextMap(), backoff)
		}
		clk.Advance(backoff)
	}
	// The back-off now at its cap: a call meanwhile gets the failure.
	if d := clk.nextTimer(t); d != time.Hour {
		t.Fatalf("while refilling the pool slept %v, want an hour", d)
	}
	if d := clk.nextTimer(t); d != time.Minute {
		t.Fatalf("the pool slept %v, want a minute", d)
	}
	_, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits})
	if err == nil || !strings.Contains(err.Error(), "quota") {
		t.Errorf("a call while creation fails = %v, want Modal's refusal", err)
	}
	srv.ClearFaults()
	clk.Advance(time.Minute)
	waitPoolFull(t, b, clk, 1)
	if n := len(srv.Requests("SandboxCreateV2")); n != len(backoffs)+3 {
		t.Errorf("%d creation attempts, want %d (%d failed refills, the call's, the last refill)", n, len(backoffs)+3, len(backoffs)+1)
	}
}

// TestPoolDrainedAtClose: Close terminates the ready sandboxes and the one
// being created.
func TestPoolDrainedAtClose(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, clk := newPoolBackend(t, srv, baseOptions(), 2)
	waitPoolFull(t, b, clk, 2)
	release := srv.Hold("SandboxCreateV2")
	defer release()
	if _, err := b.Execute(context.Background(), sandbox.Request{Code: "1", Limits: callLimits}); err != nil {
		t.Fatal(err)
	}
	await(t, srv, "the refill to reach Modal", func() bool { return srv.InFlight("SandboxCreateV2") == 1 })
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	// Once Close has begun, let Modal create the refill's sandbox.
	within(t, b.closing, "Close to begin")
	release()
	if err := within(t, closed, "Close to return"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertNothingAlive(t, srv)
	if created := srv.CreatedSandboxes(); created != 3 {
		t.Errorf("%d sandboxes created, want 3 (2 pooled, 1 refill)", created)
	}
	if n := b.logs.FilterMessageSnippet("could not refill").Len(); n != 0 {
		t.Errorf("the refill cut short by Close was logged as a failure: %v", b.logs.All())
	}
}
