//go:build linux

package local_test

import (
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// TestCPULimitIsNamed: code that spends its CPU time is stopped at the CPU
// limit and told so every time, however it spins: the interpreter (pid 1
// of the sandbox, killed by SIGKILL at the hard limit), the interpreter
// with the signal the kernel warns with caught or ignored (the server's
// verdict does not depend on the code), a child process (SIGXCPU at the
// limit, which the code's error names), or threads spending it on several
// cores at once. The kernel's accounting of the time is rounded per tick
// and differs from the precise run time; no case may depend on that.
func TestCPULimitIsNamed(t *testing.T) {
	const want = "CPU time limit of 1 s"
	tests := []struct {
		name       string
		code       string
		wantStatus sandbox.Status
		wantType   string
		wantIn     []string
	}{
		{"the interpreter spins", `while True: pass`,
			sandbox.StatusKilled, "Killed", []string{"killed by SIGKILL: exceeded the " + want}},
		{"the interpreter catches SIGXCPU", `import signal
signal.signal(signal.SIGXCPU, lambda *a: print("not me", flush=True))
while True: pass`,
			sandbox.StatusKilled, "Killed", []string{"killed by SIGKILL: exceeded the " + want}},
		{"the interpreter ignores SIGXCPU", `import signal
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
while True: pass`,
			sandbox.StatusKilled, "Killed", []string{"killed by SIGKILL: exceeded the " + want}},
		{"a child process spins", `import subprocess, sys
subprocess.run([sys.executable, "-c", "while True: pass"], check=True)`,
			sandbox.StatusError, "subprocess.CalledProcessError", []string{"SIGXCPU", want}},
		{"threads spin on every core", `import hashlib, threading
def spin():
    data = b"x" * (1 << 20)
    while True:
        hashlib.sha256(data).digest()  # releases the GIL
threads = [threading.Thread(target=spin) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()`,
			sandbox.StatusKilled, "Killed", []string{"killed by SIGKILL: exceeded the " + want}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, tc.code, func(l *sandbox.Limits) {
				l.CPUTime = time.Second
				l.Timeout = 120 * time.Second // a safety net: the CPU limit comes long before
			})
			if res.Status != tc.wantStatus || res.Error == nil || res.Error.Type != tc.wantType {
				t.Fatalf("want %s with a %s error, got %s %+v\nstderr %s", tc.wantStatus, tc.wantType, res.Status, res.Error, res.Stderr)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(res.Error.Message, w) {
					t.Errorf("the error does not say %q: %s", w, res.Error.Message)
				}
			}
		})
	}
}
