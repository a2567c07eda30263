//go:build linux

package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// The session tests run real session sandboxes (package sandbox, "Session
// mode"): one interpreter serving call after call, with every protection
// of a fresh sandbox. Nothing waits on time: a call ends when the harness
// reports or the interpreter is gone, and where a test needs the grace
// after an interrupt to pass it injects one (Options.SessionInterruptGrace).

// sessionBackend returns a backend of its own whose sessions get grace
// after an interrupt. A long grace is a safety net for code that does
// regain control, however loaded the host; a short one ends code that
// never does at once.
func sessionBackend(t *testing.T, grace time.Duration) *local.Backend {
	t.Helper()
	b, err := local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON"), SessionInterruptGrace: grace})
	if err != nil {
		t.Fatalf("local backend: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// startSession starts a session on b with limits() adjusted by mod, and
// ends it when the test does.
func startSession(t *testing.T, b *local.Backend, mod ...func(*sandbox.Limits)) sandbox.Session {
	t.Helper()
	l := limits()
	for _, m := range mod {
		m(&l)
	}
	s, err := b.StartSession(context.Background(), sandbox.SessionKey{Owner: "test", Name: t.Name()}, l)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// call runs code in s under limits() adjusted by mod.
func call(t *testing.T, s sandbox.Session, code string, mod ...func(*sandbox.Limits)) sandbox.Result {
	t.Helper()
	l := limits()
	for _, m := range mod {
		m(&l)
	}
	res, err := s.Execute(context.Background(), sandbox.Request{Code: code, Limits: l})
	if err != nil {
		t.Fatalf("Execute in the session: %v", err)
	}
	if res.Backend != "local" || res.SandboxID != s.ID() {
		t.Errorf("backend %q sandbox %q, want local and the session's %q", res.Backend, res.SandboxID, s.ID())
	}
	return res
}

// mustOK runs code in s and fails unless it ran without error; it returns
// the result's repr.
func mustOK(t *testing.T, s sandbox.Session, code string) string {
	t.Helper()
	res := call(t, s, code)
	if res.Status != sandbox.StatusOK {
		t.Fatalf("%q: status %s, error %+v, stderr %q", code, res.Status, res.Error, res.Stderr)
	}
	return resultString(res)
}

// awaitEnd waits until s has ended (a safety net fails the test if it
// never does) and returns why.
func awaitEnd(t *testing.T, s sandbox.Session) string {
	t.Helper()
	select {
	case <-s.Done():
		return s.Reason()
	case <-time.After(60 * time.Second):
		t.Fatal("the session did not end")
		return ""
	}
}

// TestSessionKeepsState: globals, imports and files under /work persist
// from one call to the next, each call is numbered in order, and a
// SystemExit ends the call, not the interpreter.
func TestSessionKeepsState(t *testing.T) {
	s := startSession(t, newBackend(t))
	steps := []struct{ code, want string }{
		{"import json\nx = 41\n_ = open('/work/kept', 'w').write('on disk')", "<nil>"},
		{"x + 1", "42"},
		{"json.dumps([x])", "'[41]'"},
		{"open('kept').read()", "'on disk'"},
		{"def f(): return x * 2\nf()", "82"},
		{"import os; os.getpid()", "1"},
	}
	for i, st := range steps {
		if got := mustOK(t, s, st.code); got != st.want {
			t.Errorf("call %d %q = %s, want %s", i+1, st.code, got, st.want)
		}
	}
	if s.Calls() != len(steps) {
		t.Errorf("Calls() = %d after %d calls", s.Calls(), len(steps))
	}
	exit := call(t, s, "import sys; sys.exit(3)")
	if exit.Status != sandbox.StatusError || exit.ExitCode == nil || *exit.ExitCode != 3 || exit.Error == nil || exit.Error.Type != "SystemExit" {
		t.Errorf("sys.exit(3): status %s exit %v error %+v; want error, 3, SystemExit", exit.Status, exit.ExitCode, exit.Error)
	}
	if got := mustOK(t, s, "x"); got != "41" {
		t.Errorf("after sys.exit: x = %s, want 41: the interpreter was lost", got)
	}
	if s.Calls() != len(steps)+2 {
		t.Errorf("Calls() = %d, want %d", s.Calls(), len(steps)+2)
	}
}

// TestSessionOutputIsPerCall: a process the first call leaves printing
// forever neither leaks into the next call's output nor holds that call
// open; each call's output is its own, under the call's own cap.
func TestSessionOutputIsPerCall(t *testing.T) {
	s := startSession(t, newBackend(t))
	first := call(t, s, `
import subprocess, sys
printer = subprocess.Popen([sys.executable, "-c", """
import os, sys
n = 0
while True:
    n += 1
    try:
        print("noise", n, flush=True)
    except BrokenPipeError:
        pass
    with open("/work/count.tmp", "w") as f: f.write(str(n))
    os.replace("/work/count.tmp", "/work/count")
"""])
while True:  # the printer has printed: its output is this call's
    try:
        if int(open("/work/count").read()) > 0: break
    except (OSError, ValueError): pass
sys.stdout.write("first\n")  # one write: print's two could let the printer's line in between`)
	if first.Status != sandbox.StatusOK || !strings.Contains(first.Stdout, "noise 1\n") || !strings.Contains(first.Stdout, "first\n") {
		t.Fatalf("first call: status %s stdout %q error %+v", first.Status, first.Stdout, first.Error)
	}
	second := call(t, s, `
def count():
    while True:
        try: return int(open("/work/count").read())
        except (OSError, ValueError): pass
seen = count()
while count() < seen + 10: pass  # the printer is still at it during this call
print("second")
printer.poll() is None`)
	if second.Status != sandbox.StatusOK || second.Stdout != "second\n" || resultString(second) != "True" {
		t.Errorf("second call: status %s stdout %q result %s error %+v; want only its own output", second.Status, second.Stdout, resultString(second), second.Error)
	}
	capped := call(t, s, "print('y' * 5000)\nprint('z' * 5000)", func(l *sandbox.Limits) { l.MaxOutputBytes = 4096 })
	if !capped.Truncated || len(capped.Stdout) > 4096 || strings.Contains(capped.Stdout, "noise") {
		t.Errorf("capped call: truncated %v, %d bytes of stdout; want truncated at 4096 without the printer's", capped.Truncated, len(capped.Stdout))
	}
}

// TestSessionRefusesForgedEnvelopes: the code of a call that learned an
// earlier call's nonce (it can read the harness's frames) and writes a
// frame with it on its envelope channel gets no result from it: the
// envelope is discarded, and the session goes on.
func TestSessionRefusesForgedEnvelopes(t *testing.T) {
	s := startSession(t, newBackend(t))
	// Where the harness keeps the call's nonce and envelope descriptor.
	const frames = `
import os, sys
def harness_local(name):
    f = sys._getframe()
    while name not in f.f_locals:
        f = f.f_back
    return f.f_locals[name]
`
	mustOK(t, s, frames+"old_nonce = harness_local('nonce')\nx = 1")
	forged := call(t, s, `
p = b'{"status":"ok","exit_code":0,"result":"\'forged\'","error":null,"call":2}'
os.write(harness_local("envelope"), b"AIRLOCK-ENVELOPE/1 %s %d\n%s\n" % (old_nonce, len(p), p))
'real'`)
	if forged.Result != nil && *forged.Result == "'forged'" {
		t.Fatalf("a frame with an earlier call's nonce was accepted: %+v", forged)
	}
	if forged.Status != sandbox.StatusError || forged.Error == nil || forged.Error.Type != "EnvelopeError" {
		t.Errorf("status %s error %+v; want the envelope discarded (EnvelopeError)", forged.Status, forged.Error)
	}
	if got := mustOK(t, s, "x + 1"); got != "2" {
		t.Errorf("after the forgery: x + 1 = %s, want 2", got)
	}
}

// TestSessionTimeoutInterruptsAndKeepsState: a call past its timeout is
// interrupted (KeyboardInterrupt in the code, in pure Python or in a
// blocking call) and reported as a timeout with where the code was; the
// interpreter lives on with its state.
func TestSessionTimeoutInterruptsAndKeepsState(t *testing.T) {
	s := startSession(t, sessionBackend(t, 60*time.Second))
	mustOK(t, s, "x = 41")
	for _, tc := range []struct{ name, code, where string }{
		{"busy loop", "while True: pass", "while True: pass"},
		{"blocking sleep", "import time\ntime.sleep(10**6)", "time.sleep(10**6)"},
	} {
		res := call(t, s, "print('before')\n"+tc.code, func(l *sandbox.Limits) { l.Timeout = time.Second })
		if res.Status != sandbox.StatusTimeout || !res.TimedOut || res.Error == nil || res.Error.Type != "Timeout" {
			t.Fatalf("%s: status %s timed out %v error %+v; want a timeout", tc.name, res.Status, res.TimedOut, res.Error)
		}
		if !strings.Contains(res.Error.Message, "session keeps its state") || !strings.Contains(res.Error.Traceback, tc.where) {
			t.Errorf("%s: error %+v; want the interrupt, the state kept and where the code was", tc.name, res.Error)
		}
		if strings.Contains(res.Error.Traceback, "on_interrupt") {
			t.Errorf("%s: the traceback shows the harness's interrupt handler:\n%s", tc.name, res.Error.Traceback)
		}
		if res.Stdout != "before\n" {
			t.Errorf("%s: stdout %q, want the output before the interrupt", tc.name, res.Stdout)
		}
		if got := mustOK(t, s, "x = x + 1\nx"); got == "" || got == "<nil>" {
			t.Fatalf("%s: the state is gone", tc.name)
		}
	}
	if got := mustOK(t, s, "x"); got != "43" {
		t.Errorf("x = %s after two interrupted calls, want 43", got)
	}
	select {
	case <-s.Done():
		t.Errorf("the session ended: %s", s.Reason())
	default:
	}
}

// TestSessionEndsWhenTheInterpreterDoesNotRegainControl: code that
// ignores the interrupt is killed once the (injected) grace has passed:
// the call says the state is lost, the session is Done with the reason,
// and a later call is refused with ErrSessionEnded.
func TestSessionEndsWhenTheInterpreterDoesNotRegainControl(t *testing.T) {
	b := sessionBackend(t, time.Millisecond)
	for _, tc := range []struct{ name, code string }{
		{"SIGINT ignored", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"},
		{"every exception swallowed", "while True:\n    try:\n        while True: pass\n    except BaseException: pass"},
		{"a C loop", "sum(range(10**15))"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSession(t, b)
			mustOK(t, s, "x = 1")
			res := call(t, s, tc.code, func(l *sandbox.Limits) { l.Timeout = time.Second })
			if res.Status != sandbox.StatusTimeout || res.Error == nil || !strings.Contains(res.Error.Message, "state is lost") {
				t.Errorf("status %s error %+v; want a timeout saying the state is lost", res.Status, res.Error)
			}
			if reason := awaitEnd(t, s); !strings.Contains(reason, "did not regain control") {
				t.Errorf("Reason() = %q; want the interrupt's grace named", reason)
			}
			_, err := s.Execute(context.Background(), sandbox.Request{Code: "x", Limits: limits()})
			if !errors.Is(err, sandbox.ErrSessionEnded) {
				t.Errorf("a call after the end: %v, want ErrSessionEnded", err)
			}
		})
	}
}

// TestSessionEndsWithItsInterpreter: os._exit and a crash end the
// session; the call says so, and Reason says why.
func TestSessionEndsWithItsInterpreter(t *testing.T) {
	b := newBackend(t)
	for _, tc := range []struct{ name, code, reason string }{
		{"os._exit", "import os\nos._exit(7)", "exited with code 7"},
		{"segfault", "import ctypes\nctypes.string_at(0)", "SIGSEGV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSession(t, b)
			mustOK(t, s, "x = 1")
			res := call(t, s, tc.code)
			if res.Status == sandbox.StatusOK || res.Error == nil || !strings.Contains(res.Error.Message, "state is lost") {
				t.Errorf("status %s error %+v; want a failure saying the state is lost", res.Status, res.Error)
			}
			if reason := awaitEnd(t, s); !strings.Contains(reason, tc.reason) {
				t.Errorf("Reason() = %q, want %q", reason, tc.reason)
			}
			if _, err := s.Execute(context.Background(), sandbox.Request{Code: "x", Limits: limits()}); !errors.Is(err, sandbox.ErrSessionEnded) {
				t.Errorf("a call after the end: %v, want ErrSessionEnded", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close after the end: %v", err)
			}
		})
	}
}

// TestSessionCPULimitIsPerCall: the CPU limit bounds each call, not the
// session: two calls each spending 0.6 s of CPU under a 1 s limit both
// run; a call that spins forever is stopped at its limit, which ends the
// session with a reason naming the limit.
func TestSessionCPULimitIsPerCall(t *testing.T) {
	cpu := func(l *sandbox.Limits) { l.CPUTime, l.Timeout = time.Second, 120*time.Second } // the timeout is a safety net
	s := startSession(t, newBackend(t), cpu)
	spin := "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\n'spun'"
	for i := 1; i <= 2; i++ {
		if res := call(t, s, spin, cpu); res.Status != sandbox.StatusOK || resultString(res) != "'spun'" {
			t.Fatalf("call %d of 0.6 s CPU: status %s error %+v", i, res.Status, res.Error)
		}
	}
	res := call(t, s, "while True: pass", cpu)
	if res.Status != sandbox.StatusKilled || res.Error == nil || !strings.Contains(res.Error.Message, "CPU time limit of 1 s") {
		t.Errorf("spin: status %s error %+v; want killed at the CPU time limit of 1 s", res.Status, res.Error)
	}
	if reason := awaitEnd(t, s); !strings.Contains(reason, "CPU time limit") {
		t.Errorf("Reason() = %q; want the CPU time limit named", reason)
	}
}

// TestSessionMemoryLimitIsPerSession: memory is bounded across the
// session's calls: what one call keeps counts against the next one, and
// MemoryBytes sees it.
func TestSessionMemoryLimitIsPerSession(t *testing.T) {
	mem := func(l *sandbox.Limits) { l.MemoryBytes = 256 << 20 }
	s := startSession(t, newBackend(t), mem)
	mustOK(t, s, "a = b'x' * (150 << 20)")
	if got := s.MemoryBytes(); got < 150<<20 {
		t.Errorf("MemoryBytes() = %d with 150 MiB held, want at least that", got)
	}
	res := call(t, s, "b = b'y' * (150 << 20)", mem)
	refused := res.Error != nil && (res.Error.Type == "MemoryError" ||
		res.Status == sandbox.StatusKilled && strings.Contains(res.Error.Message, "memory limit of 256 MiB"))
	if !refused {
		t.Fatalf("a second 150 MiB under a 256 MiB session limit: status %s error %+v; want it refused", res.Status, res.Error)
	}
	select {
	case <-s.Done():
		return // a memory cgroup killed the interpreter: the session ended, as it must
	default:
	}
	mustOK(t, s, "del a")
	mustOK(t, s, "b = b'y' * (150 << 20)\nlen(b)")
}

// TestSessionCancelInterruptsAndKeepsState: a call the client cancels is
// interrupted as at a timeout: the result says the client cancelled it,
// and the session keeps its state. The test cancels once the code has
// started a process carrying a marker (seen from the host), not after a
// delay.
func TestSessionCancelInterruptsAndKeepsState(t *testing.T) {
	s := startSession(t, sessionBackend(t, time.Minute))
	mustOK(t, s, "x = 41")
	marker := fmt.Sprintf("cancel%d", os.Getpid()%100000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // polls for the event: the interpreter renamed
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for len(processesWithArg(marker)) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		cancel()
	}()
	l := limits()
	l.Timeout = 120 * time.Second // a safety net: the cancellation ends the call
	res, err := s.Execute(ctx, sandbox.Request{Code: fmt.Sprintf("import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', %q])\ntime.sleep(600)", marker), Limits: l})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Status != sandbox.StatusKilled || res.Error == nil || res.Error.Type != "Cancelled" || !strings.Contains(res.Error.Message, "keeps its state") {
		t.Errorf("a cancelled call: status %s error %+v; want Cancelled with the state kept", res.Status, res.Error)
	}
	if got := mustOK(t, s, "x + 1"); got != "42" {
		t.Errorf("x + 1 after the cancelled call = %s, want 42", got)
	}
}

// processesWithArg lists the host's processes with arg in their command
// line.
func processesWithArg(arg string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && slices.Contains(strings.Split(string(b), "\x00"), arg) {
			out = append(out, e.Name())
		}
	}
	return out
}
