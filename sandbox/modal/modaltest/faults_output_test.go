package modaltest

import (
	"io"
	"strings"
	"testing"

	modal "github.com/modal-labs/modal-client/go"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestThrottleOutput: throttled output still arrives whole and in order,
// but in small sends (a tenth of a second's worth each), after the process
// has long exited.
func TestThrottleOutput(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
	const rate = 8 << 10 // 819 bytes a send
	f.srv.ThrottleOutput(rate)
	want := strings.Repeat("0123456789abcdef", 256) // 4 KiB
	p, err := sb.Exec(testContext(t), []string{"python3", "-c", "import sys; sys.stdout.write('" + want + "')"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(testContext(t), nil); err != nil || code != 0 {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	var got strings.Builder
	buf := make([]byte, 1<<20)
	for {
		n, err := p.Stdout.Read(buf)
		if n > rate/10 {
			t.Fatalf("one read returned %d bytes, more than one throttled send (%d)", n, rate/10)
		}
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading throttled stdout: %v", err)
		}
	}
	if got.String() != want {
		t.Errorf("throttled stdout: %d bytes, want the %d written", got.Len(), len(want))
	}
	f.srv.ClearFaults()
	if r := runExec(t, sb, []string{"python3", "-c", "print('x' * 100000, end='')"}, "", nil); len(r.stdout) != 100000 {
		t.Errorf("after ClearFaults: %d bytes", len(r.stdout))
	}
}

// TestDropOutput: a dropped stream delivers its bytes up to the drop point,
// then fails with the injected status, which the SDK hands the reader; the
// other stream is untouched, and a fresh read from past the point fails
// at once.
func TestDropOutput(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
	f.srv.DropOutput(Stderr, 100, status.Error(codes.DataLoss, "stream reset"))
	code := "import sys\nsys.stderr.write('e' * 300)\nsys.stdout.write('o' * 300)"
	r := runExec(t, sb, []string{"python3", "-c", code}, "", nil)
	if r.stderr != strings.Repeat("e", 100) || status.Code(r.errErr) != codes.DataLoss {
		t.Errorf("stderr: %d bytes, error %v; want 100 bytes, then DataLoss", len(r.stderr), r.errErr)
	}
	if r.stdout != strings.Repeat("o", 300) || r.stdoutErr != nil {
		t.Errorf("stdout: %d bytes, error %v; want all 300", len(r.stdout), r.stdoutErr)
	}
	// Past the drop point, the read fails before sending anything.
	router, ctx := rawRouter(t, f.srv, sb.SandboxID)
	info := mustInfo(t, f.srv, sb.SandboxID)
	var execID string
	for _, c := range f.srv.Requests("TaskExecStart") {
		execID = c.(*pb.TaskExecStartRequest).GetExecId()
	}
	stream, err := router.TaskExecStdioRead(ctx, pb.TaskExecStdioReadRequest_builder{
		TaskId: info.TaskID, ExecId: execID, Offset: 150,
		FileDescriptor: pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDERR,
	}.Build())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.DataLoss {
		t.Errorf("a read from past the drop point: %v, want DataLoss", err)
	}
	f.srv.DropOutput(Stderr, 0, nil)
	if r := runExec(t, sb, []string{"python3", "-c", code}, "", nil); len(r.stderr) != 300 || r.errErr != nil {
		t.Errorf("after clearing the drop: %d bytes of stderr, %v", len(r.stderr), r.errErr)
	}
}

// TestDropRouter: when a sandbox's worker vanishes, the control plane says
// it finished (the SDK's Wait and Poll return), its processes are gone,
// and its router answers nothing but Unavailable, to calls in flight and
// new ones alike.
func TestDropRouter(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
	if _, err := sb.Exec(testContext(t), []string{"python3", "-c", "import time; print('up', flush=True); time.sleep(600)"}, nil); err != nil {
		t.Fatal(err)
	}
	await(t, f.srv, "the exec to print", func() bool { return mustInfo(t, f.srv, sb.SandboxID).Stdout == "up\n" })
	router, ctx := rawRouter(t, f.srv, sb.SandboxID)
	info := mustInfo(t, f.srv, sb.SandboxID)
	execID := f.srv.Requests("TaskExecStart")[0].(*pb.TaskExecStartRequest).GetExecId()
	wait := make(chan error, 1)
	go func() {
		_, err := router.TaskExecWait(ctx, pb.TaskExecWaitRequest_builder{TaskId: info.TaskID, ExecId: execID}.Build())
		wait <- err
	}()
	stdout, err := router.TaskExecStdioRead(ctx, pb.TaskExecStdioReadRequest_builder{
		TaskId: info.TaskID, ExecId: execID,
		FileDescriptor: pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDOUT,
	}.Build())
	if err != nil {
		t.Fatal(err)
	}
	// The read is past the router's checks once it has delivered output.
	var out []byte
	for string(out) != "up\n" {
		msg, err := stdout.Recv()
		if err != nil {
			t.Fatalf("stdout read before the router was lost: %q, %v", out, err)
		}
		out = append(out, msg.GetData()...)
	}
	await(t, f.srv, "the wait and the read to reach the router", func() bool {
		return f.srv.InFlight("TaskExecWait") == 1 && f.srv.InFlight("TaskExecStdioRead") == 1
	})

	if err := f.srv.DropRouter(sb.SandboxID); err != nil {
		t.Fatal(err)
	}
	if code, err := sb.Wait(testContext(t), nil); err != nil {
		t.Errorf("Wait on a sandbox whose worker was lost = %d, %v; want it finished", code, err)
	}
	if err := within(t, wait, "the wait in flight to end"); status.Code(err) != codes.Unavailable {
		t.Errorf("the wait in flight: %v, want Unavailable", err)
	}
	if _, err := router.TaskExecPoll(ctx, pb.TaskExecPollRequest_builder{TaskId: info.TaskID, ExecId: execID}.Build()); status.Code(err) != codes.Unavailable {
		t.Errorf("a new router call: %v, want Unavailable", err)
	}
	if n := f.srv.LiveProcesses(); n != 0 {
		t.Errorf("%d processes alive after the worker was lost", n)
	}
	// The read in flight, which had the output, ends with Unavailable.
	for {
		msg, err := stdout.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Errorf("stdout read after the router was lost: %v; want Unavailable", err)
			}
			break
		}
		if len(msg.GetData()) > 0 {
			t.Errorf("stdout read after the router was lost: more output %q", msg.GetData())
		}
	}
	if err := f.srv.DropRouter("sb2-nope"); err == nil {
		t.Error("DropRouter of an unknown id succeeded")
	}
}

// TestOpenConnections: each client's connection counts while it is open,
// and stops counting once the client is closed.
func TestOpenConnections(t *testing.T) {
	srv := startServer(t, Options{})
	if n := srv.OpenConnections(); n != 0 {
		t.Fatalf("%d connections before any client", n)
	}
	mc, err := modal.NewClientWithOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Apps.FromName(testContext(t), "airlock-test", &modal.AppFromNameParams{CreateIfMissing: true}); err != nil {
		t.Fatal(err)
	}
	if n := srv.OpenConnections(); n != 1 {
		t.Errorf("%d connections with one client, want 1", n)
	}
	mc.Close()
	await(t, srv, "the closed client's connection to end", func() bool { return srv.OpenConnections() == 0 })
}
