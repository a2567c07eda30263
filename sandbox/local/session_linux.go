//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// A session's sandbox is built exactly as a fresh one (namespaces, uid,
// cgroups, seccomp, Landlock, rlimits, the proxy's listener, the scrubbed
// environment), plus a control socket on which its harness, in session
// mode, takes one call after another (package sandbox, "Session mode").
// It dies with the server. This file is its life: start, the watcher that
// sees it end, Close; session_call_linux.go is one call.

var _ sandbox.SessionBackend = (*Backend)(nil)

// session is one live session sandbox.
type session struct {
	b       *Backend
	key     sandbox.SessionKey
	p       *proc
	created time.Time
	conn    *net.UnixConn // the control socket
	relay   *proxyRelay   // nil without network
	grace   time.Duration

	callMu sync.Mutex // one call at a time
	calls  atomic.Int64

	mu sync.Mutex
	// killReason says why the server killed the sandbox, when it did.
	killReason string
	// callCPU and callLimits are the interpreter's CPU time when the
	// current (or last) call started and that call's limits.
	callCPU    time.Duration
	callLimits sandbox.Limits
	// death is what was observed of the interpreter once it is gone
	// (CPUTime: over its whole life); reason says why it ended. Both are
	// set before done is closed.
	death  sandbox.ProcessExit
	reason string
	done   chan struct{}
}

// StartSession starts a session sandbox for key. limits bound its whole
// life: memory (RLIMIT_AS per process, and the sandbox's memory cgroup
// where there is one), processes, scratch space and open files; each call
// brings its own timeout, CPU time and output caps.
func (b *Backend) StartSession(ctx context.Context, key sandbox.SessionKey, limits sandbox.Limits) (sandbox.Session, error) {
	if limits.MemoryBytes <= 0 || limits.MaxProcesses <= 0 || limits.MaxFileBytes <= 0 || limits.MaxOpenFiles <= 0 {
		return nil, fmt.Errorf("local: a session's memory, process, scratch space and open file limits must be positive, got %+v", limits)
	}
	if limits.CPUTime <= 0 {
		limits.CPUTime = time.Second // until the first call sets its own
	}
	p, err := b.startSandbox(ctx, limits, true)
	if err != nil {
		return nil, err
	}
	_ = p.stdin.Close() // the harness reads nothing there
	conn, err := takeControl(p)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s := &session{
		b: b, key: key, p: p, created: time.Now(), conn: conn,
		grace: b.sessionGrace, callLimits: limits, done: make(chan struct{}),
	}
	if p.proxyLn != nil && b.network != nil {
		s.relay = newProxyRelay(p.proxyLn)
		p.proxyLn = nil // the relay owns it
	}
	go s.watch()
	if !b.addSession(s) {
		_ = s.Close()
		return nil, errors.New("local sandbox backend is closed")
	}
	return s, nil
}

// FindSessions returns nil: a local session's sandbox dies with its
// server, so no other server process can find one.
func (b *Backend) FindSessions(context.Context, string) ([]sandbox.Session, error) { return nil, nil }

// takeControl turns the server's end of p's control socket into a
// connection the session sends its calls on.
func takeControl(p *proc) (*net.UnixConn, error) {
	f := p.control
	p.control = nil
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("the session's control socket: %w", err)
	}
	return c.(*net.UnixConn), nil
}

// watch waits for the interpreter to end, whatever ends it, records what
// was observed and why, frees the sandbox and closes done.
func (s *session) watch() {
	<-s.p.done
	var exit sandbox.ProcessExit
	exitStatus(s.p.cmd, &exit)
	exit.CPUTime, exit.CPUTimeKnown = s.p.cpuTime, s.p.cpuTimeKnown
	exit.OOMKilled = s.p.cgroup.oomKilled()
	s.conn.Close()
	if s.relay != nil {
		s.relay.close()
	}
	s.p.release()
	s.mu.Lock()
	s.death = exit
	s.reason = s.killReason
	if s.reason == "" {
		callExit, limits := s.callExitLocked()
		s.reason = sandbox.SessionEndReason(callExit, limits)
	}
	s.mu.Unlock()
	s.b.removeSession(s)
	close(s.done)
}

// callExitLocked is what was observed of the interpreter's end, as the
// current (or last) call sees it: the CPU time that call spent, and the
// harness's exit at the CPU limit read as the signal it stands for.
func (s *session) callExitLocked() (sandbox.ProcessExit, sandbox.Limits) {
	exit, limits := s.death, s.callLimits
	exit.CPUTime = max(exit.CPUTime-s.callCPU, 0)
	if exit.Signal == 0 && exit.ExitCode == sandbox.SessionCPULimitExit && exit.CPUTimeKnown && exit.CPUTime >= limits.CPUTime {
		exit.Signal = sigXCPU
	}
	return exit, limits
}

// sigXCPU is the signal the harness's SessionCPULimitExit stands for.
const sigXCPU = 24

// endWith kills the sandbox, giving reason as why the session ended
// unless it has already ended, and waits until it is gone.
func (s *session) endWith(reason string) {
	s.mu.Lock()
	if s.killReason == "" {
		s.killReason = reason
	}
	s.mu.Unlock()
	s.p.kill()
}

// Key is the session's key.
func (s *session) Key() sandbox.SessionKey { return s.key }

// ID identifies the session's sandbox ("local-" and 16 hex digits).
func (s *session) ID() string { return s.p.id }

// Created is when the session's sandbox was started.
func (s *session) Created() time.Time { return s.created }

// Calls is how many calls the session's interpreter has taken.
func (s *session) Calls() int { return int(s.calls.Load()) }

// Done is closed once the session's interpreter is gone.
func (s *session) Done() <-chan struct{} { return s.done }

// Reason says why the session ended; "" until Done is closed.
func (s *session) Reason() string {
	select {
	case <-s.done:
	default:
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// MemoryBytes is the memory the session's sandbox uses now.
func (s *session) MemoryBytes() int64 {
	select {
	case <-s.done:
		return 0
	default:
		return s.p.memoryInUse()
	}
}

// Close ends the session and frees everything it holds.
func (s *session) Close() error {
	s.endWith("the session was ended")
	<-s.done
	return nil
}

// addSession records s so that Close ends it; false once the backend is
// closed.
func (b *Backend) addSession(s *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.sessions[s] = struct{}{}
	return true
}

func (b *Backend) removeSession(s *session) {
	b.mu.Lock()
	delete(b.sessions, s)
	b.mu.Unlock()
}

// closeSessions ends every session, saying the server shut down, and
// waits until they are gone; b is already closed to new ones.
func (b *Backend) closeSessions() {
	b.mu.Lock()
	all := make([]*session, 0, len(b.sessions))
	for s := range b.sessions {
		all = append(all, s)
	}
	b.mu.Unlock()
	for _, s := range all {
		s.endWith("the server shut down: a local session ends with its server")
		<-s.done
	}
}
