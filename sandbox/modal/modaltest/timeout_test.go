package modaltest

import (
	"errors"
	"testing"
	"time"

	modal "github.com/modal-labs/modal-client/go"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestExecTimeout: the server kills the process group when the exec
// timeout passes. Through the SDK: the reads return the output so far then
// modal.ExecTimeoutError; a Wait issued after the deadline returns
// modal.ExecTimeoutError without asking the server, one already in flight
// returns 137 (SIGKILL). A Wait issued right after the reads failed may be
// either: the SDK's reader gives up up to 10 ms before its deadline.
//
// The SDK keeps the exec's deadline by the clock, so these cases run on
// the clock, with the shortest timeout the SDK can ask for; what they wait
// for is the clock passing that deadline, never a guess of how long
// something takes.
func TestExecTimeout(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, &modal.SandboxCreateParams{Timeout: 60 * time.Second})
	argv := []string{"sh", "-c", "echo started; sleep 30 & sleep 30; echo never"}
	params := &modal.SandboxExecParams{Timeout: time.Second}
	ctx := testContext(t)

	r := runExec(t, sb, argv, "", params)
	if r.stdout != "started\n" {
		t.Errorf("stdout = %q, want the output before the timeout", r.stdout)
	}
	for name, err := range map[string]error{"stdout read": r.stdoutErr, "stderr read": r.errErr} {
		if !errors.As(err, &modal.ExecTimeoutError{}) {
			t.Errorf("%s error = %v (%T), want modal.ExecTimeoutError", name, err, err)
		}
	}
	if !errors.As(r.waitErr, &modal.ExecTimeoutError{}) && (r.waitErr != nil || r.code != 137) {
		t.Errorf("Wait right after the reads = %d, %v, want modal.ExecTimeoutError or 137", r.code, r.waitErr)
	}
	// The whole group died, the backgrounded sleep included.
	pollProcesses(t, "the timed out process group to die", func() bool { return f.srv.LiveProcesses() == 0 })

	// A Wait issued after the deadline: the SDK answers it without asking.
	p, err := sb.Exec(ctx, argv, params)
	if err != nil {
		t.Fatal(err)
	}
	waitPast(time.Now().Add(params.Timeout)) // the SDK's deadline is before this instant
	waits := len(f.srv.Requests("TaskExecWait"))
	if code, err := p.Wait(ctx, nil); !errors.As(err, &modal.ExecTimeoutError{}) {
		t.Errorf("Wait after the deadline = %d, %v, want modal.ExecTimeoutError", code, err)
	}
	if n := len(f.srv.Requests("TaskExecWait")) - waits; n != 0 {
		t.Errorf("a Wait after the deadline made %d TaskExecWait calls, want none", n)
	}

	// The sandbox itself lives on.
	if r := runExec(t, sb, []string{"echo", "still here"}, "", nil); r.stdout != "still here\n" {
		t.Errorf("exec after a timed out exec: %+v", r)
	}
}

// TestExecTimeoutKillsUnderAWait: a Wait already in flight when the exec's
// timeout kills the process returns 137 (SIGKILL). The server's timer is
// fired by the test once the Wait has reached the server; the SDK's own
// deadline is far away.
func TestExecTimeoutKillsUnderAWait(t *testing.T) {
	timers := newManualTimers()
	f := setup(t, Options{afterFunc: timers.afterFunc})
	sb := f.create(t, &modal.SandboxCreateParams{Timeout: time.Hour})
	timers.next(t, time.Hour) // the sandbox's lifetime
	ctx := testContext(t)
	p, err := sb.Exec(ctx, []string{"sh", "-c", "sleep 30 & sleep 30"}, &modal.SandboxExecParams{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	timeout := timers.next(t, 20*time.Second)
	type waited struct {
		code int
		err  error
	}
	done := make(chan waited, 1)
	go func() {
		code, err := p.Wait(ctx, nil)
		done <- waited{code, err}
	}()
	await(t, f.srv, "the Wait to reach the server", func() bool { return f.srv.InFlight("TaskExecWait") == 1 })
	if !timeout.fire() {
		t.Fatal("the exec's timer was stopped before its time")
	}
	if w := within(t, done, "the Wait to return"); w.err != nil || w.code != 137 {
		t.Errorf("in-flight Wait = %d, %v, want 137 (SIGKILL)", w.code, w.err)
	}
	pollProcesses(t, "the timed out process group to die", func() bool { return f.srv.LiveProcesses() == 0 })
}

// TestExecTimeoutOnTheWire pins what the router itself answers for a timed
// out exec, without the SDK's own deadline in the way: the output so far,
// then DeadlineExceeded on stdout and stderr; SIGKILL from TaskExecWait.
// The test fires the exec's timer once the output is there.
func TestExecTimeoutOnTheWire(t *testing.T) {
	timers := newManualTimers()
	f := setup(t, Options{afterFunc: timers.afterFunc})
	sb := f.create(t, nil)
	timers.next(t, 300*time.Second) // the default lifetime
	router, ctx := rawRouter(t, f.srv, sb.SandboxID)
	taskID := mustInfo(t, f.srv, sb.SandboxID).TaskID
	secs := uint32(1)
	if _, err := router.TaskExecStart(ctx, pb.TaskExecStartRequest_builder{
		TaskId: taskID, ExecId: "e1", TimeoutSecs: &secs,
		CommandArgs:  []string{"sh", "-c", "echo started; echo warn >&2; sleep 30"},
		StdoutConfig: pb.TaskExecStdoutConfig_TASK_EXEC_STDOUT_CONFIG_PIPE,
		StderrConfig: pb.TaskExecStderrConfig_TASK_EXEC_STDERR_CONFIG_PIPE,
	}.Build()); err != nil {
		t.Fatal(err)
	}
	timeout := timers.next(t, time.Second)
	await(t, f.srv, "the exec's output", func() bool {
		info := mustInfo(t, f.srv, sb.SandboxID)
		return info.Stdout == "started\n" && info.Stderr == "warn\n"
	})
	if !timeout.fire() {
		t.Fatal("the exec's timer was stopped before its time")
	}
	for fd, want := range map[pb.TaskExecStdioFileDescriptor]string{
		pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDOUT: "started\n",
		pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDERR: "warn\n",
	} {
		stream, err := router.TaskExecStdioRead(ctx, pb.TaskExecStdioReadRequest_builder{TaskId: taskID, ExecId: "e1", FileDescriptor: fd}.Build())
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for {
			msg, err := stream.Recv()
			if err != nil {
				if status.Code(err) != codes.DeadlineExceeded {
					t.Errorf("fd %v ended with %v, want DeadlineExceeded", fd, err)
				}
				break
			}
			got = append(got, msg.GetData()...)
		}
		if string(got) != want {
			t.Errorf("fd %v = %q, want %q", fd, got, want)
		}
	}
	resp, err := router.TaskExecWait(ctx, pb.TaskExecWaitRequest_builder{TaskId: taskID, ExecId: "e1"}.Build())
	if err != nil || !resp.HasSignal() || resp.GetSignal() != 9 {
		t.Errorf("TaskExecWait = %v, %v, want signal 9", resp, err)
	}
}
