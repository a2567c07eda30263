package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// The harness tests run the real harness under a real interpreter, with no
// sandbox: the envelope fd is passed through exec.Cmd.ExtraFiles as fd 3.
// AIRLOCK_TEST_PYTHON overrides the interpreter (to check other versions);
// AIRLOCK_SKIP_PYTHON_TESTS=1 skips them where no Python exists.

const defaultTestPython = "/usr/bin/python3"

func testPython(t *testing.T) string {
	t.Helper()
	if os.Getenv("AIRLOCK_SKIP_PYTHON_TESTS") == "1" {
		t.Skip("AIRLOCK_SKIP_PYTHON_TESTS=1")
	}
	py := os.Getenv("AIRLOCK_TEST_PYTHON")
	if py == "" {
		py = defaultTestPython
	}
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("test interpreter: %v (set AIRLOCK_TEST_PYTHON, or AIRLOCK_SKIP_PYTHON_TESTS=1)", err)
	}
	return py
}

// harnessRun is the outcome of one real run of the harness.
type harnessRun struct {
	res      Result
	exit     ProcessExit
	envelope []byte
	nonce    string
}

// runHarness runs code through the harness started with args (HarnessArgs
// or PrecompiledHarnessArgs) as a backend would and finalizes the result.
// opts.EnvelopeFD is forced to 3; opts.MaxReprBytes defaults to
// ReprLimit(limits).
func runHarness(t *testing.T, args []string, code string, opts HarnessOptions, limits Limits) harnessRun {
	t.Helper()
	py := testPython(t)
	if limits.MaxOutputBytes == 0 {
		limits.MaxOutputBytes = 1 << 20
	}
	if limits.Timeout == 0 {
		limits.Timeout = 30 * time.Second
	}
	opts.EnvelopeFD = 3
	if opts.MaxReprBytes == 0 {
		opts.MaxReprBytes = ReprLimit(limits)
	}
	inv, err := NewInvocation(code, opts)
	if err != nil {
		t.Fatalf("NewInvocation: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), limits.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Dir = t.TempDir()
	cmd.Stdin = bytes.NewReader(inv.Stdin)
	stdout, stderr := NewOutputBuffer(limits.MaxOutputBytes), NewOutputBuffer(limits.MaxOutputBytes)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatalf("start %s: %v", py, err)
	}
	w.Close()
	type read struct {
		data []byte
		err  error
	}
	envCh := make(chan read, 1)
	go func() {
		data, err := ReadEnvelope(r, envelopeBound(opts.MaxReprBytes))
		envCh <- read{data, err}
	}()
	waitErr := cmd.Wait()
	exit := ProcessExit{Duration: time.Since(start), TimedOut: ctx.Err() != nil}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		t.Fatalf("wait: %v", waitErr)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		exit.Signal = ws.Signal()
	} else {
		exit.ExitCode = ws.ExitStatus()
	}
	var env read
	select {
	case env = <-envCh:
	case <-time.After(10 * time.Second):
		t.Fatal("the envelope channel stayed open after the process exited (fd leaked to a subprocess?)")
	}
	if env.err != nil {
		t.Fatalf("read envelope: %v", env.err)
	}
	return harnessRun{
		res:      Finalize("test", exit, env.data, inv.Nonce, stdout, stderr, limits),
		exit:     exit,
		envelope: env.data,
		nonce:    inv.Nonce,
	}
}

// compileHarness compiles the harness with the test interpreter, as the
// local backend does at startup.
func compileHarness(t *testing.T) []byte {
	t.Helper()
	args, stdin := HarnessCompiler()
	cmd := exec.Command(testPython(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	code, err := cmd.Output()
	if err != nil || len(code) == 0 {
		t.Fatalf("compile the harness: %v", err)
	}
	return code
}

func strp(s string) *string { return &s }
func intp(n int) *int       { return &n }

func resultJSON(r Result) string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}

func TestHarness(t *testing.T) {
	type want struct {
		status    Status
		exitCode  *int    // nil: exit_code must be null
		result    *string // nil: result must be null, unless anyResult
		anyResult bool    // result is checked by check
		errType   string  // "" means error must be nil
		stdout    *string
		stderr    *string
	}
	tests := []struct {
		name   string
		code   string
		opts   HarnessOptions
		limits Limits
		want   want
		check  func(t *testing.T, run harnessRun)
	}{
		{
			name: "print",
			code: `print("hello")`,
			want: want{status: StatusOK, exitCode: intp(0), stdout: strp("hello\n"), stderr: strp("")},
		},
		{
			name: "unicode output",
			code: `print("héllo ✓ 🐍")`,
			want: want{status: StatusOK, exitCode: intp(0), stdout: strp("héllo ✓ 🐍\n")},
		},
		{
			name: "last expression repr",
			code: "1+1",
			want: want{status: StatusOK, exitCode: intp(0), result: strp("2")},
		},
		{
			name: "last expression None",
			code: "None",
			want: want{status: StatusOK, exitCode: intp(0)},
		},
		{
			name: "last expression string shows quotes",
			code: `'a' + "b"`,
			want: want{status: StatusOK, exitCode: intp(0), result: strp("'ab'")},
		},
		{
			name: "statements then expression",
			code: "x = 21\nx * 2",
			want: want{status: StatusOK, exitCode: intp(0), result: strp("42")},
		},
		{
			name: "last statement not an expression",
			code: "x = 1",
			want: want{status: StatusOK, exitCode: intp(0)},
		},
		{
			name: "exception with traceback of the user's lines only",
			code: "def f():\n    return 1/0\n\nf()",
			want: want{status: StatusError, exitCode: intp(1), errType: "ZeroDivisionError", stderr: strp("")},
			check: func(t *testing.T, run harnessRun) {
				e := run.res.Error
				if e.Message != "division by zero" {
					t.Errorf("message = %q", e.Message)
				}
				tb := e.Traceback
				if !strings.HasPrefix(tb, "Traceback (most recent call last):\n  File \"<code>\", line 4, in <module>\n") {
					t.Errorf("traceback does not start at the user's code:\n%s", tb)
				}
				for _, s := range []string{`File "<code>", line 2, in f`, "return 1/0", "ZeroDivisionError: division by zero"} {
					if !strings.Contains(tb, s) {
						t.Errorf("traceback lacks %q:\n%s", s, tb)
					}
				}
				for _, s := range []string{"<string>", "_run", "_main", "harness"} {
					if strings.Contains(tb, s) {
						t.Errorf("traceback shows harness detail %q:\n%s", s, tb)
					}
				}
			},
		},
		{
			name: "exception class defined by the code",
			code: "class MyError(Exception):\n    pass\nraise MyError('boom')",
			want: want{status: StatusError, exitCode: intp(1), errType: "MyError"},
		},
		{
			name: "exception class from a module is qualified",
			code: "import json\njson.loads('{')",
			want: want{status: StatusError, exitCode: intp(1), errType: "json.decoder.JSONDecodeError"},
		},
		{
			name: "syntax error shows the line and a caret",
			code: "x = 1\n1 +",
			want: want{status: StatusError, exitCode: intp(1), errType: "SyntaxError", stderr: strp("")},
			check: func(t *testing.T, run harnessRun) {
				tb := run.res.Error.Traceback
				for _, s := range []string{`File "<code>", line 2`, "1 +", "^", "SyntaxError"} {
					if !strings.Contains(tb, s) {
						t.Errorf("traceback lacks %q:\n%s", s, tb)
					}
				}
				if strings.Contains(tb, "Traceback (most recent call last)") || strings.Contains(tb, "<string>") {
					t.Errorf("syntax error traceback shows harness frames:\n%s", tb)
				}
			},
		},
		{
			name: "repr raising is an error",
			code: "class Bad:\n    def __repr__(self):\n        raise ValueError('no repr')\nBad()",
			want: want{status: StatusError, exitCode: intp(1), errType: "ValueError"},
			check: func(t *testing.T, run harnessRun) {
				tb := run.res.Error.Traceback
				if !strings.Contains(tb, `line 3, in __repr__`) || strings.Contains(tb, "<string>") {
					t.Errorf("traceback:\n%s", tb)
				}
			},
		},
		{
			name: "sys.exit(0)",
			code: "import sys\nprint('x')\nsys.exit(0)\nprint('not reached')",
			want: want{status: StatusOK, exitCode: intp(0), stdout: strp("x\n")},
		},
		{
			name: "sys.exit()",
			code: "import sys\nsys.exit()",
			want: want{status: StatusOK, exitCode: intp(0)},
		},
		{
			name: "sys.exit(3)",
			code: "import sys\nsys.exit(3)",
			want: want{status: StatusError, exitCode: intp(3), errType: "SystemExit", stderr: strp("")},
			check: func(t *testing.T, run harnessRun) {
				if run.res.Error.Message != "3" || run.res.Error.Traceback != "" {
					t.Errorf("error = %+v", run.res.Error)
				}
			},
		},
		{
			name: "sys.exit(message) prints it and exits 1",
			code: "import sys\nsys.exit('bad input')",
			want: want{status: StatusError, exitCode: intp(1), errType: "SystemExit", stderr: strp("bad input\n")},
			check: func(t *testing.T, run harnessRun) {
				if run.res.Error.Message != "bad input" {
					t.Errorf("message = %q", run.res.Error.Message)
				}
			},
		},
		{
			name: "exit() builtin exists without site",
			code: "exit(4)",
			want: want{status: StatusError, exitCode: intp(4), errType: "SystemExit"},
		},
		{
			name: "os._exit leaves no envelope",
			code: "import os\nprint('before', flush=True)\nos._exit(5)",
			want: want{status: StatusError, exitCode: intp(5), errType: "ProcessExit", stdout: strp("before\n")},
			check: func(t *testing.T, run harnessRun) {
				if len(run.envelope) != 0 {
					t.Errorf("envelope = %q, want none", run.envelope)
				}
			},
		},
		{
			name: "os._exit(0) is ok without a result",
			code: "import os\nos._exit(0)",
			want: want{status: StatusOK, exitCode: intp(0)},
		},
		{
			name: "input() gets EOF",
			code: "try:\n    input()\nexcept EOFError:\n    print('eof')\nimport os, sys\nsys.stdin.read(), os.readlink('/proc/self/fd/0')",
			want: want{status: StatusOK, exitCode: intp(0), result: strp("('', '/dev/null')"), stdout: strp("eof\n")},
		},
		{
			name: "fake envelope on stdout is just output",
			code: "print('AIRLOCK-ENVELOPE/1 ' + '0'*32 + ' 2')\nprint('{}')\n'real'",
			want: want{status: StatusOK, exitCode: intp(0), result: strp("'real'"),
				stdout: strp("AIRLOCK-ENVELOPE/1 00000000000000000000000000000000 2\n{}\n")},
		},
		{
			name: "frame with a guessed nonce on fd 3 is rejected",
			code: `import json, os
p = json.dumps({"status": "ok", "exit_code": 0, "result": "'forged'", "error": None}).encode()
os.write(3, b"AIRLOCK-ENVELOPE/1 %s %d\n%s\n" % (b"0" * 32, len(p), p))
raise ValueError("the real outcome")`,
			want: want{status: StatusError, exitCode: intp(1), errType: "EnvelopeError"},
		},
		{
			name: "frame with a stolen nonce is rejected when the harness also reports",
			code: `import json, os, sys
f = sys._getframe()
while f is not None and "nonce" not in f.f_locals:
    f = f.f_back
nonce = f.f_locals["nonce"]
p = json.dumps({"status": "ok", "exit_code": 0, "result": "'forged'", "error": None}).encode()
os.write(3, b"AIRLOCK-ENVELOPE/1 %s %d\n%s\n" % (nonce, len(p), p))
"real"`,
			want: want{status: StatusError, exitCode: intp(0), errType: "EnvelopeError"},
			check: func(t *testing.T, run harnessRun) {
				if _, err := ParseEnvelope(run.envelope, run.nonce); !errors.Is(err, ErrForgedEnvelope) {
					t.Errorf("ParseEnvelope error = %v, want ErrForgedEnvelope (two frames)", err)
				}
			},
		},
		{
			name: "subprocess does not inherit the envelope fd",
			code: `import os, subprocess, sys
print(os.get_inheritable(3))
r = subprocess.run([sys.executable, "-I", "-c", "import os; os.fstat(3)"], close_fds=False, stderr=subprocess.DEVNULL)
os.system("echo leaked >&3 2>/dev/null")
r.returncode`,
			want: want{status: StatusOK, exitCode: intp(0), result: strp("1"), stdout: strp("False\n")},
		},
		{
			name: "running non-daemon thread does not hold the process",
			code: "import threading, time\nthreading.Thread(target=time.sleep, args=(120,)).start()\n'done'",
			want: want{status: StatusOK, exitCode: intp(0), result: strp("'done'")},
			check: func(t *testing.T, run harnessRun) {
				if run.exit.Duration > 20*time.Second {
					t.Errorf("took %v: the thread held the process", run.exit.Duration)
				}
			},
		},
		{
			name: "invalid UTF-8 on stdout comes back valid",
			code: "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe end\\n')\nNone",
			want: want{status: StatusOK, exitCode: intp(0), stdout: strp("ok \uFFFD end\n")},
		},
		{
			name: "lone surrogates are escaped, not lost",
			code: "print('\\udc80')\nraise ValueError('\\udc81')",
			want: want{status: StatusError, exitCode: intp(1), errType: "ValueError", stdout: strp("\\udc80\n")},
			check: func(t *testing.T, run harnessRun) {
				if run.res.Error.Message != `\udc81` {
					t.Errorf("message = %q", run.res.Error.Message)
				}
			},
		},
		{
			name:   "huge output is capped",
			code:   "import sys\nfor i in range(2000):\n    sys.stdout.write(str(i) + 'x' * 4096 + '\\n')",
			limits: Limits{MaxOutputBytes: 64 << 10},
			want:   want{status: StatusOK, exitCode: intp(0)},
			check: func(t *testing.T, run harnessRun) {
				out := run.res.Stdout
				if !run.res.Truncated || len(out) > 64<<10 || !strings.Contains(out, "bytes omitted") {
					t.Errorf("truncated=%v len=%d", run.res.Truncated, len(out))
				}
				if !strings.HasPrefix(out, "0xxx") || !strings.HasSuffix(out, "x\n") || !strings.Contains(out, "\n1999x") {
					t.Errorf("head or tail lost: %q ... %q", out[:20], out[len(out)-20:])
				}
			},
		},
		{
			name: "result repr is capped",
			code: "'x' * 100000",
			opts: HarnessOptions{MaxReprBytes: 1024},
			want: want{status: StatusOK, exitCode: intp(0), anyResult: true},
			check: func(t *testing.T, run harnessRun) {
				if run.res.Result == nil {
					t.Fatal("result is null")
				}
				r := *run.res.Result
				if len(r) > 1024 || !strings.HasPrefix(r, "'xxx") || !strings.HasSuffix(r, "xx'") || !strings.Contains(r, "bytes omitted") {
					t.Errorf("len=%d result=%q", len(r), r)
				}
			},
		},
		{
			name: "deep recursion traceback is capped",
			code: "import sys\nsys.setrecursionlimit(50)\ndef f():\n    return f()\nf()",
			opts: HarnessOptions{MaxReprBytes: 2048},
			want: want{status: StatusError, exitCode: intp(1), errType: "RecursionError"},
			check: func(t *testing.T, run harnessRun) {
				if tb := run.res.Error.Traceback; len(tb) > 2048 || !strings.HasPrefix(tb, "Traceback") {
					t.Errorf("len=%d traceback=%q", len(tb), tb)
				}
			},
		},
		{
			name: "runs as __main__",
			code: `import __main__, pickle, sys
class Point:
    pass
assert __name__ == "__main__" and __main__.Point is Point
assert sys.argv == [""], sys.argv
assert "nonce" not in vars(__main__) and "_main" not in vars(__main__)
pickle.loads(pickle.dumps(Point())).__class__.__name__`,
			want: want{status: StatusOK, exitCode: intp(0), result: strp("'Point'")},
		},
		{
			name: "sys.path gets workdir first and sys_path last",
			code: "import sys\nsys.path[0], sys.path[-1]",
			opts: HarnessOptions{Workdir: "/work-dir", SysPath: []string{"/site-a", "/site-b"}},
			want: want{status: StatusOK, exitCode: intp(0), result: strp("('/work-dir', '/site-b')")},
		},
		{
			name: "atexit handlers run and their errors are swallowed",
			code: "import atexit\natexit.register(print, 'bye')\ndef boom():\n    raise RuntimeError('in atexit')\n_ = atexit.register(boom)",
			want: want{status: StatusOK, exitCode: intp(0), stdout: strp("bye\n")},
		},
		{
			name: "closed stdout does not lose the envelope",
			code: "import sys\nsys.stdout.close()\nsys.stdout = None\n42",
			want: want{status: StatusOK, exitCode: intp(0), result: strp("42")},
		},
		{
			name: "patched os and json do not break reporting",
			code: "import json, os\njson.dumps = os.write = os._exit = None\n'still'",
			want: want{status: StatusOK, exitCode: intp(0), result: strp("'still'")},
		},
		{
			name: "KeyboardInterrupt is an error",
			code: "raise KeyboardInterrupt",
			want: want{status: StatusError, exitCode: intp(1), errType: "KeyboardInterrupt"},
		},
		{
			name: "killed by a signal",
			code: "import os, signal\nprint('dying', flush=True)\nos.kill(os.getpid(), signal.SIGTERM)",
			want: want{status: StatusKilled, errType: "Killed", stdout: strp("dying\n")},
			check: func(t *testing.T, run harnessRun) {
				if run.res.Error.Message != "killed by SIGTERM" {
					t.Errorf("message = %q", run.res.Error.Message)
				}
			},
		},
	}
	forms := []struct {
		name string
		args []string
	}{
		{"source", HarnessArgs(0)},
		{"precompiled", PrecompiledHarnessArgs(compileHarness(t), 0)},
	}
	for _, form := range forms {
		for _, tc := range tests {
			t.Run(form.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				run := runHarness(t, form.args, tc.code, tc.opts, tc.limits)
				res := run.res
				defer func() {
					if t.Failed() {
						t.Logf("result: %s\nenvelope: %q", resultJSON(res), run.envelope)
					}
				}()
				if res.Status != tc.want.status {
					t.Errorf("status = %q, want %q", res.Status, tc.want.status)
				}
				switch {
				case tc.want.exitCode == nil && res.ExitCode != nil:
					t.Errorf("exit_code = %d, want null", *res.ExitCode)
				case tc.want.exitCode != nil && (res.ExitCode == nil || *res.ExitCode != *tc.want.exitCode):
					t.Errorf("exit_code = %v, want %d", res.ExitCode, *tc.want.exitCode)
				}
				switch {
				case tc.want.result == nil && res.Result != nil && !tc.want.anyResult:
					t.Errorf("result = %q, want null", *res.Result)
				case tc.want.result != nil && (res.Result == nil || *res.Result != *tc.want.result):
					t.Errorf("result = %v, want %q", res.Result, *tc.want.result)
				}
				switch {
				case tc.want.errType == "" && res.Error != nil:
					t.Errorf("error = %+v, want null", *res.Error)
				case tc.want.errType != "" && (res.Error == nil || res.Error.Type != tc.want.errType):
					t.Errorf("error = %+v, want type %q", res.Error, tc.want.errType)
				}
				if tc.want.stdout != nil && res.Stdout != *tc.want.stdout {
					t.Errorf("stdout = %q, want %q", res.Stdout, *tc.want.stdout)
				}
				if tc.want.stderr != nil && res.Stderr != *tc.want.stderr {
					t.Errorf("stderr = %q, want %q", res.Stderr, *tc.want.stderr)
				}
				if !utf8.ValidString(res.Stdout) || !utf8.ValidString(res.Stderr) {
					t.Error("output is not valid UTF-8")
				}
				if res.Backend != "test" {
					t.Errorf("backend = %q", res.Backend)
				}
				validateResult(t, res)
				if tc.check != nil {
					tc.check(t, run)
				}
			})
		}
	}
}

func TestHarnessArgs(t *testing.T) {
	if ready := HarnessArgs(7); len(ready) != 7 || ready[6] != "7" {
		t.Errorf("HarnessArgs(7) = %q, want the ready fd after the source", ready)
	}
	args := HarnessArgs(0)
	want := []string{"-I", "-S", "-u", "-B", "-c"}
	if len(args) != 6 || strings.Join(args[:5], " ") != strings.Join(want, " ") {
		t.Fatalf("args = %q, want %q + source", args[:min(len(args), 5)], want)
	}
	if !strings.Contains(args[5], "AIRLOCK-ENVELOPE/1") {
		t.Error("the last argument is not the harness source")
	}
	args[0] = "mutated"
	if HarnessArgs(0)[0] != "-I" {
		t.Error("HarnessArgs shares its slice between calls")
	}
}

func TestNewInvocation(t *testing.T) {
	inv, err := NewInvocation("print('hi')\n", HarnessOptions{EnvelopeFD: 3, SysPath: []string{"/a"}, Workdir: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Nonce) != 32 || strings.Trim(inv.Nonce, "0123456789abcdef") != "" {
		t.Errorf("nonce %q is not 128 bits of hex", inv.Nonce)
	}
	parts := bytes.SplitN(inv.Stdin, []byte("\n"), 3)
	if len(parts) != 3 || string(parts[2]) != "print('hi')\n" {
		t.Fatalf("stdin = %q", inv.Stdin)
	}
	if want := "AIRLOCK-HARNESS/2 " + inv.Nonce + " 3 " + fmt.Sprint(DefaultMaxReprBytes) + " 0 0 0"; string(parts[0]) != want {
		t.Errorf("header line = %q, want %q", parts[0], want)
	}
	if string(parts[1]) != "/w\x00/a" {
		t.Errorf("paths line = %q, want workdir then sys_path, NUL-separated", parts[1])
	}
	other, err := NewInvocation("", HarnessOptions{EnvelopeFD: 3})
	if err != nil {
		t.Fatal(err)
	}
	if other.Nonce == inv.Nonce {
		t.Error("two invocations share a nonce")
	}
	if p := bytes.SplitN(other.Stdin, []byte("\n"), 3); len(p) != 3 || len(p[1]) != 0 {
		t.Errorf("no workdir and no sys_path should give an empty paths line: %q", other.Stdin)
	}

	for _, bad := range []struct {
		name string
		code string
		opts HarnessOptions
	}{
		{"invalid UTF-8 code", "\xff", HarnessOptions{EnvelopeFD: 3}},
		{"fd 1", "", HarnessOptions{EnvelopeFD: 1}},
		{"repr too small", "", HarnessOptions{EnvelopeFD: 3, MaxReprBytes: 10}},
		{"repr too large", "", HarnessOptions{EnvelopeFD: 3, MaxReprBytes: DefaultMaxReprBytes + 1}},
		{"negative repr", "", HarnessOptions{EnvelopeFD: 3, MaxReprBytes: -1}},
		{"NUL in sys_path", "", HarnessOptions{EnvelopeFD: 3, SysPath: []string{"/a\x00b"}}},
		{"invalid UTF-8 workdir", "", HarnessOptions{EnvelopeFD: 3, Workdir: "/\xff"}},
		{"newline in sys_path", "", HarnessOptions{EnvelopeFD: 3, SysPath: []string{"/a\nb"}}},
	} {
		if _, err := NewInvocation(bad.code, bad.opts); err == nil {
			t.Errorf("%s: NewInvocation accepted it", bad.name)
		}
	}
}

func TestReprLimit(t *testing.T) {
	for _, tc := range []struct {
		out, want int
	}{
		{0, DefaultMaxReprBytes},
		{1 << 30, DefaultMaxReprBytes},
		{8 << 10, 8 << 10},
		{100, 1 << 10},
	} {
		if got := ReprLimit(Limits{MaxOutputBytes: tc.out}); got != tc.want {
			t.Errorf("ReprLimit(MaxOutputBytes=%d) = %d, want %d", tc.out, got, tc.want)
		}
		if _, err := NewInvocation("", HarnessOptions{EnvelopeFD: 3, MaxReprBytes: ReprLimit(Limits{MaxOutputBytes: tc.out})}); err != nil {
			t.Errorf("NewInvocation rejects ReprLimit's value: %v", err)
		}
	}
}

// TestHarnessSignalsReadyBeforeReadingCode: with a ready fd, the harness
// writes ReadyByte there while still waiting for its code, and the envelope
// follows it on the same channel once the code has run.
func TestHarnessSignalsReadyBeforeReadingCode(t *testing.T) {
	py := testPython(t)
	inv, err := NewInvocation("6*7", HarnessOptions{EnvelopeFD: 3})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, HarnessArgs(3)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var ready [1]byte
	if _, err := io.ReadFull(r, ready[:]); err != nil || ready[0] != ReadyByte {
		t.Fatalf("ready signal = %q, %v", ready, err)
	}
	// Only now does the code arrive.
	stdin.Write(inv.Stdin)
	stdin.Close()
	data, err := ReadEnvelope(r, MaxEnvelopeBytes(Limits{MaxOutputBytes: 1 << 16}))
	if err != nil {
		t.Fatalf("read envelope: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("harness: %v", err)
	}
	env, err := ParseEnvelope(data, inv.Nonce)
	if err != nil || env.Result == nil || *env.Result != "42" {
		t.Fatalf("envelope after the ready byte: %+v, %v (%q)", env, err, data)
	}
}
