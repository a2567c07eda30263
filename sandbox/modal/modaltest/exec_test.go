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

	// "ready" is written once the backgrounded sleep is forked.
	p, err := sb.Exec(ctx, []string{"sh", "-c", "sleep 30 & echo ready; sleep 30"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	await(t, f.srv, "the background sleep to start", func() bool { return mustInfo(t, f.srv, sb.SandboxID).Stdout == "ready\n" })
	if n := f.srv.LiveProcesses(); n < 2 {
		t.Fatalf("%d processes alive, want the shell and its background sleep at least", n)
	}

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
		case <-time.After(safetyNet):
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
				CommandArgs: []string{"sh", "-c", "echo o; echo e >&2"}, // one process writes both, in this order
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
