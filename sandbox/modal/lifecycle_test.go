package modal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// sleepCode prints a line, so the test knows it runs, then sleeps.
const sleepCode = "import time\nprint('running', flush=True)\ntime.sleep(120)"

// waitRunning waits until the control plane runs an exec'd process, and
// then a little, for sleepCode's first line to reach the backend.
func waitRunning(t *testing.T, srv *modaltest.Server) {
	t.Helper()
	if !eventually(20*time.Second, func() bool { return srv.LiveProcesses() > 0 }) {
		t.Error("the code never started")
	}
	time.Sleep(500 * time.Millisecond)
}

// TestCancellationTerminatesTheSandbox cancels a call mid-run, as an MCP
// client's notifications/cancelled does: Execute returns promptly with a
// cancelled result, and the sandbox and its processes are gone, although
// cancelling a context does not stop a Modal process by itself.
func TestCancellationTerminatesTheSandbox(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitRunning(t, srv)
		cancel()
	}()
	start := time.Now()
	res, err := b.Execute(ctx, sandbox.Request{Code: sleepCode, Limits: callLimits})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a cancelled call took %s to return", took)
	}
	if res.Status != sandbox.StatusKilled || res.Error == nil || res.Error.Type != "Cancelled" {
		t.Errorf("result = %+v, want a cancelled one", res)
	}
	if res.Stdout != "running\n" {
		t.Errorf("stdout = %q: the output before cancellation is lost", res.Stdout)
	}
	if srv.LiveSandboxes() != 0 || srv.TerminatedSandboxes() != 1 {
		t.Errorf("after cancellation: %d live, %d terminated sandboxes; want 0 and 1", srv.LiveSandboxes(), srv.TerminatedSandboxes())
	}
	if !eventually(2*time.Second, func() bool { return srv.LiveProcesses() == 0 }) {
		t.Errorf("the cancelled code still runs: %d processes", srv.LiveProcesses())
	}
}

// TestCancellationDuringCreate cancels a call while Modal is still
// creating its sandbox: the call returns at once, and the sandbox, once
// created, is terminated rather than left running with no caller.
func TestCancellationDuringCreate(t *testing.T) {
	srv := startCP(t, modaltest.Options{CreateDelay: time.Second})
	b := newBackend(t, srv, baseOptions())
	// Connect first, so the cancellation lands in the creation.
	if _, err := b.session(testContext(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Execute(ctx, sandbox.Request{Code: "print(1)", Limits: callLimits})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Execute = %v, want the context's error", err)
	}
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Errorf("the cancelled call waited %s for the creation", took)
	}
	if !eventually(10*time.Second, func() bool { return srv.CreatedSandboxes() == 1 && srv.LiveSandboxes() == 0 }) {
		t.Errorf("created %d, live %d: the sandbox created for the cancelled call was not terminated", srv.CreatedSandboxes(), srv.LiveSandboxes())
	}
}

// TestCloseTerminatesRunningCalls shuts the backend down under a running
// call: the call ends with a result saying so, and nothing is left.
func TestCloseTerminatesRunningCalls(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	type outcome struct {
		res sandbox.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := b.Execute(context.Background(), sandbox.Request{Code: sleepCode, Limits: callLimits})
		done <- outcome{res, err}
	}()
	waitRunning(t, srv)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case o := <-done:
		if o.err != nil || o.res.Status != sandbox.StatusKilled || !strings.Contains(o.res.Error.Message, "server shut down") {
			t.Errorf("call under Close: %+v, %v", o.res, o.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the running call did not end with Close")
	}
	assertNothingAlive(t, srv)
	if _, err := b.Execute(context.Background(), sandbox.Request{Code: "1", Limits: callLimits}); !errors.Is(err, ErrClosed) {
		t.Errorf("Execute after Close = %v, want ErrClosed", err)
	}
}

// TestBackgroundProcessDoesNotHoldTheCall: a process the code leaves behind
// holding stdout open does not keep the call waiting past a short grace,
// and is killed with the sandbox.
func TestBackgroundProcessDoesNotHoldTheCall(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	code := "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\nprint('left a child')"
	start := time.Now()
	res, err := b.Execute(testContext(t), sandbox.Request{Code: code, Limits: callLimits})
	if err != nil || res.Status != sandbox.StatusOK || res.Stdout != "left a child\n" {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	if took := time.Since(start); took > drainGrace+5*time.Second {
		t.Errorf("the call took %s", took)
	}
	if !eventually(2*time.Second, func() bool { return srv.LiveProcesses() == 0 }) {
		t.Errorf("the background process survived its call: %d processes", srv.LiveProcesses())
	}
}

// TestNewMakesNoCall: building the backend without a pool contacts Modal
// only in the background, and needs no credentials.
func TestNewWithoutCredentials(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	t.Setenv("MODAL_TOKEN_ID", "")
	t.Setenv("MODAL_TOKEN_SECRET", "")
	b := newBackend(t, srv, baseOptions())
	if !eventually(5*time.Second, func() bool { return b.logs.FilterMessageSnippet("cannot run sandboxes yet").Len() == 1 }) {
		t.Errorf("no warning at startup about the missing credentials; logs: %v", b.logs.All())
	}
	if len(srv.Calls()) != 0 {
		t.Errorf("calls without credentials: %v", srv.MethodNames())
	}
}

// TestSandboxLostMidRun: Modal ends the sandbox under the code (preemption,
// an outage): the call ends with a killed result that says so, keeps the
// output so far, and nothing is left.
func TestSandboxLostMidRun(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	go func() {
		waitRunning(t, srv)
		for _, sb := range srv.Sandboxes() {
			if sb.Live {
				_ = srv.TerminateSandbox(sb.ID)
			}
		}
	}()
	res, err := b.Execute(testContext(t), sandbox.Request{Code: sleepCode, Limits: callLimits})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Status != sandbox.StatusKilled || res.Stdout != "running\n" || res.Error == nil || res.Error.Type != "SandboxError" ||
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
	if srv.LiveSandboxes() != 1 || b.logs.FilterMessageSnippet("could not terminate a Modal sandbox").Len() != 1 {
		t.Fatalf("%d live sandboxes, logs %v; want 1 and a warning", srv.LiveSandboxes(), b.logs.All())
	}
	srv.ClearFaults()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if srv.LiveSandboxes() != 0 {
		t.Errorf("Close left the sandbox alive")
	}
}
