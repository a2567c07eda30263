package modal

import (
	"strings"
	"testing"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestAnswerDoesNotWaitForTermination: the result goes out while Modal is
// still terminating the sandbox (here, never until the test says so); the
// sandbox stays counted until Modal confirms it is gone.
func TestAnswerDoesNotWaitForTermination(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	release := srv.Hold("SandboxTerminateV2")
	defer release()
	o := within(t, executeAsync(testContext(t), b, sandbox.Request{Code: "6*7", Limits: callLimits}), "the answer, with the termination held")
	if o.err != nil || o.res.Result == nil || *o.res.Result != "42" {
		t.Fatalf("Execute: %+v, %v", o.res, o.err)
	}
	await(t, srv, "the termination to reach Modal", func() bool { return srv.InFlight("SandboxTerminateV2") == 1 })
	if n := b.Sandboxes(); n != 1 {
		t.Errorf("the sandbox being terminated counts %d, want 1", n)
	}
	release()
	awaitGone(t, b, srv)
}

// TestTimeoutAnswersDespiteHungTermination: a call that times out answers
// with its timeout although Modal never answers the termination: it reads
// what Modal sends for killedDrainTimeout (on the fake clock), not for as
// long as the termination takes. Its output is what had arrived by then.
func TestTimeoutAnswersDespiteHungTermination(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, clk := newPoolBackend(t, srv, baseOptions(), 0)
	release := srv.Hold("SandboxTerminateV2")
	defer release()
	done := executeAsync(testContext(t), b, sandbox.Request{Code: sleepCode, Limits: callLimits})
	clk.skipToTimer(t, callLimits.Timeout)
	awaitStdout(t, srv, "running\n")
	clk.Advance(callLimits.Timeout)
	clk.skipToTimer(t, killedDrainTimeout)
	await(t, srv, "the termination to reach Modal", func() bool { return srv.InFlight("SandboxTerminateV2") == 1 })
	clk.Advance(killedDrainTimeout)
	o := within(t, done, "the timed-out call to answer")
	if o.err != nil || o.res.Status != sandbox.StatusTimeout || !strings.HasPrefix("running\n", o.res.Stdout) {
		t.Fatalf("Execute: %+v, %v; want a timeout with what had arrived of the output", o.res, o.err)
	}
	if n := srv.InFlight("SandboxTerminateV2"); n != 1 || b.Sandboxes() != 1 {
		t.Errorf("%d terminations in flight, %d sandboxes counted once the call answered; want 1 and 1", n, b.Sandboxes())
	}
	release()
	awaitGone(t, b, srv)
}

// TestShutdownBoundedByItsTimeout: Close gives up on a termination Modal
// never answers once its timeout (on the fake clock) has passed, and says
// how many sandboxes it could not confirm terminated.
func TestShutdownBoundedByItsTimeout(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, clk := newPoolBackend(t, srv, baseOptions(), 0)
	release := srv.Hold("SandboxTerminateV2")
	defer release()
	if _, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits}); err != nil {
		t.Fatal(err)
	}
	await(t, srv, "the termination to reach Modal", func() bool { return srv.InFlight("SandboxTerminateV2") == 1 })
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	clk.skipToTimer(t, closeTimeout)
	clk.Advance(closeTimeout)
	err := within(t, closed, "Close to give up at its timeout")
	if err == nil || !strings.Contains(err.Error(), "1 sandbox(es) could not be terminated, or Modal did not confirm it in time") {
		t.Errorf("Close = %v, want it to count the sandbox left", err)
	}
	if b.logs.FilterMessageSnippet("after the shutdown timeout").Len() != 1 {
		t.Errorf("Close did not log that it gave up: %v", b.logs.All())
	}
	// Modal's lifetime would end the sandbox; the test ends it itself.
	for _, sb := range srv.Sandboxes() {
		_ = srv.TerminateSandbox(sb.ID)
	}
}

// TestDeadSandboxEndsTheCall: when the machine under a sandbox fails (its
// router stops answering, which the SDK retries), the call ends as a
// SandboxError with the output so far as soon as Modal's control plane
// says the sandbox stopped, not at its timeout, which here never comes
// (the fake clock does not move past it).
func TestDeadSandboxEndsTheCall(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, clk := newPoolBackend(t, srv, baseOptions(), 0)
	done := executeAsync(testContext(t), b, sandbox.Request{Code: sleepCode, Limits: callLimits})
	awaitStdout(t, srv, "running\n")
	id := srv.Sandboxes()[0].ID
	if err := srv.DropRouter(id); err != nil {
		t.Fatal(err)
	}
	// The SDK reopens stdout where it stopped reading: past "running\n",
	// which the backend therefore has.
	await(t, srv, "the backend to have read the output before the failure", func() bool {
		for _, m := range srv.Requests("TaskExecStdioRead") {
			r := m.(*pb.TaskExecStdioReadRequest)
			if r.GetFileDescriptor() == pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDOUT && r.GetOffset() == uint64(len("running\n")) {
				return true
			}
		}
		return false
	})
	clk.skipToTimer(t, killedDrainTimeout)
	clk.Advance(killedDrainTimeout)
	o := within(t, done, "the call on the dead sandbox to end")
	if o.err != nil {
		t.Fatalf("Execute: %v", o.err)
	}
	if res := o.res; res.Status != sandbox.StatusKilled || res.Stdout != "running\n" || res.Error == nil || res.Error.Type != "SandboxError" ||
		!strings.Contains(res.Error.Message, "the Modal sandbox failed while the code ran (Modal reports it stopped") {
		t.Errorf("result %+v, error %+v; want killed, a SandboxError, the output so far", res, res.Error)
	}
	awaitGone(t, b, srv)
}

// TestPooledSandboxDeadWhileIdle: a pooled sandbox that stopped while idle
// is not given to a call: the call runs in a fresh sandbox and succeeds.
func TestPooledSandboxDeadWhileIdle(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, clk := newPoolBackend(t, srv, baseOptions(), 1)
	waitPoolFull(t, b, clk, 1)
	pooled := srv.Sandboxes()[0].ID
	if err := srv.TerminateSandbox(pooled); err != nil {
		t.Fatal(err)
	}
	res, err := b.Execute(testContext(t), sandbox.Request{Code: "6*7", Limits: callLimits})
	if err != nil || res.Status != sandbox.StatusOK || res.Result == nil || *res.Result != "42" {
		t.Fatalf("Execute: %+v, %v; want the code's result", res, err)
	}
	if res.SandboxID == pooled {
		t.Errorf("the call ran in the dead pooled sandbox %s", pooled)
	}
	if b.logs.FilterMessageSnippet("stopped while idle").Len() != 1 {
		t.Errorf("the dead pooled sandbox was not logged: %v", b.logs.All())
	}
}

// TestHungStdinWriteDoesNotHoldClose: a stdin write Modal never answers
// (the SDK gives it no context to cancel) does not keep Close waiting: Close
// ends the call and returns while the write is still held, without
// reaching its own timeout (on the fake clock, which does not move).
func TestHungStdinWriteDoesNotHoldClose(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, _ := newPoolBackend(t, srv, baseOptions(), 0)
	release := srv.Hold("TaskExecStdinWrite")
	defer release()
	done := executeAsync(testContext(t), b, sandbox.Request{Code: "1", Limits: callLimits})
	await(t, srv, "the stdin write to reach Modal", func() bool { return srv.InFlight("TaskExecStdinWrite") == 1 })
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	if err := within(t, closed, "Close, with the stdin write held"); err != nil {
		t.Errorf("Close: %v", err)
	}
	if o := within(t, done, "the call to end"); o.err != nil || o.res.Error == nil || !strings.Contains(o.res.Error.Message, "the server is shutting down") {
		t.Errorf("the call under Close: %+v, %v", o.res, o.err)
	}
	if n := srv.InFlight("TaskExecStdinWrite"); n != 1 {
		t.Errorf("%d stdin writes held after Close returned, want 1 (Close did not wait for it)", n)
	}
	if b.logs.FilterMessageSnippet("shutdown timeout").Len() != 0 || b.logs.FilterMessageSnippet("still in flight").Len() != 0 {
		t.Errorf("Close waited for the stdin write: %v", b.logs.All())
	}
}
