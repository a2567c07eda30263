//go:build linux

package local_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

var (
	backendOnce sync.Once
	backend     *local.Backend
	backendErr  error
)

// newBackend returns the backend shared by the tests. AIRLOCK_TEST_PYTHON
// overrides the interpreter (CI runs the suite as root and as an ordinary
// user).
func newBackend(t testing.TB) *local.Backend {
	t.Helper()
	backendOnce.Do(func() {
		backend, backendErr = local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON")})
	})
	if backendErr != nil {
		t.Fatalf("local backend: %v", backendErr)
	}
	return backend
}

func limits() sandbox.Limits {
	return sandbox.Limits{
		Timeout:        20 * time.Second,
		MemoryBytes:    512 << 20,
		CPUTime:        20 * time.Second,
		MaxProcesses:   64,
		MaxOutputBytes: 64 << 10,
		MaxFileBytes:   16 << 20,
		MaxOpenFiles:   256,
	}
}

func run(t *testing.T, code string, mod ...func(*sandbox.Limits)) sandbox.Result {
	t.Helper()
	l := limits()
	for _, m := range mod {
		m(&l)
	}
	res, err := newBackend(t).Execute(context.Background(), sandbox.Request{Code: code, Limits: l})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Backend != "local" {
		t.Errorf("backend = %q, want local", res.Backend)
	}
	return res
}

func resultString(r sandbox.Result) string {
	if r.Result == nil {
		return "<nil>"
	}
	return *r.Result
}

func TestExecuteBasics(t *testing.T) {
	tests := []struct {
		name       string
		code       string
		wantStatus sandbox.Status
		wantStdout string
		wantResult string
		wantErr    string // error type
	}{
		{"print", "print('hello')", sandbox.StatusOK, "hello\n", "<nil>", ""},
		{"last expression", "x = 6\nx * 7", sandbox.StatusOK, "", "42", ""},
		{"string repr", "'a' + 'b'", sandbox.StatusOK, "", "'ab'", ""},
		{"exception", "def f():\n    return 1/0\nf()", sandbox.StatusError, "", "<nil>", "ZeroDivisionError"},
		{"stdin is empty", "input()", sandbox.StatusError, "", "<nil>", "EOFError"},
		{"runs as __main__", "__name__", sandbox.StatusOK, "", "'__main__'", ""},
		{"pid 1 of its own namespace", "import os; os.getpid()", sandbox.StatusOK, "", "1", ""},
		{"hostname", "import socket; socket.gethostname()", sandbox.StatusOK, "", "'airlock'", ""},
		{"only loopback", "[l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]", sandbox.StatusOK, "", "['lo']", ""},
		{"working directory", "import os; os.getcwd()", sandbox.StatusOK, "", "'/work'", ""},
		{"writes to /tmp", "open('/tmp/f','w').write('abc'); open('/tmp/f').read()", sandbox.StatusOK, "", "'abc'", ""},
		{"writes to workdir", "open('f','w').write('abc'); open('f').read()", sandbox.StatusOK, "", "'abc'", ""},
		{"threads", "import threading\nr=[]\nts=[threading.Thread(target=r.append, args=(i,)) for i in range(8)]\n[t.start() for t in ts]; [t.join() for t in ts]\nsorted(r)", sandbox.StatusOK, "", "[0, 1, 2, 3, 4, 5, 6, 7]", ""},
		{"subprocess", "import subprocess, sys; subprocess.run([sys.executable, '-c', 'print(5)'], capture_output=True, text=True).stdout", sandbox.StatusOK, "", "'5\\n'", ""},
		{"multiprocessing", "import multiprocessing as mp\nwith mp.Pool(2) as p: r = p.map(abs, [-1, -2])\nr", sandbox.StatusOK, "", "[1, 2]", ""},
		{"memory limit", "b = bytearray(2 << 30)", sandbox.StatusError, "", "<nil>", "MemoryError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, tc.code)
			if res.Status != tc.wantStatus {
				t.Fatalf("status = %s, want %s; result %+v", res.Status, tc.wantStatus, res)
			}
			if res.Stdout != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", res.Stdout, tc.wantStdout)
			}
			if got := resultString(res); got != tc.wantResult {
				t.Errorf("result = %s, want %s", got, tc.wantResult)
			}
			if tc.wantErr != "" && (res.Error == nil || res.Error.Type != tc.wantErr) {
				t.Errorf("error = %+v, want type %s", res.Error, tc.wantErr)
			}
		})
	}
}

func TestTimeoutKillsEverything(t *testing.T) {
	marker := fmt.Sprintf("airlock-timeout-marker-%d", time.Now().UnixNano())
	code := fmt.Sprintf(`import subprocess, sys, os
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", %q], start_new_session=True)
print("started", flush=True)
while True:
    pass`, marker)
	res := run(t, code, func(l *sandbox.Limits) { l.Timeout = 10 * time.Second }) // long enough for "started" on a loaded host
	if res.Status != sandbox.StatusTimeout || !res.TimedOut || res.ExitCode != nil {
		t.Fatalf("want status timeout with timed_out and null exit code, got %+v", res)
	}
	if res.Stdout != "started\n" {
		t.Errorf("output before the timeout was lost: %q", res.Stdout)
	}
	assertNoProcess(t, marker)
}

func TestEnvironmentIsScrubbed(t *testing.T) {
	t.Setenv("AIRLOCK_TEST_TOKEN", "sk-server-secret-value")
	res := run(t, "import os\nprint(dict(os.environ))\nprint(open('/proc/1/environ').read())\nprint(open('/proc/self/cmdline').read())")
	if res.Status != sandbox.StatusOK {
		t.Fatalf("status %s: %+v", res.Status, res)
	}
	for _, leak := range []string{"sk-server-secret-value", "AIRLOCK_TEST_TOKEN", "AIRLOCK_SANDBOX_INIT"} {
		if strings.Contains(res.Stdout, leak) {
			t.Errorf("sandbox sees %q:\n%s", leak, res.Stdout)
		}
	}
}

func TestNoPrivileges(t *testing.T) {
	res := run(t, `import os
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
print(status["Uid"].split()[0], status["CapEff"], status["CapPrm"], status["CapBnd"], status["NoNewPrivs"])`)
	if res.Status != sandbox.StatusOK {
		t.Fatalf("status %s: %+v", res.Status, res)
	}
	f := strings.Fields(res.Stdout)
	if len(f) != 5 {
		t.Fatalf("unexpected output %q", res.Stdout)
	}
	for i, name := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if f[i+1] != "0000000000000000" {
			t.Errorf("%s = %s, want none", name, f[i+1])
		}
	}
	if f[4] != "1" {
		t.Errorf("NoNewPrivs = %s, want 1", f[4])
	}
	if os.Geteuid() == 0 && f[0] == "0" {
		t.Errorf("code runs as uid 0 of the host")
	}
}

func TestOutputIsBounded(t *testing.T) {
	res := run(t, "import sys\nfor i in range(200000): sys.stdout.write('line %d\\n' % i)\nprint('done', file=sys.stderr)")
	if res.Status != sandbox.StatusOK {
		t.Fatalf("status %s", res.Status)
	}
	if !res.Truncated {
		t.Errorf("truncated = false for ~2 MB of output")
	}
	if len(res.Stdout) > limits().MaxOutputBytes+200 {
		t.Errorf("stdout is %d bytes, limit %d", len(res.Stdout), limits().MaxOutputBytes)
	}
	if !strings.HasPrefix(res.Stdout, "line 0\n") || !strings.HasSuffix(res.Stdout, "line 199999\n") {
		t.Errorf("head and tail not kept: %q ... %q", res.Stdout[:20], res.Stdout[len(res.Stdout)-20:])
	}
	if res.Stderr != "done\n" {
		t.Errorf("stderr = %q", res.Stderr)
	}
}

// TestCancellationStopsTheSandbox: cancelling a call that is running kills
// its sandbox, everything the code started included, and returns at once
// as cancelled.
func TestCancellationStopsTheSandbox(t *testing.T) {
	marker := fmt.Sprintf("airlock-cancel-marker-%d", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan sandbox.Result, 1)
	go func() {
		res, err := newBackend(t).Execute(ctx, sandbox.Request{Limits: limits(), Code: fmt.Sprintf(`import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", %q])
time.sleep(600)`, marker)})
		if err != nil {
			t.Errorf("Execute: %v", err)
		}
		done <- res
	}()
	waitForProcess(t, marker, done) // the code runs
	cancel()
	select {
	case res := <-done:
		if res.Status != sandbox.StatusKilled || res.Error == nil || res.Error.Type != "Cancelled" {
			t.Errorf("want killed as cancelled, got %s %+v", res.Status, res.Error)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a cancelled execution did not return")
	}
	assertNoProcess(t, marker)
}

func TestLargeCodeArrivesOnStdin(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "v%d = %d\n", i, i)
	}
	b.WriteString("v19999")
	res := run(t, b.String())
	if res.Status != sandbox.StatusOK || resultString(res) != "19999" {
		t.Fatalf("large code: %+v", res)
	}
}

func TestInheritedDescriptorsAreClosed(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "leak")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("inherited-secret")
	// Clear close-on-exec, as a parent process might have left it.
	if _, err := fcntlClearCloexec(f.Fd()); err != nil {
		t.Fatal(err)
	}
	res := run(t, `import os
out = []
for fd in os.listdir('/proc/self/fd'):
    try:
        out.append(os.readlink('/proc/self/fd/' + fd))
    except OSError:
        pass
print(out)`)
	if strings.Contains(res.Stdout, "leak") {
		t.Errorf("an inherited descriptor reached the sandbox: %s", res.Stdout)
	}
}

func TestConcurrentExecutions(t *testing.T) {
	var wg sync.WaitGroup
	results := make([]sandbox.Result, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(t, fmt.Sprintf("import time; time.sleep(0.3); %d", i))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Status != sandbox.StatusOK || resultString(r) != fmt.Sprint(i) {
			t.Errorf("execution %d: %+v", i, r)
		}
	}
}

// TestModeMatchesPrivileges pins which path the suite exercises: CI runs it
// as root and again as uid 65534 with AIRLOCK_EXPECT_ROOTLESS=1.
func TestModeMatchesPrivileges(t *testing.T) {
	b := newBackend(t)
	want := os.Geteuid() != 0
	if b.Rootless() != want {
		t.Fatalf("Rootless() = %v as uid %d", b.Rootless(), os.Geteuid())
	}
	if os.Getenv("AIRLOCK_EXPECT_ROOTLESS") == "1" && !b.Rootless() {
		t.Fatal("expected the rootless path")
	}
}

// TestWarmSandboxes: a backend keeping sandboxes built ahead of calls gives
// each call a fresh one (nothing written by one call is seen by the next),
// applies the call's own timeout, serves calls with other limits cold, and
// leaves no process behind when closed.
func TestWarmSandboxes(t *testing.T) {
	warm, err := local.New(context.Background(), local.Options{
		Python:        os.Getenv("AIRLOCK_TEST_PYTHON"),
		WarmSandboxes: 2,
		WarmLimits:    limits(),
	})
	if err != nil {
		t.Fatal(err)
	}
	exec := func(code string, l sandbox.Limits) sandbox.Result {
		t.Helper()
		res, err := warm.Execute(context.Background(), sandbox.Request{Code: code, Limits: l})
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		return res
	}
	marker := fmt.Sprintf("airlock-warm-marker-%d", time.Now().UnixNano())
	first := exec("import os\nopen('/tmp/state', 'w').write('x')\nos.getpid()", limits())
	second := exec("import os\nos.path.exists('/tmp/state')", limits())
	if first.Status != sandbox.StatusOK || second.Status != sandbox.StatusOK || resultString(second) != "False" {
		t.Errorf("state crossed from one call to the next: %+v / %+v", first, second)
	}
	short := limits()
	short.Timeout = 1500 * time.Millisecond
	res := exec("while True: pass", short)
	if res.Status != sandbox.StatusTimeout || res.Error == nil || !strings.Contains(res.Error.Message, "1.5 s") {
		t.Errorf("warm call under its own timeout: %+v %+v", res, res.Error)
	}
	other := limits()
	other.MemoryBytes = 256 << 20
	res = exec("import resource; resource.getrlimit(resource.RLIMIT_AS)[0] >> 20", other)
	if resultString(res) != "256" {
		t.Errorf("a call with other limits ran under %s MiB, want 256", resultString(res))
	}
	// Leave one call's background process and the idle warm sandboxes to Close.
	exec(fmt.Sprintf("import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', %q], start_new_session=True)", marker), limits())
	if err := warm.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoProcess(t, marker)
	// The idle warm sandboxes are gone too: no child of this test process
	// remains (this test is not parallel, so no other sandbox runs now).
	if kids := childProcesses(t); len(kids) > 0 {
		t.Errorf("sandboxes outlived Close: pids %v", kids)
	}
	if _, err := warm.Execute(context.Background(), sandbox.Request{Code: "1", Limits: limits()}); err == nil {
		t.Error("a closed backend still executes")
	}
}

// TestNumpyUnderTheSandbox: a compiled extension with its own threads
// (numpy on OpenBLAS, from Debian's python3-numpy, which scripts/test.sh
// installs) works under seccomp, Landlock and the limits.
func TestNumpyUnderTheSandbox(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skipf("numpy is not installed for %s (scripts/test.sh installs python3-numpy): %v", python, err)
	}
	b, err := local.New(context.Background(), local.Options{Python: python})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, err := b.Execute(context.Background(), sandbox.Request{Limits: limits(), Code: `import numpy as np
a = np.arange(90000, dtype=float).reshape(300, 300) / 90000
float(round((a @ a.T).trace(), 3))`})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sandbox.StatusOK || resultString(res) != "29999.5" {
		t.Fatalf("numpy in the sandbox: %s %s %+v\n%s", res.Status, resultString(res), res.Error, res.Stderr)
	}
}
