//go:build linux

package local_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// Two servers on one host (here two backends, each as fresh as a server
// that just started) must not share their sandboxes' identity: the kernel
// counts the process limit per uid, so one tenant's sandbox could starve
// another's.

// newServer starts a backend of its own, closed when the test ends.
func newServer(t *testing.T) *local.Backend {
	t.Helper()
	b, err := local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON")})
	if err != nil {
		t.Fatalf("local backend: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestTwoServersSandboxesHaveDifferentUIDs: as root, each server's
// sandboxes run as uids of the range that server claimed, and the ranges
// of two servers do not overlap.
func TestTwoServersSandboxesHaveDifferentUIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: sandboxes run as root of their own user namespace, and the process limit is counted per namespace")
	}
	servers := []*local.Backend{newServer(t), newServer(t)}
	var uids []int
	for i, b := range servers {
		first, last, ok := b.UIDRange()
		if !ok {
			t.Fatal("a root backend has no uid range")
		}
		res, err := b.Execute(context.Background(), sandbox.Request{Code: "import os; os.getuid()", Limits: limits()})
		if err != nil || res.Status != sandbox.StatusOK {
			t.Fatalf("server %d: %v %+v", i, err, res)
		}
		uid, err := strconv.Atoi(resultString(res))
		if err != nil || uid < first || uid > last {
			t.Errorf("server %d: the sandbox ran as uid %s, outside the server's range %d-%d", i, resultString(res), first, last)
		}
		uids = append(uids, uid)
	}
	if uids[0] == uids[1] {
		t.Errorf("two servers' sandboxes share uid %d", uids[0])
	}
	f0, l0, _ := servers[0].UIDRange()
	f1, l1, _ := servers[1].UIDRange()
	if f0 <= l1 && f1 <= l0 {
		t.Errorf("the servers' uid ranges overlap: %d-%d and %d-%d", f0, l0, f1, l1)
	}
}

// TestOneServersSandboxCannotStarveAnothers: a sandbox of one server holds
// every process its limit allows; a sandbox of another server still starts
// a process. Root and rootless alike.
func TestOneServersSandboxCannotStarveAnothers(t *testing.T) {
	l := limits()
	l.MaxProcesses = 8
	l.Timeout = 60 * time.Second // a safety net; the test cancels the call
	marker := fmt.Sprintf("airlock-starve-%d", time.Now().UnixNano())
	full := marker + "-full"
	first, second := newServer(t), newServer(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hog := make(chan sandbox.Result, 1)
	go func() {
		res, err := first.Execute(ctx, sandbox.Request{Limits: l, Code: fmt.Sprintf(`import subprocess, sys, time
def sleeper(tag):
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", tag])
kids = []
while True:
    try:
        kids.append(sleeper(%q))
    except OSError:
        break
# At the limit: trade one sleeper for the one that says so.
kids[0].kill(); kids[0].wait()
sleeper(%q)
time.sleep(600)`, marker, full)})
		if err != nil {
			t.Errorf("Execute: %v", err)
		}
		hog <- res
	}()
	waitForProcess(t, full, hog) // the first server's sandbox holds every process it may

	res, err := second.Execute(context.Background(), sandbox.Request{Limits: l, Code: `import subprocess, sys
subprocess.run([sys.executable, "-c", "print('started')"], capture_output=True, text=True, check=True).stdout`})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sandbox.StatusOK || resultString(res) != `'started\n'` {
		t.Errorf("the other server's sandbox could not start a process: %s %s %+v", res.Status, resultString(res), res.Error)
	}
	cancel()
	if r := <-hog; r.Status != sandbox.StatusKilled {
		t.Errorf("the hog ended %s, want killed by the cancellation: %+v\n%s", r.Status, r.Error, r.Stderr)
	}
	assertNoProcess(t, marker)
}
