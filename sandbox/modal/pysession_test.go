package modal

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// The tests of sessions run the real SDK against modaltest and real
// Python: each session's harness is its sandbox's command, and each call
// an exec of the session client.

// sessionOptions are the options of a test backend that keeps sessions.
func sessionOptions() Options {
	opts := baseOptions()
	opts.SessionIdleTimeout = 900 * time.Second
	opts.SessionLifetime = 14400 * time.Second
	return opts
}

// startSession starts a session for owner and name on b, closed when the
// test ends (before the backend is), and its socket file removed: the test
// control plane's sandboxes share this machine's /tmp.
func startSession(t *testing.T, b *testBackend, srv *modaltest.Server, owner, name string) sandbox.Session {
	t.Helper()
	s, err := b.StartSession(testContext(t), sandbox.SessionKey{Owner: owner, Name: name}, callLimits)
	if err != nil {
		t.Fatalf("StartSession(%s, %s): %v", owner, name, err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		await(t, srv, "the session's sandbox to finish", func() bool {
			info, _ := srv.Sandbox(s.ID())
			return info.Status != pb.GenericResult_GENERIC_STATUS_UNSPECIFIED
		})
		removeSockets(srv)
	})
	return s
}

// removeSockets removes the socket files of the control plane's session
// sandboxes.
func removeSockets(srv *modaltest.Server) {
	for _, sb := range srv.Sandboxes() {
		if id := sb.Tags[TagSocket]; socketIDPattern.MatchString(id) {
			_ = os.Remove(sessionSocket(id))
		}
	}
}

// run executes code in s and fails the test unless the call itself
// succeeded (whatever the code did).
func run(t *testing.T, s sandbox.Session, code string) sandbox.Result {
	t.Helper()
	res, err := s.Execute(testContext(t), sandbox.Request{Code: code, Limits: callLimits})
	if err != nil {
		t.Fatalf("Execute(%q): %v", code, err)
	}
	return res
}

// wantValue fails t unless res is ok with the result want.
func wantValue(t *testing.T, res sandbox.Result, want string) {
	t.Helper()
	if res.Status != sandbox.StatusOK || res.Result == nil || *res.Result != want {
		t.Fatalf("result: status %q, value %v, error %+v, stderr %q; want ok with %s", res.Status, res.Result, res.Error, res.Stderr, want)
	}
}

// TestSessionKeepsState: globals, imports and files persist from one call
// to the next, each call has its own output, and calls are counted.
func TestSessionKeepsState(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, sessionOptions())
	s := startSession(t, b, srv, "alice", "data")

	res := run(t, s, "import json\nx = 41\nopen('notes.txt', 'w').write('kept')\nprint('first')")
	if res.Status != sandbox.StatusOK || res.Stdout != "first\n" || res.SandboxID != s.ID() {
		t.Fatalf("first call: %+v", res)
	}
	res = run(t, s, "print('second')\njson.dumps(x + 1) + open('notes.txt').read()")
	wantValue(t, res, "'42kept'")
	if res.Stdout != "second\n" {
		t.Errorf("second call's stdout = %q, want only its own output", res.Stdout)
	}
	if s.Calls() != 2 {
		t.Errorf("Calls() = %d, want 2", s.Calls())
	}
	if n := srv.CreatedSandboxes(); n != 1 {
		t.Errorf("%d sandboxes created for one session, want 1", n)
	}
}

// TestSessionFoundByARestartedServer: a second backend, with a client of
// its own, as a restarted server has, finds the session by its tags and
// continues with its interpreter's state and its count of calls; another
// owner finds nothing.
func TestSessionFoundByARestartedServer(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	first := newBackend(t, srv, sessionOptions())
	s := startSession(t, first, srv, "token:alice", "data")
	run(t, s, "x = 41")

	second := newBackend(t, srv, sessionOptions())
	found, err := second.FindSessions(testContext(t), "token:alice")
	if err != nil || len(found) != 1 {
		t.Fatalf("FindSessions = %v, %v; want the one session", found, err)
	}
	f := found[0]
	if f.Key() != s.Key() || f.ID() != s.ID() || !f.Created().Equal(s.Created().Truncate(time.Second)) {
		t.Errorf("found %v %s %v, want %v %s %v", f.Key(), f.ID(), f.Created(), s.Key(), s.ID(), s.Created())
	}
	wantValue(t, run(t, f, "x + 1"), "42")
	if f.Calls() != 2 {
		t.Errorf("the found session's Calls() = %d after its first call here, want 2", f.Calls())
	}
	if others, err := second.FindSessions(testContext(t), "token:bob"); err != nil || len(others) != 0 {
		t.Errorf("FindSessions(bob) = %v, %v; want none", others, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	awaitGone(t, second, srv)
}

// TestSessionsOfTwoOwnersAreApart: two owners using one name get two
// sandboxes, neither seeing the other's state, and each finds only its
// own.
func TestSessionsOfTwoOwnersAreApart(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, sessionOptions())
	alice := startSession(t, b, srv, "alice", "s")
	bob := startSession(t, b, srv, "bob", "s")
	if alice.ID() == bob.ID() {
		t.Fatalf("one sandbox %s for two owners", alice.ID())
	}
	run(t, alice, "x = 'alice'")
	wantValue(t, run(t, bob, "'x' in globals()"), "False")
	run(t, bob, "x = 'bob'")
	wantValue(t, run(t, alice, "x"), "'alice'")

	other := newBackend(t, srv, sessionOptions())
	found, err := other.FindSessions(testContext(t), "bob")
	if err != nil || len(found) != 1 || found[0].ID() != bob.ID() {
		t.Fatalf("FindSessions(bob) = %v, %v; want bob's session only", found, err)
	}
	wantValue(t, run(t, found[0], "x"), "'bob'")
	for _, s := range []sandbox.Session{alice, bob} {
		_ = s.Close()
	}
	awaitGone(t, b, srv)
}

// TestSessionSandboxOnTheWire: a session's sandbox is created with the
// harness as its command, Modal's idle timeout and lifetime from the
// options, the owner's tags, and the resources and network of any sandbox.
func TestSessionSandboxOnTheWire(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, sessionOptions())
	s := startSession(t, b, srv, "token:alice", "data")
	info, ok := srv.Sandbox(s.ID())
	if !ok {
		t.Fatalf("no sandbox %s on the control plane", s.ID())
	}
	if info.IdleTimeout != 900*time.Second || info.Timeout != 14400*time.Second {
		t.Errorf("idle timeout %v, lifetime %v; want 900 s and 14400 s", info.IdleTimeout, info.Timeout)
	}
	for k, v := range map[string]string{TagApp: "airlock-mcp", TagKind: "session", TagOwner: "token:alice", TagSession: "data", TagInstance: "test-instance"} {
		if info.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, info.Tags[k], v, info.Tags)
		}
	}
	if !slices.Contains(info.Command, "session") || !strings.HasPrefix(info.Command[len(info.Command)-2], "listen:/tmp/.airlock-session-") {
		t.Errorf("command %q: want the harness in session mode, listening on its socket", info.Command)
	}
	def := info.Definition
	if na := def.GetNetworkAccess().GetNetworkAccessType(); na != pb.NetworkAccess_BLOCKED || def.GetResources().GetMemoryMbMax() != uint32(callLimits.MemoryBytes>>20) {
		t.Errorf("network %v, memory cap %d MiB; want blocked and %d", na, def.GetResources().GetMemoryMbMax(), callLimits.MemoryBytes>>20)
	}
}

// TestSessionTimeoutInterruptsAndKeepsState: code past its timeout is
// interrupted (KeyboardInterrupt), the result is a timeout that says the
// session keeps its state, and it does. The call's timer runs on a fake
// clock the test moves once the code runs.
func TestSessionTimeoutInterruptsAndKeepsState(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	clk := newFakeClock()
	opts := sessionOptions()
	opts.clock = clk
	b := newBackend(t, srv, opts)
	s := startSession(t, b, srv, "alice", "data")

	done := make(chan outcome, 1)
	go func() {
		res, err := s.Execute(testContext(t), sandbox.Request{Code: "x = 5\nimport time\nprint('started', flush=True)\nwhile True: time.sleep(0.01)", Limits: callLimits})
		done <- outcome{res, err}
	}()
	clk.skipToTimer(t, callLimits.Timeout)
	awaitStdout(t, srv, "started\n")
	clk.Advance(callLimits.Timeout)
	o := within(t, done, "the interrupted call to return")
	if o.err != nil {
		t.Fatalf("Execute: %v", o.err)
	}
	res := o.res
	if res.Status != sandbox.StatusTimeout || !res.TimedOut || res.Stdout != "started\n" || res.Error == nil ||
		!strings.Contains(res.Error.Message, "session keeps its state") || !strings.Contains(res.Error.Traceback, "KeyboardInterrupt") {
		t.Fatalf("result %+v, error %+v; want a timeout that interrupted the code and kept the session", res, res.Error)
	}
	select {
	case <-s.Done():
		t.Fatalf("the session ended: %s", s.Reason())
	default:
	}
	wantValue(t, run(t, s, "x"), "5")
}

// TestSessionIgnoringTheInterruptIsTerminated: code that ignores SIGINT
// is given the grace, then its sandbox is terminated: the result says the
// state is lost, the session is done with a reason, and the next call is
// refused. The grace runs on the fake clock.
func TestSessionIgnoringTheInterruptIsTerminated(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	clk := newFakeClock()
	opts := sessionOptions()
	opts.clock = clk
	opts.SessionInterruptGrace = 5 * time.Second
	b := newBackend(t, srv, opts)
	s := startSession(t, b, srv, "alice", "data")

	code := "import signal, time\nsignal.signal(signal.SIGINT, lambda *a: print('ignored', flush=True))\nprint('started', flush=True)\nwhile True: time.sleep(0.01)"
	done := make(chan outcome, 1)
	go func() {
		res, err := s.Execute(testContext(t), sandbox.Request{Code: code, Limits: callLimits})
		done <- outcome{res, err}
	}()
	clk.skipToTimer(t, callLimits.Timeout)
	awaitStdout(t, srv, "started\n")
	clk.Advance(callLimits.Timeout)
	clk.skipToTimer(t, opts.SessionInterruptGrace)
	awaitStdout(t, srv, "ignored\n") // the interrupt reached the code
	clk.Advance(opts.SessionInterruptGrace)
	o := within(t, done, "the call to return once the grace passed")
	if o.err != nil {
		t.Fatalf("Execute: %v", o.err)
	}
	if res := o.res; res.Status != sandbox.StatusTimeout || res.Error == nil || !strings.Contains(res.Error.Message, "state is lost") {
		t.Errorf("result %+v, error %+v; want a timeout saying the state is lost", res, res.Error)
	}
	within(t, s.Done(), "the session to end")
	if r := s.Reason(); !strings.Contains(r, "did not regain control within 5s") {
		t.Errorf("Reason() = %q, want the grace named", r)
	}
	await(t, srv, "the session's sandbox to be terminated", func() bool {
		info, _ := srv.Sandbox(s.ID())
		return !info.Live
	})
	if _, err := s.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits}); !errors.Is(err, sandbox.ErrSessionEnded) {
		t.Errorf("a call after the end: %v, want ErrSessionEnded", err)
	}
}

// TestSessionInterpreterDeath: an interpreter that dies in a call (exit,
// crash) ends the session: the call's result says the state is lost and
// why, Done is closed with the reason, and the next call is refused.
func TestSessionInterpreterDeath(t *testing.T) {
	for _, tc := range []struct {
		name, code, reason string
	}{
		{"os._exit", "import os\nos._exit(3)", "exited with code 3"},
		{"segfault", "import ctypes\nctypes.string_at(0)", "crashed (SIGSEGV)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startCP(t, modaltest.Options{})
			b := newBackend(t, srv, sessionOptions())
			s := startSession(t, b, srv, "alice", "data")
			run(t, s, "x = 1")
			res := run(t, s, tc.code)
			if res.Status == sandbox.StatusOK || res.Error == nil || !strings.Contains(res.Error.Message, "state is lost") || !strings.Contains(res.Error.Message, tc.reason) {
				t.Errorf("result %+v, error %+v; want a failure saying the state is lost because the interpreter %s", res, res.Error, tc.reason)
			}
			within(t, s.Done(), "the session to end")
			if r := s.Reason(); !strings.Contains(r, tc.reason) {
				t.Errorf("Reason() = %q, want %q", r, tc.reason)
			}
			if _, err := s.Execute(testContext(t), sandbox.Request{Code: "x", Limits: callLimits}); !errors.Is(err, sandbox.ErrSessionEnded) {
				t.Errorf("a call after the death: %v, want ErrSessionEnded", err)
			}
		})
	}
}

// TestSessionCloseTerminatesTheSandbox: Close ends the session at once
// and terminates its sandbox, which Modal confirms.
func TestSessionCloseTerminatesTheSandbox(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, sessionOptions())
	s := startSession(t, b, srv, "alice", "data")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	within(t, s.Done(), "the closed session to end")
	if r := s.Reason(); r != "the session was ended" {
		t.Errorf("Reason() = %q", r)
	}
	awaitGone(t, b, srv)
	if info, _ := srv.Sandbox(s.ID()); info.Live {
		t.Errorf("sandbox %s still live after Close", s.ID())
	}
	if _, err := s.Execute(context.Background(), sandbox.Request{Code: "1", Limits: callLimits}); !errors.Is(err, sandbox.ErrSessionEnded) {
		t.Errorf("a call after Close: %v, want ErrSessionEnded", err)
	}
}

// TestSessionCallEndsDespiteABackgroundProcess: a process the code left
// running holds the call's streams open; the call still ends once the
// harness has reported and the client has exited, after the bounded
// drain (on the fake clock), and the session lives on.
func TestSessionCallEndsDespiteABackgroundProcess(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	clk := newFakeClock()
	opts := sessionOptions()
	opts.clock = clk
	b := newBackend(t, srv, opts)
	s := startSession(t, b, srv, "alice", "data")

	done := make(chan outcome, 1)
	go func() {
		res, err := s.Execute(testContext(t), sandbox.Request{Code: "import subprocess\np = subprocess.Popen(['sleep', '600'])\nprint('left running')\np.pid > 0", Limits: callLimits})
		done <- outcome{res, err}
	}()
	clk.skipToTimer(t, sessionDrainTimeout) // the client has exited
	clk.Advance(sessionDrainTimeout)
	o := within(t, done, "the call to end")
	if o.err != nil {
		t.Fatalf("Execute: %v", o.err)
	}
	wantValue(t, o.res, "True")
	if o.res.Stdout != "left running\n" || o.res.Truncated {
		t.Errorf("stdout %q, truncated %v; want the call's output, whole", o.res.Stdout, o.res.Truncated)
	}
	wantValue(t, run(t, s, "p.poll() is None"), "True")
}

// TestSessionCPULimitIsPerCall: each call of a session gets the CPU time
// limit anew (the session client sets the harness's soft RLIMIT_CPU from
// what it has used so far): two calls of 0.6 CPU seconds pass under a 1 s
// limit, and a spin is stopped naming the limit, ending the session.
func TestSessionCPULimitIsPerCall(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, sessionOptions())
	s := startSession(t, b, srv, "alice", "data")
	limits := callLimits
	limits.CPUTime, limits.Timeout = time.Second, 120*time.Second
	call := func(code string) sandbox.Result {
		t.Helper()
		res, err := s.Execute(testContext(t), sandbox.Request{Code: code, Limits: limits})
		if err != nil {
			t.Fatalf("Execute(%q): %v", code, err)
		}
		return res
	}
	const spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\n'spun'"
	for i := 1; i <= 2; i++ {
		if res := call(spin); res.Status != sandbox.StatusOK {
			t.Fatalf("call %d of 0.6 CPU seconds under a 1 s limit per call: %s %+v", i, res.Status, res.Error)
		}
	}
	res := call("while True: pass")
	if res.Status == sandbox.StatusOK || res.Error == nil || !strings.Contains(res.Error.Message, "CPU time limit of 1 s") {
		t.Errorf("a spin: status %s, error %+v; want it stopped naming the CPU time limit of 1 s", res.Status, res.Error)
	}
	within(t, s.Done(), "the session to end")
}
