package modaltest

import (
	"testing"
	"time"

	modal "github.com/modal-labs/modal-client/go"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
)

// TestSandboxCommand: a sandbox's own command starts with it, in its
// working directory, which its execs share; when the command exits the
// sandbox finishes with the command's exit code (128+N for a signal), as
// Modal's Wait reports it.
func TestSandboxCommand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		command string
		code    int
		status  pb.GenericResult_GenericStatus
	}{
		{"exit 0", "exit 0", 0, pb.GenericResult_GENERIC_STATUS_SUCCESS},
		{"exit 7", "exit 7", 7, pb.GenericResult_GENERIC_STATUS_FAILURE},
		{"SIGSEGV", "kill -SEGV $$", 139, pb.GenericResult_GENERIC_STATUS_FAILURE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, Options{})
			// The command writes a file, then waits for an exec to answer
			// with another, in the directory they share.
			cmd := "echo from-command > marker.tmp && mv marker.tmp marker; until [ -e stop ]; do sleep 0.01; done; " + tc.command
			sb := f.create(t, &modal.SandboxCreateParams{Command: []string{"sh", "-c", cmd}, Workdir: "/work"})
			// The exec reads its stdin to the end first: runExec closes it,
			// and once "stop" exists the sandbox may finish at any moment.
			r := runExec(t, sb, []string{"sh", "-c", "cat >/dev/null; until [ -e marker ]; do sleep 0.01; done; cat marker; touch stop"}, "", &modal.SandboxExecParams{Workdir: "/work"})
			if r.stdout != "from-command\n" || r.code != 0 {
				t.Fatalf("exec: stdout %q, code %d, stderr %q; want the command's file", r.stdout, r.code, r.stderr)
			}
			code, err := sb.Wait(testContext(t), nil)
			if err != nil || code != tc.code {
				t.Fatalf("Wait = %d, %v; want %d", code, err, tc.code)
			}
			info, _ := f.srv.Sandbox(sb.SandboxID)
			if info.Live || info.Status != tc.status || len(info.Command) != 3 || info.Command[2] != cmd {
				t.Errorf("info: live %v, status %v, command %q", info.Live, info.Status, info.Command)
			}
			if n := f.srv.LiveProcesses(); n != 0 {
				t.Errorf("%d processes alive once the command exited", n)
			}
		})
	}
}

// TestSandboxIdleTimeout: a sandbox with an idle timeout is ended that
// long after its last exec ended (its command's work is not activity); an
// exec running holds the countdown off. The test fires the timers itself.
func TestSandboxIdleTimeout(t *testing.T) {
	timers := newManualTimers()
	f := setup(t, Options{afterFunc: timers.afterFunc})
	sb := f.create(t, &modal.SandboxCreateParams{Command: []string{"sleep", "600"}, Timeout: time.Minute, IdleTimeout: 10 * time.Second})
	timers.next(t, time.Minute) // the lifetime
	first := timers.next(t, 10*time.Second)
	info, _ := f.srv.Sandbox(sb.SandboxID)
	if info.IdleTimeout != 10*time.Second || info.Timeout != time.Minute {
		t.Errorf("recorded idle timeout %v, lifetime %v; want 10 s and 1 min", info.IdleTimeout, info.Timeout)
	}
	if r := runExec(t, sb, []string{"true"}, "", nil); r.code != 0 {
		t.Fatalf("exec: %+v", r)
	}
	second := timers.next(t, 10*time.Second) // armed again once the exec ended
	if first.fire() {
		t.Error("the countdown before the exec was still running after the exec started")
	}
	if info, _ := f.srv.Sandbox(sb.SandboxID); !info.Live {
		t.Fatal("the sandbox ended while an idle countdown that an exec replaced fired")
	}
	if !second.fire() {
		t.Fatal("the countdown after the exec was stopped")
	}
	info, _ = f.srv.Sandbox(sb.SandboxID)
	if info.Live || info.Status != pb.GenericResult_GENERIC_STATUS_IDLE_TIMEOUT {
		t.Errorf("after the idle timeout: live %v, status %v; want ended by GENERIC_STATUS_IDLE_TIMEOUT", info.Live, info.Status)
	}
	if n := f.srv.LiveProcesses(); n != 0 {
		t.Errorf("%d processes alive after the idle timeout", n)
	}
}
