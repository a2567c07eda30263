package modaltest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	modal "github.com/modal-labs/modal-client/go"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSandboxLifetime: a sandbox whose timeout passes is terminated by the
// server, processes and all, and reports GENERIC_STATUS_TIMEOUT (exit code
// 124 from the SDK's Wait). The test fires the lifetime timer itself.
func TestSandboxLifetime(t *testing.T) {
	timers := newManualTimers()
	f := setup(t, Options{afterFunc: timers.afterFunc})
	sb := f.create(t, &modal.SandboxCreateParams{Timeout: time.Second})
	lifetime := timers.next(t, time.Second)
	ctx := testContext(t)
	if _, err := sb.Exec(ctx, []string{"sleep", "30"}, nil); err != nil {
		t.Fatal(err)
	}
	if code, err := sb.Poll(ctx, nil); err != nil || code != nil {
		t.Fatalf("Poll while running = %v, %v, want nil, nil", code, err)
	}

	waited := make(chan error, 1)
	go func() {
		code, err := sb.Wait(ctx, nil)
		if err == nil && code != 124 {
			err = fmt.Errorf("exit code %d", code)
		}
		waited <- err
	}()
	if !lifetime.fire() {
		t.Fatal("the lifetime timer was stopped before its time")
	}
	if err := within(t, waited, "Wait to return"); err != nil {
		t.Fatalf("Wait = %v, want 124", err)
	}
	if n := f.srv.LiveProcesses(); n != 0 {
		t.Errorf("%d processes alive after the sandbox timed out", n)
	}
	info, _ := f.srv.Sandbox(sb.SandboxID)
	if info.Live || info.Status != pb.GenericResult_GENERIC_STATUS_TIMEOUT || f.srv.LiveSandboxes() != 0 {
		t.Errorf("after timeout: info %+v, live sandboxes %d", info, f.srv.LiveSandboxes())
	}
	if _, err := sb.Exec(ctx, []string{"true"}, nil); status.Code(err) != codes.NotFound {
		t.Errorf("Exec after timeout: %v, want NotFound", err)
	}
}

// TestListAndFromID: the cleanup path: find sandboxes by tag, reattach by
// id, exec and terminate through the new handle.
func TestListAndFromID(t *testing.T) {
	f := setup(t, Options{})
	mine := f.create(t, &modal.SandboxCreateParams{Tags: map[string]string{"owner": "airlock", "run": "1"}})
	f.create(t, &modal.SandboxCreateParams{Tags: map[string]string{"owner": "someone-else"}})
	done := f.create(t, &modal.SandboxCreateParams{Tags: map[string]string{"owner": "airlock"}})
	ctx := testContext(t)
	if _, err := done.Terminate(ctx, &modal.SandboxTerminateParams{Wait: true}); err != nil {
		t.Fatal(err)
	}

	seq, err := f.mc.Sandboxes.List(ctx, &modal.SandboxListParams{AppID: f.app.AppID, Tags: map[string]string{"owner": "airlock"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for sb, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sb.SandboxID)
	}
	if !slices.Equal(ids, []string{mine.SandboxID}) {
		t.Fatalf("listed %v, want only the live airlock sandbox %s", ids, mine.SandboxID)
	}

	again, err := f.mc.Sandboxes.FromID(ctx, mine.SandboxID, nil)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := again.GetTags(ctx, nil)
	if err != nil || tags["run"] != "1" {
		t.Errorf("GetTags = %v, %v", tags, err)
	}
	if r := runExec(t, again, []string{"echo", "reattached"}, "", nil); r.stdout != "reattached\n" {
		t.Errorf("exec through FromID handle: %+v", r)
	}
	for _, m := range []string{"SandboxGetTaskIdV2", "SandboxGetCommandRouterAccess"} {
		if len(f.srv.Requests(m)) != 1 {
			t.Errorf("%d %s requests, want 1 (a FromID handle looks its task up)", len(f.srv.Requests(m)), m)
		}
	}
	if code, err := again.Terminate(ctx, &modal.SandboxTerminateParams{Wait: true}); err != nil || code != 137 {
		t.Errorf("Terminate through FromID handle = %d, %v", code, err)
	}
	if info, _ := f.srv.Sandbox(mine.SandboxID); info.Live {
		t.Error("sandbox still live after terminating it through its FromID handle")
	}
}

// TestServerSideTerminate: TerminateSandbox stops a sandbox as Modal would
// on its own.
func TestServerSideTerminate(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)
	if err := f.srv.TerminateSandbox(sb.SandboxID); err != nil {
		t.Fatal(err)
	}
	if code, err := sb.Wait(testContext(t), nil); err != nil || code != 137 {
		t.Errorf("Wait = %d, %v, want 137", code, err)
	}
	if err := f.srv.TerminateSandbox("sb2-nope"); err == nil {
		t.Error("TerminateSandbox of an unknown id succeeded")
	}
}

// TestCloseCleansUp: Close terminates every sandbox, kills every process,
// removes every directory and leaves the port closed.
func TestCloseCleansUp(t *testing.T) {
	f := setup(t, Options{})
	ctx := testContext(t)
	var dirs []string
	for range 3 {
		sb, err := f.mc.Sandboxes.Create(ctx, f.app, f.img, nil)
		if err != nil {
			t.Fatal(err)
		}
		// "ready" is written once the backgrounded sleep is forked.
		if _, err := sb.Exec(ctx, []string{"sh", "-c", "sleep 30 & echo ready; sleep 30"}, nil); err != nil {
			t.Fatal(err)
		}
		await(t, f.srv, "the background sleep to start", func() bool { return mustInfo(t, f.srv, sb.SandboxID).Stdout == "ready\n" })
		info, _ := f.srv.Sandbox(sb.SandboxID)
		dirs = append(dirs, info.Dir)
	}
	if n := f.srv.LiveProcesses(); n < 6 {
		t.Fatalf("%d processes alive, want a shell and its background sleep in each sandbox at least", n)
	}

	closed := make(chan struct{})
	go func() {
		f.srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(safetyNet):
		t.Fatal("Close did not return")
	}
	if n := f.srv.LiveProcesses(); n != 0 {
		t.Errorf("%d processes alive after Close", n)
	}
	if n := f.srv.LiveSandboxes(); n != 0 {
		t.Errorf("%d live sandboxes after Close", n)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("sandbox dir %s still there: %v", d, err)
		}
	}
	if _, err := os.Stat(f.srv.baseDir); !os.IsNotExist(err) {
		t.Errorf("server dir still there: %v", err)
	}
	callCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := f.mc.Sandboxes.Create(callCtx, f.app, f.img, nil); err == nil {
		t.Error("Create succeeded after Close")
	}
	f.srv.Close() // twice is fine
	if leaked := serverGoroutines(); len(leaked) > 0 {
		t.Errorf("server goroutines left after Close:\n%s", strings.Join(leaked, "\n\n"))
	}
}

// serverGoroutines returns the stacks of goroutines running server code.
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, frame := range []string{"modaltest.(*Server)", "modaltest.(*routerService)", "modaltest.(*controlService)", "modaltest.pump", "modaltest.(*stdinPipe)", "modaltest.(*process)"} {
			if strings.Contains(g, frame) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
