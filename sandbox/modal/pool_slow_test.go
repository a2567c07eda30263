package modal

import (
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestPoolIdleTimeCountsFromReady: a pooled sandbox whose creation took
// 26 s (more than timeout_s 30 less the 5 s margin, on the fake clock) is
// not retired as soon as it is ready: its idle budget counts from then, a
// call uses it, and the slow creation is logged with what to change.
func TestPoolIdleTimeCountsFromReady(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	release := srv.Hold("SandboxCreateV2")
	defer release()
	b, clk := newPoolBackend(t, srv, baseOptions(), 1)
	await(t, srv, "the pool's creation to reach Modal", func() bool { return srv.InFlight("SandboxCreateV2") == 1 })
	clk.Advance(26 * time.Second)
	release()
	waitPoolFull(t, b, clk, 1)
	pooled := srv.Sandboxes()[0].ID

	res, err := b.Execute(testContext(t), sandbox.Request{Code: "6*7", Limits: callLimits})
	if err != nil || res.Result == nil || *res.Result != "42" {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	if res.SandboxID != pooled {
		t.Errorf("the call ran in %s, not in the pooled sandbox %s: it was retired as soon as it was ready", res.SandboxID, pooled)
	}
	slow := b.logs.FilterMessageSnippet("took more than half its idle lifetime").All()
	if len(slow) != 1 || slow[0].ContextMap()["creation"] != 26*time.Second {
		t.Errorf("logged %v; want one warning about the 26 s creation", b.logs.All())
	}
}

// TestPoolRetiresOnItsOwnClock: once ready, a pooled sandbox is retired
// after timeout_s less the margin, counted from then (here 30 s - 5 s).
func TestPoolRetiresOnItsOwnClock(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	release := srv.Hold("SandboxCreateV2")
	defer release()
	b, clk := newPoolBackend(t, srv, baseOptions(), 1)
	await(t, srv, "the pool's creation to reach Modal", func() bool { return srv.InFlight("SandboxCreateV2") == 1 })
	clk.Advance(26 * time.Second)
	release()
	clk.skipToTimer(t, 25*time.Second)
	if b.PoolReady() != 1 || srv.CreatedSandboxes() != 1 {
		t.Fatalf("%d ready, %d created; want 1 and 1", b.PoolReady(), srv.CreatedSandboxes())
	}
	clk.Advance(25 * time.Second)
	await(t, srv, "the idle sandbox to be replaced", func() bool {
		return srv.CreatedSandboxes() == 2 && srv.TerminatedSandboxes() == 1
	})
}
