package modal

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// poolOptions are baseOptions with a pool of size n.
func poolOptions(n int) Options {
	o := baseOptions()
	o.PoolSize = n
	return o
}

// waitPoolFull waits until b has n sandboxes ready.
func waitPoolFull(t testing.TB, b *testBackend, n int) {
	t.Helper()
	if !eventually(30*time.Second, func() bool { return b.PoolReady() == n }) {
		t.Fatalf("the pool never filled: %d ready, want %d", b.PoolReady(), n)
	}
}

// TestPoolServesCallsWithoutCreating: with a slow creation, calls served
// from a full pool do not wait for one; each pooled sandbox serves one
// call, is terminated, and the pool refills in the background, tagged as
// pooled, never holding more than its size.
func TestPoolServesCallsWithoutCreating(t *testing.T) {
	const createDelay = 1500 * time.Millisecond
	srv := startCP(t, modaltest.Options{CreateDelay: createDelay})
	b := newBackend(t, srv, poolOptions(2))
	waitPoolFull(t, b, 2)
	if n := srv.CreatedSandboxes(); n != 2 {
		t.Fatalf("%d sandboxes created to fill a pool of 2", n)
	}

	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			res, err := b.Execute(testContext(t), sandbox.Request{Code: "6*7", Limits: callLimits})
			if err != nil || res.Status != sandbox.StatusOK || res.Result == nil || *res.Result != "42" {
				t.Errorf("call %d: %+v, %v", i, res, err)
			}
			if took := time.Since(start); took >= createDelay {
				t.Errorf("call %d took %s: it waited for a creation instead of using the pool", i, took)
			}
		}()
	}
	wg.Wait()
	// Both pooled sandboxes served one call each and were terminated; two
	// more are being created.
	if n := srv.TerminatedSandboxes(); n != 2 {
		t.Errorf("%d sandboxes terminated after 2 pooled calls, want 2", n)
	}
	waitPoolFull(t, b, 2)
	if created, live := srv.CreatedSandboxes(), srv.LiveSandboxes(); created != 4 || live != 2 {
		t.Errorf("after refilling: %d created, %d live; want 4 and 2", created, live)
	}
	for _, sb := range srv.Sandboxes() {
		if sb.Tags[TagPool] != "true" || sb.Tags[TagInstance] != "test-instance" {
			t.Errorf("pooled sandbox %s has tags %v", sb.ID, sb.Tags)
		}
		if want := uint32((30*time.Second + 60*time.Second + execGrace) / time.Second); sb.Definition.GetTimeoutSecs() != want {
			t.Errorf("pooled sandbox lifetime %d s, want %d (idle budget + longest call)", sb.Definition.GetTimeoutSecs(), want)
		}
	}
	// The pool is drained at shutdown: newBackend's cleanup checks that no
	// sandbox is left alive after Close.
}

// TestPoolMismatchedLimitsCreate: a call whose limits differ from those the
// pooled harnesses were started with gets a sandbox of its own.
func TestPoolMismatchedLimitsCreate(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, poolOptions(1))
	waitPoolFull(t, b, 1)
	limits := callLimits
	limits.MaxOpenFiles = 64
	res, err := b.Execute(testContext(t), sandbox.Request{Code: "import resource\nresource.getrlimit(resource.RLIMIT_NOFILE)[0]", Limits: limits})
	if err != nil || res.Result == nil || *res.Result != "64" {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	if b.PoolReady() != 1 || srv.CreatedSandboxes() != 2 {
		t.Errorf("pool %d ready, %d created: the pooled sandbox was used for other limits", b.PoolReady(), srv.CreatedSandboxes())
	}
	// A longer timeout than the pool's default is fine: only the timeout
	// differs.
	limits = callLimits
	limits.Timeout = 45 * time.Second
	if res, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: limits}); err != nil || res.Status != sandbox.StatusOK {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	if srv.CreatedSandboxes() != 3 || srv.Sandboxes()[2].Tags[TagPool] != "true" {
		t.Errorf("a call with another timeout did not take the pooled sandbox")
	}
}

// TestPoolReplacesIdleSandboxes: a pooled sandbox idle for about its
// lifetime budget is terminated and replaced, so a call never takes one
// that Modal is about to end.
func TestPoolReplacesIdleSandboxes(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	opts := poolOptions(1)
	opts.Lifetime = 2 * time.Second // retired after 1 s idle
	b := newBackend(t, srv, opts)
	waitPoolFull(t, b, 1)
	if !eventually(10*time.Second, func() bool { return srv.CreatedSandboxes() >= 3 }) {
		t.Fatalf("idle pooled sandboxes are not replaced: %d created", srv.CreatedSandboxes())
	}
	if live := srv.LiveSandboxes(); live > 2 {
		t.Errorf("%d sandboxes live with a pool of 1 (one being replaced at most)", live)
	}
}

// TestPoolBacksOffWhenCreationFails: refills that fail do not hammer Modal,
// calls meanwhile get the failure as an error, and the pool recovers.
func TestPoolBacksOffWhenCreationFails(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	srv.FailCreates(-1, status.Error(codes.ResourceExhausted, "quota"))
	b := newBackend(t, srv, poolOptions(1))
	time.Sleep(2500 * time.Millisecond)
	if n := len(srv.Requests("SandboxCreateV2")); n < 1 || n > 3 {
		t.Errorf("%d creation attempts in 2.5 s, want 1 to 3 (backing off)", n)
	}
	if b.logs.FilterMessageSnippet("could not refill the Modal sandbox pool").Len() == 0 {
		t.Error("the failed refill was not logged")
	}
	if _, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits}); err == nil {
		t.Error("a call succeeded while creation fails")
	}
	srv.ClearFaults()
	// The call above created nothing; the pool retries on its own.
	waitPoolFull(t, b, 1)
}

// TestPoolDrainedAtClose: Close terminates the ready sandboxes and the one
// being created.
func TestPoolDrainedAtClose(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, poolOptions(2))
	waitPoolFull(t, b, 2)
	srv.SetCreateDelay(time.Second)
	if _, err := b.Execute(context.Background(), sandbox.Request{Code: "1", Limits: callLimits}); err != nil {
		t.Fatal(err)
	}
	// One refill is now in flight, for a second.
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertNothingAlive(t, srv)
	if created := srv.CreatedSandboxes(); created != 3 {
		t.Errorf("%d sandboxes created, want 3 (2 pooled, 1 refill)", created)
	}
}
