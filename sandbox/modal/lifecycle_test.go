package modal

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// sleepCode prints a line, so the test knows it runs, then sleeps for
// longer than any test waits.
const sleepCode = "import time\nprint('running', flush=True)\ntime.sleep(600)"

// TestCancellationTerminatesTheSandbox cancels a call mid-run, as an MCP
// client's notifications/cancelled does: Execute returns with a cancelled
// result and the output so far, and the sandbox and its processes are
// gone, although cancelling a context does not stop a Modal process by
// itself. The clock is a fake that does not move: the output is read until
// the termination ends it, however long that takes.
func TestCancellationTerminatesTheSandbox(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, _ := newPoolBackend(t, srv, baseOptions(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := executeAsync(ctx, b, sandbox.Request{Code: sleepCode, Limits: callLimits})
	awaitStdout(t, srv, "running\n")
	cancel()
	o := within(t, done, "the cancelled call to return")
	if o.err != nil {
		t.Fatalf("Execute: %v", o.err)
	}
	if res := o.res; res.Status != sandbox.StatusKilled || res.Error == nil || res.Error.Type != "Cancelled" {
		t.Errorf("result = %+v, want a cancelled one", res)
	}
	if o.res.Stdout != "running\n" {
		t.Errorf("stdout = %q: the output before cancellation is lost", o.res.Stdout)
	}
	// The sandbox is terminated; Modal answers a termination once the
	// sandbox's processes are gone.
	awaitGone(t, b, srv)
	if n := srv.TerminatedSandboxes(); n != 1 {
		t.Errorf("after cancellation: %d terminated sandboxes; want 1", n)
	}
}

// TestCancellationDuringCreate cancels a call while Modal is still
// creating its sandbox: the call returns without waiting for the creation,
// and the sandbox, once created, is terminated rather than left running
// with no caller.
func TestCancellationDuringCreate(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	// Connect first, so the cancellation lands in the creation.
	if _, err := b.session(testContext(t)); err != nil {
		t.Fatal(err)
	}
	release := srv.Hold("SandboxCreateV2")
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := executeAsync(ctx, b, sandbox.Request{Code: "print(1)", Limits: callLimits})
	await(t, srv, "the creation to reach Modal", func() bool { return srv.InFlight("SandboxCreateV2") == 1 })
	cancel()
	// The creation is still held: a call that waited for it would not return.
	if o := within(t, done, "the cancelled call to return"); !errors.Is(o.err, context.Canceled) {
		t.Fatalf("Execute = %+v, %v; want the context's error", o.res, o.err)
	}
	release()
	await(t, srv, "the sandbox created for the cancelled call to be terminated", func() bool {
		return srv.CreatedSandboxes() == 1 && srv.LiveSandboxes() == 0
	})
}

// TestCloseTerminatesRunningCalls shuts the backend down under a running
// call: the call ends with a result saying so, and nothing is left.
func TestCloseTerminatesRunningCalls(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	done := executeAsync(context.Background(), b, sandbox.Request{Code: sleepCode, Limits: callLimits})
	awaitStdout(t, srv, "running\n")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	o := within(t, done, "the running call to end with Close")
	if o.err != nil || o.res.Status != sandbox.StatusKilled || !strings.Contains(o.res.Error.Message, "the server is shutting down") {
		t.Errorf("call under Close: %+v, %v", o.res, o.err)
	}
	assertNothingAlive(t, srv)
	if _, err := b.Execute(context.Background(), sandbox.Request{Code: "1", Limits: callLimits}); !errors.Is(err, ErrClosed) {
		t.Errorf("Execute after Close = %v, want ErrClosed", err)
	}
}

// TestBackgroundProcessDoesNotHoldTheCall: a process the code leaves behind
// holding stdout open does not keep the call waiting (it would wait for
// longer than the test does), and is killed with the sandbox.
func TestBackgroundProcessDoesNotHoldTheCall(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	code := "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\nprint('left a child')"
	o := within(t, executeAsync(testContext(t), b, sandbox.Request{Code: code, Limits: callLimits}), "the call to return")
	if o.err != nil || o.res.Status != sandbox.StatusOK || o.res.Stdout != "left a child\n" {
		t.Fatalf("Execute: %+v, %v", o.res, o.err)
	}
	awaitGone(t, b, srv) // the background process with it
}

// TestNewWithoutCredentials: building the backend without a pool contacts
// Modal only in the background, and needs no credentials.
func TestNewWithoutCredentials(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	t.Setenv("MODAL_TOKEN_ID", "")
	t.Setenv("MODAL_TOKEN_SECRET", "")
	b := newBackend(t, srv, baseOptions())
	b.awaitLog(t, "cannot run sandboxes yet", 1)
	if n := b.logs.FilterMessageSnippet("cannot run sandboxes yet").Len(); n != 1 {
		t.Errorf("%d warnings at startup about the missing credentials, want 1", n)
	}
	if len(srv.Calls()) != 0 {
		t.Errorf("calls without credentials: %v", srv.MethodNames())
	}
}

// TestSandboxLostMidRun: Modal ends the sandbox under the code (preemption,
// an outage): the call ends with a killed result that says so, keeps the
// output so far, and nothing is left. The clock is a fake that does not
// move, as in TestCancellationTerminatesTheSandbox.
func TestSandboxLostMidRun(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, _ := newPoolBackend(t, srv, baseOptions(), 0)
	done := executeAsync(testContext(t), b, sandbox.Request{Code: sleepCode, Limits: callLimits})
	awaitStdout(t, srv, "running\n")
	for _, sb := range srv.Sandboxes() {
		if sb.Live {
			if err := srv.TerminateSandbox(sb.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	o := within(t, done, "the call to end with its sandbox")
	if o.err != nil {
		t.Fatalf("Execute: %v", o.err)
	}
	if res := o.res; res.Status != sandbox.StatusKilled || res.Stdout != "running\n" || res.Error == nil || res.Error.Type != "SandboxError" ||
		!strings.Contains(res.Error.Message, "the Modal sandbox failed while the code ran (") {
		t.Errorf("result = %+v, error %+v", res, res.Error)
	}
}

// TestTerminateFailureRetriedAtClose: when Modal refuses a termination, the
// call still returns its result, the failure is logged, and Close tries
// again, so the sandbox does not outlive the server's shutdown.
func TestTerminateFailureRetriedAtClose(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	srv.FailRPC("SandboxTerminateV2", -1, status.Error(codes.FailedPrecondition, "try later"))
	res, err := b.Execute(testContext(t), sandbox.Request{Code: "6*7", Limits: callLimits})
	if err != nil || res.Result == nil || *res.Result != "42" {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	b.awaitLog(t, "could not terminate a Modal sandbox", 1)
	if n := len(srv.Requests("SandboxTerminateV2")); n != terminateAttempts || srv.LiveSandboxes() != 1 || b.Sandboxes() != 1 {
		t.Fatalf("%d termination attempts, %d live sandboxes, %d counted by the backend; want %d, 1 and 1", n, srv.LiveSandboxes(), b.Sandboxes(), terminateAttempts)
	}
	srv.ClearFaults()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if srv.LiveSandboxes() != 0 {
		t.Errorf("Close left the sandbox alive")
	}
}
