package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// ErrSessionEnded is what a fake Session's Execute returns once the
// session has ended (Kill, a crash, Close).
var ErrSessionEnded = errors.New("sandboxtest: the session has ended")

// CrashReason is the Reason of a fake session whose code said "crash".
const CrashReason = "the interpreter crashed (SIGSEGV)"

// ClosedReason is the Reason of a fake session ended by Close.
const ClosedReason = "the session was closed"

// SessionBackend is a fake sandbox.SessionBackend: the fake Backend for
// fresh calls, and fake Sessions (see Session for what their code means).
// Its zero value is ready. Set the fields before the first call; read what
// happened with the methods, which are safe for concurrent use.
type SessionBackend struct {
	Backend
	// StartErr, when not nil, is what StartSession returns, starting
	// nothing.
	StartErr error
	// FindErr, when not nil, is what FindSessions returns.
	FindErr error
	// Now stamps each session's Created; nil means time.Now.
	Now func() time.Time

	smu      sync.Mutex
	started  []*Session
	limits   []sandbox.Limits
	left     map[string][]*Session
	finds    []string
	hold     chan struct{} // nil: session calls run at once
	released bool
	inside   int // session calls inside Execute, across sessions
	most     int
}

// StartSession starts a fake session for key, recording the limits, or
// returns StartErr.
func (b *SessionBackend) StartSession(ctx context.Context, key sandbox.SessionKey, limits sandbox.Limits) (sandbox.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b.StartErr != nil {
		return nil, b.StartErr
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	b.smu.Lock()
	defer b.smu.Unlock()
	s := NewSession(key, now(), 0)
	s.id = fmt.Sprintf("fake-session-%d", len(b.started)+1)
	s.backend = b
	b.started = append(b.started, s)
	b.limits = append(b.limits, limits)
	return s, nil
}

// FindSessions returns the live sessions Leave left for owner, and
// records that owner was asked about; or FindErr.
func (b *SessionBackend) FindSessions(ctx context.Context, owner string) ([]sandbox.Session, error) {
	b.smu.Lock()
	defer b.smu.Unlock()
	b.finds = append(b.finds, owner)
	if b.FindErr != nil {
		return nil, b.FindErr
	}
	var out []sandbox.Session
	for _, s := range b.left[owner] {
		select {
		case <-s.Done():
		default:
			s.backend = b
			out = append(out, s)
		}
	}
	return out, nil
}

// Leave makes FindSessions return sessions for owner, as sessions a
// previous server left running (make them with NewSession).
func (b *SessionBackend) Leave(owner string, sessions ...*Session) {
	b.smu.Lock()
	defer b.smu.Unlock()
	if b.left == nil {
		b.left = map[string][]*Session{}
	}
	b.left[owner] = append(b.left[owner], sessions...)
}

// Started returns every session StartSession started, in order.
func (b *SessionBackend) Started() []*Session {
	b.smu.Lock()
	defer b.smu.Unlock()
	return append([]*Session(nil), b.started...)
}

// StartLimits returns the limits each StartSession was given, in order.
func (b *SessionBackend) StartLimits() []sandbox.Limits {
	b.smu.Lock()
	defer b.smu.Unlock()
	return append([]sandbox.Limits(nil), b.limits...)
}

// Finds returns the owners FindSessions was asked about, in order.
func (b *SessionBackend) Finds() []string {
	b.smu.Lock()
	defer b.smu.Unlock()
	return append([]string(nil), b.finds...)
}

// HoldSessions makes the session calls that arrive from now on wait, in
// Execute, until ReleaseSessions or the end of their ctx.
func (b *SessionBackend) HoldSessions() {
	b.smu.Lock()
	defer b.smu.Unlock()
	if b.hold == nil || b.released {
		b.hold, b.released = make(chan struct{}), false
	}
}

// ReleaseSessions lets every held session call, and every later one, run.
func (b *SessionBackend) ReleaseSessions() {
	b.smu.Lock()
	defer b.smu.Unlock()
	if b.hold != nil && !b.released {
		close(b.hold)
		b.released = true
	}
}

// SessionsRunning returns how many session calls are inside Execute now,
// across every session.
func (b *SessionBackend) SessionsRunning() int {
	b.smu.Lock()
	defer b.smu.Unlock()
	return b.inside
}

// SessionsPeak returns the most session calls that were inside Execute at
// once, across every session.
func (b *SessionBackend) SessionsPeak() int {
	b.smu.Lock()
	defer b.smu.Unlock()
	return b.most
}

// enter counts a session call in and returns what it must wait for (nil:
// nothing).
func (b *SessionBackend) enter() <-chan struct{} {
	b.smu.Lock()
	defer b.smu.Unlock()
	b.inside++
	b.most = max(b.most, b.inside)
	if b.released {
		return nil
	}
	return b.hold
}

// leave counts a session call out.
func (b *SessionBackend) leave() {
	b.smu.Lock()
	defer b.smu.Unlock()
	b.inside--
}

// Session is a fake sandbox.Session. Its interpreter's state is a map of
// names to values, and each line of a call's code is one of:
//
//	name = value   sets name (the value is kept as written)
//	name           the call's result is name's value, or a NameError
//	crash          the interpreter dies (Done closes, Reason is CrashReason):
//	               the call ends killed
//	die: reason    the interpreter dies with that Reason: the call ends killed
//	timeout        the call ends as a timeout; the interpreter lives on
//	return: path   the call returns the file at path (relative to the
//	               working directory) as out/<its name>: a file a call
//	               gave (Request.Files) stays for the session's later calls,
//	               as /work does; a path no call gave is a FileNotFoundError
//
// Blank lines are ignored. Its methods are safe for concurrent use.
type Session struct {
	key     sandbox.SessionKey
	id      string
	created time.Time
	backend *SessionBackend // nil: not started by a SessionBackend

	mu       sync.Mutex
	state    map[string]string
	files    map[string][]byte // the working directory: every Request.Files
	calls    int
	requests []sandbox.Request
	running  int
	peak     int
	memory   int64
	done     chan struct{}
	reason   string
	closed   chan struct{}
	closes   int
}

// NewSession makes a live fake session of key, created at created, whose
// interpreter has already run calls calls: what a backend finds of a
// session a previous server left (SessionBackend.Leave).
func NewSession(key sandbox.SessionKey, created time.Time, calls int) *Session {
	return &Session{key: key, id: "fake-found-" + key.Owner + "-" + key.Name, created: created, calls: calls,
		state: map[string]string{}, done: make(chan struct{}), closed: make(chan struct{})}
}

// Key is the session's key.
func (s *Session) Key() sandbox.SessionKey { return s.key }

// ID is the session's sandbox id.
func (s *Session) ID() string { return s.id }

// Created is when the session was started.
func (s *Session) Created() time.Time { return s.created }

// Calls is how many calls the session's interpreter has run.
func (s *Session) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Done is closed once the session's interpreter is gone.
func (s *Session) Done() <-chan struct{} { return s.done }

// Reason says why the session ended; "" while it lives.
func (s *Session) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// MemoryBytes is what SetMemoryBytes set; 0 (unknown) by default.
func (s *Session) MemoryBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.memory
}

// SetMemoryBytes sets what MemoryBytes reports.
func (s *Session) SetMemoryBytes(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.memory = n
}

// Kill ends the session's interpreter with reason, as a crash or a memory
// kill between calls would.
func (s *Session) Kill(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.die(reason)
}

// die closes Done with reason, once; s.mu is held.
func (s *Session) die(reason string) {
	select {
	case <-s.done:
	default:
		s.reason = reason
		close(s.done)
	}
}

// Close ends the session; safe to call more than once and after Done.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.die(ClosedReason)
	if s.closes == 0 {
		close(s.closed)
	}
	s.closes++
	return nil
}

// Closed is closed by the first Close.
func (s *Session) Closed() <-chan struct{} { return s.closed }

// CloseCount is how many times Close was called.
func (s *Session) CloseCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closes
}

// Requests returns the requests Execute received, in order.
func (s *Session) Requests() []sandbox.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sandbox.Request(nil), s.requests...)
}

// Peak is the most calls that were inside this session's Execute at once.
func (s *Session) Peak() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Value returns the value of name in the interpreter's state.
func (s *Session) Value(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.state[name]
	return v, ok
}

// Execute runs req.Code (see Session) in the session's state. While the
// backend holds session calls, it first waits for their release or for
// ctx to end (then it returns ctx's error). It returns ErrSessionEnded
// once the session has ended.
func (s *Session) Execute(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.running++
	s.peak = max(s.peak, s.running)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
	if s.backend != nil {
		hold := s.backend.enter()
		defer s.backend.leave()
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return sandbox.Result{}, ctx.Err()
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return sandbox.Result{}, ErrSessionEnded
	default:
	}
	s.calls++
	if s.files == nil {
		s.files = map[string][]byte{}
	}
	for _, f := range req.Files {
		s.files[f.Path] = f.Data
	}
	return s.run(req.Code), nil
}

// run interprets code; s.mu is held.
func (s *Session) run(code string) sandbox.Result {
	res := sandbox.Result{Status: sandbox.StatusOK, Backend: "fake", SandboxID: s.id}
	zero := 0
	res.ExitCode = &zero
	for line := range strings.SplitSeq(code, "\n") {
		line = strings.TrimSpace(line)
		name, value, assign := strings.Cut(line, "=")
		reason, dies := strings.CutPrefix(line, "die:")
		returned, returns := strings.CutPrefix(line, "return:")
		switch {
		case line == "":
		case returns:
			p := strings.TrimSpace(returned)
			data, ok := s.files[p]
			if !ok {
				one := 1
				return sandbox.Result{Status: sandbox.StatusError, ExitCode: &one, Backend: "fake", SandboxID: s.id,
					Error: &sandbox.ErrorInfo{Type: "FileNotFoundError", Message: fmt.Sprintf("no such file: '%s'", p)}}
			}
			res.Files = append(res.Files, sandbox.OutFile{Path: path.Base(p), Size: int64(len(data)), Data: data})
		case line == "crash" || dies:
			if !dies {
				reason = CrashReason
			}
			s.die(strings.TrimSpace(reason))
			return sandbox.Result{Status: sandbox.StatusKilled, Backend: "fake", SandboxID: s.id,
				Error: &sandbox.ErrorInfo{Type: "Killed", Message: s.reason}}
		case line == "timeout":
			return sandbox.Result{Status: sandbox.StatusTimeout, TimedOut: true, Backend: "fake", SandboxID: s.id,
				Error: &sandbox.ErrorInfo{Type: "Timeout", Message: "the call timed out"}}
		case assign:
			s.state[strings.TrimSpace(name)] = strings.TrimSpace(value)
		default:
			v, ok := s.state[line]
			if !ok {
				one := 1
				return sandbox.Result{Status: sandbox.StatusError, ExitCode: &one, Backend: "fake", SandboxID: s.id,
					Error: &sandbox.ErrorInfo{Type: "NameError", Message: fmt.Sprintf("name '%s' is not defined", line)}}
			}
			res.Result = &v
		}
	}
	return res
}

var (
	_ sandbox.SessionBackend = (*SessionBackend)(nil)
	_ sandbox.Session        = (*Session)(nil)
)
