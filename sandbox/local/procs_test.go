//go:build linux

package local_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// assertNoProcess fails if any host process has marker in its command line.
func assertNoProcess(t *testing.T, marker string) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), marker) {
			t.Errorf("process %s outlived the call: %.200q", e.Name(), strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
}

// childProcesses lists the pids of this process's children.
func childProcesses(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("PPid:\t%d\n", os.Getpid())
	var kids []string
	for _, e := range entries {
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err == nil && strings.Contains(string(status), want) {
			kids = append(kids, e.Name())
		}
	}
	return kids
}

// waitForProcess waits until a host process has marker in its command
// line: the sandboxed code of call, which starts it, has demonstrably run
// that far. There is no event for another process's exec, so it looks at
// /proc until the process is there, or call has ended without it; the
// deadline is only a safety net against a hang.
func waitForProcess(t *testing.T, marker string, call <-chan sandbox.Result) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !processExists(marker) {
		select {
		case res := <-call:
			t.Fatalf("the call ended before its code started %s: %s %+v\nstdout %s\nstderr %s", marker, res.Status, res.Error, res.Stdout, res.Stderr)
		case <-time.After(5 * time.Millisecond): // how often to look, not how long anything takes
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process with %q in its command line appeared", marker)
		}
	}
}

// processExists reports whether a host process has marker in its command
// line.
func processExists(marker string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), marker) {
			return true
		}
	}
	return false
}
