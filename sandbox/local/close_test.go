//go:build linux

package local_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// TestExecuteAfterCloseLeaksNothing: a call that reaches a closed backend
// (a server shutting down) is refused, and leaves no descriptor open: the
// sandbox's pipes, stdin's included, are opened before the backend finds
// it is closed, and must all be closed again.
func TestExecuteAfterCloseLeaksNothing(t *testing.T) {
	b, err := local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON")})
	if err != nil {
		t.Fatalf("local backend: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	before := openDescriptors(t)
	for range 3 {
		_, err := b.Execute(context.Background(), sandbox.Request{Code: "1", Limits: limits()})
		if err == nil || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("Execute on a closed backend = %v, want it refused as closed", err)
		}
	}
	for fd, target := range openDescriptors(t) {
		if before[fd] != target {
			t.Errorf("descriptor %s (%s) was left open by a refused call", fd, target)
		}
	}
}

// openDescriptors maps this process's open descriptors to what they are.
func openDescriptors(t *testing.T) map[string]string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := map[string]string{}
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil {
			fds[e.Name()] = target
		}
	}
	return fds
}
