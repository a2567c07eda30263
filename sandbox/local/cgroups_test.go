//go:build linux

package local_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// TestStartupKeepsALiveServersCgroups: a server that starts removes what
// dead servers left behind (TestStaleCgroupsAreTheDeadServersOnly has the
// cases) but never the cgroups of a live one, which carry its uid slot in
// their names, whatever process id follows it (the kernel reuses pids); and
// a finished call leaves no cgroup of its own.
func TestStartupKeepsALiveServersCgroups(t *testing.T) {
	live := newBackend(t)
	parents := live.CgroupParents()
	if parents == nil {
		t.Skip("no cgroups for this server (rootless)")
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	liveName := fmt.Sprintf("slot%d-%d-1", uidSlot(t, live), dead.Process.Pid)
	for _, p := range parents {
		dir := filepath.Join(p, liveName)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(dir) })
	}
	fresh, err := local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON")})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, p := range parents {
		if _, err := os.Stat(filepath.Join(p, liveName)); err != nil {
			t.Errorf("a server's start removed the cgroup %s of a live server: %v", filepath.Join(p, liveName), err)
		}
	}
	if res, err := fresh.Execute(context.Background(), sandbox.Request{Code: "print('leave nothing')", Limits: limits()}); err != nil || res.Status != sandbox.StatusOK {
		t.Fatalf("%v %+v", err, res)
	}
	own := fmt.Sprintf("slot%d-", uidSlot(t, fresh))
	for _, p := range parents {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), own) {
				t.Errorf("a finished call left its cgroup %s", filepath.Join(p, e.Name()))
			}
		}
	}
}

// uidSlot is the slot of b's uid range.
func uidSlot(t *testing.T, b *local.Backend) int {
	t.Helper()
	first, last, ok := b.UIDRange()
	if !ok {
		t.Fatal("a root backend has no uid range")
	}
	return (first - local.DefaultUIDBase) / (last - first + 1)
}

// TestCodeRunsInsideItsCgroups: the server moves each sandbox into its
// memory and pids cgroups while the interpreter starts; the code, and what
// it starts, must only ever run inside them — built on demand or warm.
func TestCodeRunsInsideItsCgroups(t *testing.T) {
	if newBackend(t).CgroupParents() == nil {
		t.Skip("no cgroups for this server (rootless)")
	}
	warm, err := local.New(context.Background(), local.Options{
		Python: os.Getenv("AIRLOCK_TEST_PYTHON"), WarmSandboxes: 1, WarmLimits: limits(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer warm.Close()
	if err := warm.WaitWarm(context.Background()); err != nil {
		t.Fatal(err)
	}
	code := `import subprocess
print(open("/proc/self/cgroup").read())
print(subprocess.run(["cat", "/proc/self/cgroup"], capture_output=True, text=True).stdout)`
	for _, tc := range []struct {
		name    string
		backend *local.Backend
	}{{"on demand", newBackend(t)}, {"warm", warm}} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.backend.Execute(context.Background(), sandbox.Request{Code: code, Limits: limits()})
			if err != nil || res.Status != sandbox.StatusOK {
				t.Fatalf("%v %+v", err, res)
			}
			for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
				_, controllers, _ := strings.Cut(line, ":")
				ctrl, path, _ := strings.Cut(controllers, ":")
				if (ctrl == "memory" || ctrl == "pids") && !strings.Contains(path, "/airlock-sandboxes/") {
					t.Errorf("code runs outside its %s cgroup: %s", ctrl, line)
				}
			}
			if n := strings.Count(res.Stdout, "/airlock-sandboxes/"); n != 4 {
				t.Errorf("want the memory and pids cgroups of the code and its child, got %d lines naming them:\n%s", n, res.Stdout)
			}
		})
	}
}
