package modaltest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	modal "github.com/modal-labs/modal-client/go"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestExec runs commands for real through the SDK.
func TestExec(t *testing.T) {
	// Must not reach any exec: the server's environment is never passed on.
	t.Setenv("MODALTEST_HOST_SECRET", "leaked")
	f := setup(t, Options{})
	sb := f.create(t, &modal.SandboxCreateParams{
		Timeout: 60 * time.Second,
		Env:     map[string]string{"SANDBOX_VAR": "from-create"},
	})
	info, _ := f.srv.Sandbox(sb.SandboxID)

	tests := []struct {
		name       string
		argv       []string
		stdin      string
		params     *modal.SandboxExecParams
		wantStdout string
		wantStderr string
		wantCode   int
	}{
		{
			name:       "python -c",
			argv:       []string{"python3", "-c", "print(1)"},
			wantStdout: "1\n",
		},
		{
			name:       "stdin round trip",
			argv:       []string{"python3", "-c", "import sys; print(sys.stdin.read().upper(), end='')"},
			stdin:      "hello\nworld\n",
			wantStdout: "HELLO\nWORLD\n",
		},
		{
			name:       "code on stdin reads nothing more",
			argv:       []string{"python", "-"},
			stdin:      "import sys\nprint(repr(sys.stdin.read()))\n",
			wantStdout: "''\n",
		},
		{
			name:       "stdout, stderr and exit code",
			argv:       []string{"/usr/local/bin/python3.12", "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"},
			wantStdout: "out\n",
			wantStderr: "err\n",
			wantCode:   3,
		},
		{
			name:     "killed by a signal",
			argv:     []string{"python3", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"},
			wantCode: 128 + 9,
		},
		{
			name:       "minimal environment",
			argv:       []string{"sh", "-c", `echo "${MODALTEST_HOST_SECRET:-unset} ${MODAL_TOKEN_SECRET:-unset} $SANDBOX_VAR $EXEC_VAR $PATH"`},
			params:     &modal.SandboxExecParams{Env: map[string]string{"EXEC_VAR": "from-exec"}},
			wantStdout: "unset unset from-create from-exec " + searchPath + "\n",
		},
		{
			name:       "workdir mapped into the sandbox directory",
			argv:       []string{"/bin/sh", "-c", "pwd; echo x > f; cat " + filepath.Join(info.Dir, "work", "f")},
			params:     &modal.SandboxExecParams{Workdir: "/work"},
			wantStdout: filepath.Join(info.Dir, "work") + "\nx\n",
		},
		{
			name:       "large output arrives whole",
			argv:       []string{"python3", "-c", "import sys; sys.stdout.write('x' * 3000000); sys.stderr.write('y' * 1000000)"},
			wantStdout: strings.Repeat("x", 3000000),
			wantStderr: strings.Repeat("y", 1000000),
		},
		{
			name:       "bare command looked up in PATH",
			argv:       []string{"echo", "hi"},
			wantStdout: "hi\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runExec(t, sb, tt.argv, tt.stdin, tt.params)
			if r.stdoutErr != nil || r.errErr != nil || r.waitErr != nil {
				t.Fatalf("errors: stdout %v, stderr %v, wait %v", r.stdoutErr, r.errErr, r.waitErr)
			}
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout = %.200q, want %.200q", r.stdout, tt.wantStdout)
			}
			if r.stderr != tt.wantStderr {
				t.Errorf("stderr = %.200q, want %.200q", r.stderr, tt.wantStderr)
			}
			if r.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", r.code, tt.wantCode)
			}
		})
	}
}

// TestExecUnknownCommand: a command that does not exist fails the exec.
func TestExecUnknownCommand(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
	_, err := sb.Exec(testContext(t), []string{"no-such-command-modaltest"}, nil)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("Exec of a missing command: err = %v, want InvalidArgument executable file not found", err)
	}
}

// TestExecTimeout: the server kills the process group when the exec
// timeout passes. Through the SDK: the reads return the output so far then
// modal.ExecTimeoutError; a Wait issued after the deadline returns
// modal.ExecTimeoutError without asking the server, one already in flight
// returns 137 (SIGKILL). A Wait issued right after the reads failed may be
// either: the SDK's reader gives up up to 10 ms before its deadline.
func TestExecTimeout(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, &modal.SandboxCreateParams{Timeout: 60 * time.Second})
	argv := []string{"sh", "-c", "echo started; sleep 30 & sleep 30; echo never"}
	params := &modal.SandboxExecParams{Timeout: time.Second}
	ctx := testContext(t)

	start := time.Now()
	r := runExec(t, sb, argv, "", params)
	elapsed := time.Since(start)
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
	if elapsed > 5*time.Second {
		t.Errorf("exec with a 1 s timeout took %v", elapsed)
	}
	// The whole group died, the backgrounded sleep included.
	eventually(t, 3*time.Second, "the timed out process group to die", func() bool { return f.srv.LiveProcesses() == 0 })

	// A Wait issued well after the deadline.
	p, err := sb.Exec(ctx, argv, params)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	if code, err := p.Wait(ctx, nil); !errors.As(err, &modal.ExecTimeoutError{}) {
		t.Errorf("Wait after the deadline = %d, %v, want modal.ExecTimeoutError", code, err)
	}

	// A Wait already waiting when the timeout kills the process.
	p, err = sb.Exec(ctx, argv, params)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(ctx, nil); err != nil || code != 137 {
		t.Errorf("in-flight Wait = %d, %v, want 137 (SIGKILL)", code, err)
	}

	// The sandbox itself lives on.
	if r := runExec(t, sb, []string{"echo", "still here"}, "", nil); r.stdout != "still here\n" {
		t.Errorf("exec after a timed out exec: %+v", r)
	}
}

// TestExecTimeoutOnTheWire pins what the router itself answers for a timed
// out exec, without the SDK's own deadline in the way: the output so far,
// then DeadlineExceeded on stdout and stderr; SIGKILL from TaskExecWait.
func TestExecTimeoutOnTheWire(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
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

// rawRouter is a router client with the sandbox's bearer token, for tests
// that look at the wire without the SDK.
func rawRouter(t *testing.T, srv *Server, sandboxID string) (pb.TaskCommandRouterClient, context.Context) {
	t.Helper()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	sb := srv.st.lookupSandbox(sandboxID)
	ctx := metadata.AppendToOutgoingContext(testContext(t), "authorization", "Bearer "+srv.routerJWT(sb))
	return pb.NewTaskCommandRouterClient(conn), ctx
}

func mustInfo(t *testing.T, srv *Server, id string) SandboxInfo {
	t.Helper()
	info, ok := srv.Sandbox(id)
	if !ok {
		t.Fatalf("no sandbox %s", id)
	}
	return info
}

// TestTerminateKillsProcesses: terminating a sandbox kills every process it
// started, background ones included, and removes its directory.
func TestTerminateKillsProcesses(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, &modal.SandboxCreateParams{Timeout: 60 * time.Second})
	info, _ := f.srv.Sandbox(sb.SandboxID)
	ctx := testContext(t)

	p, err := sb.Exec(ctx, []string{"sh", "-c", "sleep 30 & sleep 30"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "two sleeps", func() bool { return f.srv.LiveProcesses() >= 2 })

	waitErr := make(chan error, 1)
	go func() {
		_, err := p.Wait(ctx, nil)
		waitErr <- err
	}()
	readErr := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(p.Stdout)
		readErr <- err
	}()

	code, err := sb.Terminate(ctx, &modal.SandboxTerminateParams{Wait: true})
	if err != nil || code != 137 {
		t.Fatalf("Terminate = %d, %v, want 137", code, err)
	}
	if n := f.srv.LiveProcesses(); n != 0 {
		t.Errorf("%d processes alive after Terminate returned", n)
	}
	if _, err := os.Stat(info.Dir); !os.IsNotExist(err) {
		t.Errorf("sandbox dir still there: %v", err)
	}
	if f.srv.LiveSandboxes() != 0 {
		t.Errorf("LiveSandboxes = %d", f.srv.LiveSandboxes())
	}
	for name, ch := range map[string]chan error{"wait": waitErr, "stdout read": readErr} {
		select {
		case err := <-ch:
			if status.Code(errors.Unwrap(err)) != codes.NotFound && status.Code(err) != codes.NotFound {
				t.Errorf("%s on a terminated sandbox: %v, want NotFound", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s still blocked after the sandbox was terminated", name)
		}
	}
	// New execs are refused.
	if _, err := sb.Exec(ctx, []string{"true"}, nil); status.Code(err) != codes.NotFound {
		t.Errorf("Exec on a terminated sandbox: %v, want NotFound", err)
	}
	// Terminating again reports the existing result.
	if code, err := sb.Terminate(ctx, &modal.SandboxTerminateParams{Wait: true}); err != nil || code != 137 {
		t.Errorf("second Terminate = %d, %v", code, err)
	}
}

// TestStdinWrittenBeforeReading: stdin is buffered by the server, so a
// client can write more than a pipe holds before anything reads it.
func TestStdinWrittenBeforeReading(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
	big := strings.Repeat("a", 1<<20) + "\n"
	r := runExec(t, sb, []string{"python3", "-c", "import sys; print(len(sys.stdin.read()))"}, big, nil)
	if r.stdout != "1048577\n" || r.code != 0 {
		t.Fatalf("exec = %.200q code %d", r.stdout, r.code)
	}
}

// TestConcurrentExecs runs several execs in one sandbox at once.
func TestConcurrentExecs(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p, err := sb.Exec(ctx, []string{"python3", "-c", "import sys; print(int(sys.argv[1]) * 2)", strconv.Itoa(i)}, nil)
			if err != nil {
				errs <- err
				return
			}
			out, err := io.ReadAll(p.Stdout)
			if err != nil {
				errs <- err
				return
			}
			if want := strconv.Itoa(i*2) + "\n"; string(out) != want {
				errs <- fmt.Errorf("exec %d: stdout %q, want %q", i, out, want)
				return
			}
			_, err = p.Wait(ctx, nil)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestStdioConfigsOnTheWire: stdout and stderr can be piped, sent to
// /dev/null, or (stderr) merged into stdout.
func TestStdioConfigsOnTheWire(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
	router, ctx := rawRouter(t, f.srv, sb.SandboxID)
	taskID := mustInfo(t, f.srv, sb.SandboxID).TaskID
	const (
		outPipe = pb.TaskExecStdoutConfig_TASK_EXEC_STDOUT_CONFIG_PIPE
		outNull = pb.TaskExecStdoutConfig_TASK_EXEC_STDOUT_CONFIG_DEVNULL
		errPipe = pb.TaskExecStderrConfig_TASK_EXEC_STDERR_CONFIG_PIPE
		errNull = pb.TaskExecStderrConfig_TASK_EXEC_STDERR_CONFIG_DEVNULL
		errOut  = pb.TaskExecStderrConfig_TASK_EXEC_STDERR_CONFIG_STDOUT
	)
	tests := []struct {
		name             string
		out              pb.TaskExecStdoutConfig
		err              pb.TaskExecStderrConfig
		wantOut, wantErr string
	}{
		{"both piped", outPipe, errPipe, "o\n", "e\n"},
		{"both to /dev/null", outNull, errNull, "", ""},
		{"stderr merged into stdout", outPipe, errOut, "o\ne\n", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			execID := fmt.Sprint("e", i)
			if _, err := router.TaskExecStart(ctx, pb.TaskExecStartRequest_builder{
				TaskId: taskID, ExecId: execID, StdoutConfig: tt.out, StderrConfig: tt.err,
				CommandArgs: []string{"sh", "-c", "echo o; sleep 0.1; echo e >&2"},
			}.Build()); err != nil {
				t.Fatal(err)
			}
			read := func(fd pb.TaskExecStdioFileDescriptor) string {
				stream, err := router.TaskExecStdioRead(ctx, pb.TaskExecStdioReadRequest_builder{TaskId: taskID, ExecId: execID, FileDescriptor: fd}.Build())
				if err != nil {
					t.Fatal(err)
				}
				var got []byte
				for {
					msg, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						return string(got)
					}
					if err != nil {
						t.Fatalf("reading %v: %v", fd, err)
					}
					got = append(got, msg.GetData()...)
				}
			}
			if got := read(pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDOUT); got != tt.wantOut {
				t.Errorf("stdout = %q, want %q", got, tt.wantOut)
			}
			if got := read(pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDERR); got != tt.wantErr {
				t.Errorf("stderr = %q, want %q", got, tt.wantErr)
			}
		})
	}
}
