//go:build linux

package local_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// TestDoctorReportsKernelSurfaces: doctor states, from inside a real
// sandbox, that only UNIX, IPv4 and IPv6 sockets are allowed, and whether
// memfd and System V IPC are allowed (a memory cgroup bounds them) or
// refused (nothing would).
func TestDoctorReportsKernelSurfaces(t *testing.T) {
	checks, ok := local.Diagnose(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON")})
	if !ok {
		t.Fatalf("doctor says the backend cannot run: %+v", checks)
	}
	wantMemory := "refused"
	if newBackend(t).CgroupsActive() {
		wantMemory = "allowed"
	}
	want := map[string]string{"socket families": "AF_UNIX, AF_INET and AF_INET6 only", "memfd and System V IPC": wantMemory}
	for _, c := range checks {
		prefix, mine := want[c.Name]
		if !mine {
			continue
		}
		delete(want, c.Name)
		if c.State != local.CheckOK || !strings.HasPrefix(c.Detail, prefix) {
			t.Errorf("%s: [%s] %s; want ok, starting %q", c.Name, c.State, c.Detail, prefix)
		}
	}
	for name := range want {
		t.Errorf("doctor has no %q check", name)
	}
}
