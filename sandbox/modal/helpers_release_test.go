package modal

import (
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// awaitGone waits until the backend has seen Modal confirm the termination
// of every sandbox it had (it logs each; calls answer before that), then
// checks that the control plane has none left alive: Modal confirms a
// termination once the sandbox's processes are gone.
func awaitGone(t testing.TB, b *testBackend, srv *modaltest.Server) {
	t.Helper()
	timeout := time.After(safetyNet)
	for {
		next := b.logged.next() // before checking, so no entry is missed
		if b.Sandboxes() == 0 {
			break
		}
		select {
		case <-next:
		case <-timeout:
			t.Fatalf("gave up after %v waiting for %d sandbox(es) to be terminated; logs: %v", safetyNet, b.Sandboxes(), b.logs.All())
		}
	}
	if n, p := srv.LiveSandboxes(), srv.LiveProcesses(); n != 0 || p != 0 {
		t.Errorf("%d sandbox(es) and %d process(es) alive on the control plane once the backend had them all terminated", n, p)
	}
}

// skipToTimer waits until a timer of duration d is started on the clock,
// passing over the ones started before it, and returns once it is: the
// test may then move the clock past it.
func (c *fakeClock) skipToTimer(t testing.TB, d time.Duration) {
	t.Helper()
	for got := c.nextTimer(t); got != d; got = c.nextTimer(t) {
	}
}
