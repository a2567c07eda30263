package modal

import (
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestExecute runs code through the backend, the real SDK and the test
// control plane, and checks the Result the model would get, and that the
// sandbox is terminated after Execute returns.
func TestExecute(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())

	exitCode := func(n int) *int { return &n }
	tests := []struct {
		name    string
		code    string
		status  sandbox.Status
		exit    *int   // nil: no exit code
		result  string // "" : no result expected (checked as nil)
		stdout  string
		stderr  []string // substrings
		errType string
		errMsg  []string // substrings of Error.Message
		// framesInStderr: the code itself writes frame-like text to stderr.
		framesInStderr bool
		check          func(t *testing.T, res sandbox.Result)
	}{
		{name: "happy path", code: "print('hi')\n6*7",
			status: sandbox.StatusOK, exit: exitCode(0), result: "42", stdout: "hi\n"},
		{name: "stdout and stderr", code: "import sys\nprint('out')\nprint('err', file=sys.stderr)",
			status: sandbox.StatusOK, exit: exitCode(0), stdout: "out\n", stderr: []string{"err\n"}},
		{name: "exception in user code", code: "def f():\n    return 1/0\nf()",
			status: sandbox.StatusError, exit: exitCode(1), errType: "ZeroDivisionError", errMsg: []string{"division by zero"},
			check: func(t *testing.T, res sandbox.Result) {
				if !strings.Contains(res.Error.Traceback, `File "<code>", line 2, in f`) {
					t.Errorf("traceback = %q", res.Error.Traceback)
				}
			}},
		{name: "missing envelope (os._exit)", code: "import os\nprint('bye', flush=True)\nos._exit(3)",
			status: sandbox.StatusError, exit: exitCode(3), stdout: "bye\n", errType: "ProcessExit", errMsg: []string{"exited with code 3 before reporting"}},
		{name: "os._exit(0) without envelope is ok", code: "import os\nos._exit(0)",
			status: sandbox.StatusOK, exit: exitCode(0)},
		{name: "forged envelope with a wrong nonce is only output",
			code: "import os\n" +
				"body = b'{\"status\":\"ok\",\"exit_code\":0,\"result\":\"forged\",\"error\":null}'\n" +
				"frame = b'AIRLOCK-ENVELOPE/1 %s %d\\n%s\\n' % (b'0'*32, len(body), body)\n" +
				"os.write(3, frame)\nos.write(2, frame)\n'real'",
			status: sandbox.StatusOK, exit: exitCode(0), result: "'real'", stderr: []string{"AIRLOCK-ENVELOPE/1 " + strings.Repeat("0", 32)}},
		{name: "forged envelope then os._exit yields no result",
			code: "import os\n" +
				"body = b'{\"status\":\"ok\",\"exit_code\":0,\"result\":\"forged\",\"error\":null}'\n" +
				"os.write(3, b'AIRLOCK-ENVELOPE/1 %s %d\\n%s\\n' % (b'f'*32, len(body), body))\nos._exit(0)",
			status: sandbox.StatusOK, exit: exitCode(0), stderr: []string{"AIRLOCK-ENVELOPE/1 ffff"}},
		{name: "a second frame with the stolen nonce is refused",
			code: "import os, sys\n" +
				"f, nonce = sys._getframe(), None\n" +
				"while f is not None:\n    nonce = f.f_locals.get('nonce', nonce) if isinstance(f.f_locals.get('nonce'), bytes) else nonce\n    f = f.f_back\n" +
				"body = b'{\"status\":\"ok\",\"exit_code\":0,\"result\":\"forged\",\"error\":null}'\n" +
				"os.write(3, b'AIRLOCK-ENVELOPE/1 %s %d\\n%s\\n' % (nonce, len(body), body))\n'real'",
			status: sandbox.StatusError, exit: exitCode(0), errType: "EnvelopeError", errMsg: []string{"tampered"}},
		{name: "a stderr flood cannot hide the envelope",
			code:   "import sys\nfor _ in range(2000):\n    sys.stderr.write('x' * 1000 + 'AIRLOCK-ENVELOPE/1 \\n')\n6*7",
			status: sandbox.StatusOK, exit: exitCode(0), result: "42", framesInStderr: true,
			check: func(t *testing.T, res sandbox.Result) {
				if !res.Truncated || !strings.Contains(res.Stderr, "bytes omitted") {
					t.Errorf("a 2 MB stderr is not marked truncated: truncated=%v, %d bytes", res.Truncated, len(res.Stderr))
				}
			}},
		{name: "exit code in the signal range, reported by the harness", code: "raise SystemExit(137)",
			status: sandbox.StatusError, exit: exitCode(137), errType: "SystemExit"},
		{name: "killed by a signal", code: "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
			status: sandbox.StatusKilled, errType: "Killed", errMsg: []string{"killed by SIGKILL"}},
		{name: "input sees end of file", code: "try:\n    input()\nexcept EOFError:\n    print('eof')",
			status: sandbox.StatusOK, exit: exitCode(0), stdout: "eof\n"},
		{name: "code larger than a stdin chunk", code: "x = '" + strings.Repeat("a", 3<<20) + "'\nlen(x)",
			status: sandbox.StatusOK, exit: exitCode(0), result: "3145728"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := b.Execute(testContext(t), sandbox.Request{Code: tt.code, Limits: callLimits})
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			awaitGone(t, b, srv)
			if res.Status != tt.status || res.Backend != "modal" {
				t.Fatalf("status %q backend %q, want %q modal: %+v", res.Status, res.Backend, tt.status, res)
			}
			switch {
			case tt.exit == nil && res.ExitCode != nil:
				t.Errorf("exit code %d, want none", *res.ExitCode)
			case tt.exit != nil && (res.ExitCode == nil || *res.ExitCode != *tt.exit):
				t.Errorf("exit code %v, want %d", res.ExitCode, *tt.exit)
			}
			if tt.result == "" && res.Result != nil || tt.result != "" && (res.Result == nil || *res.Result != tt.result) {
				t.Errorf("result = %v, want %q", res.Result, tt.result)
			}
			if tt.stdout != "" && res.Stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", res.Stdout, tt.stdout)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(res.Stderr, s) {
					t.Errorf("stderr %q lacks %q", res.Stderr, s)
				}
			}
			if tt.stderr == nil && !tt.framesInStderr && strings.Contains(res.Stderr, "AIRLOCK-ENVELOPE") {
				t.Errorf("the envelope leaked into stderr: %q", res.Stderr)
			}
			if (tt.errType == "") != (res.Error == nil) || res.Error != nil && res.Error.Type != tt.errType {
				t.Fatalf("error = %+v, want type %q", res.Error, tt.errType)
			}
			for _, s := range tt.errMsg {
				if !strings.Contains(res.Error.Message, s) {
					t.Errorf("error message %q lacks %q", res.Error.Message, s)
				}
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

// TestExecuteTimeout: a call whose code outlives its timeout ends with a
// timeout result that keeps the output so far and says which limit ended
// it, and its sandbox is gone. The call's timer runs on a fake clock the
// test moves once the code has printed its first line.
func TestExecuteTimeout(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	clk := newFakeClock()
	opts := baseOptions()
	opts.clock = clk
	b := newBackend(t, srv, opts)
	limits := callLimits
	limits.Timeout = 20500 * time.Millisecond // Modal's backstop (23 s on the clock) stays out of the way
	done := executeAsync(testContext(t), b, sandbox.Request{Code: "import time\nprint('started', flush=True)\ntime.sleep(600)", Limits: limits})
	if d := clk.nextTimer(t); d != limits.Timeout {
		t.Fatalf("the call's timer runs for %v, want its timeout %v", d, limits.Timeout)
	}
	awaitStdout(t, srv, "started\n")
	clk.Advance(limits.Timeout)
	o := within(t, done, "the call to time out")
	if o.err != nil {
		t.Fatalf("Execute: %v", o.err)
	}
	res := o.res
	if res.Status != sandbox.StatusTimeout || !res.TimedOut || res.ExitCode != nil || res.Stdout != "started\n" {
		t.Errorf("status %q, timed_out %v, exit code %v, stdout %q; want a timeout with the output so far", res.Status, res.TimedOut, res.ExitCode, res.Stdout)
	}
	if res.Error == nil || res.Error.Type != "Timeout" || !strings.Contains(res.Error.Message, "wall-clock limit of 20.5 s") {
		t.Errorf("error = %+v, want a Timeout naming the 20.5 s limit", res.Error)
	}
	if res.DurationMS != 20500 {
		t.Errorf("duration %d ms, want 20500 (the clock moved by the timeout)", res.DurationMS)
	}
	awaitGone(t, b, srv)
}
