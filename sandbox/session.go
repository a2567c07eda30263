package sandbox

import (
	"context"
	"errors"
	"time"
)

// ErrSessionEnded is wrapped by Session.Execute's error when the session's
// interpreter had already ended when the call came (see Done and Reason):
// the call did not run; a new session can run it.
var ErrSessionEnded = errors.New("sandbox: the session has ended")

// SessionKey names a session: the client identity that owns it and the
// name the model gave it. Two owners using one name have two sessions.
type SessionKey struct {
	// Owner is the client identity: the token's name over HTTP, the local
	// user running the server on stdio.
	Owner string
	// Name is the model's name for it: 1 to 64 characters of
	// [A-Za-z0-9._-].
	Name string
}

// SessionBackend is a Backend that keeps sessions: a sandbox whose
// interpreter lives across calls, keeping its globals, imports and the
// files under its working directory. Every protection of a fresh sandbox
// applies to a session's sandbox; sessions share nothing with each other
// or with fresh calls.
type SessionBackend interface {
	Backend
	// StartSession starts a new session sandbox for key. limits bound the
	// session's whole life (memory, processes, scratch space, open files);
	// each call brings its own Timeout and CPUTime (Request.Limits).
	StartSession(ctx context.Context, key SessionKey, limits Limits) (Session, error)
	// FindSessions returns the live sessions of owner that a previous
	// server process started, for backends whose sandboxes outlive the
	// server (Modal); nil for those whose sandboxes die with it (local).
	FindSessions(ctx context.Context, owner string) ([]Session, error)
}

// Session is one live session sandbox. Its owner (the session registry)
// never calls Execute on one Session concurrently.
type Session interface {
	// Key is the session's key.
	Key() SessionKey
	// ID identifies the session's sandbox, as Result.SandboxID does.
	ID() string
	// Created is when the session's sandbox was started.
	Created() time.Time
	// Calls is how many calls the session's interpreter has run.
	Calls() int
	// Execute runs req.Code in the session's interpreter and returns when
	// the call is over: output and envelope are per call (a fresh nonce
	// each time). At req.Limits.Timeout the code is interrupted (as
	// KeyboardInterrupt) and the result is a timeout; if the interpreter
	// does not regain control within a short grace, the sandbox is killed
	// and Done is closed. A crash, os._exit or a memory kill of the
	// interpreter ends the session the same way. Cancelling ctx interrupts
	// the code the same way. A non-nil error means the backend failed (the
	// session could not be reached), not the code.
	Execute(ctx context.Context, req Request) (Result, error)
	// Done is closed once the session's interpreter is gone.
	Done() <-chan struct{}
	// Reason says in one sentence why the session ended ("the interpreter
	// crashed (SIGSEGV)", "killed after the timeout: the interpreter did
	// not regain control"); valid once Done is closed.
	Reason() string
	// MemoryBytes is the memory the session uses now, 0 when unknown.
	MemoryBytes() int64
	// Close ends the session and frees everything it holds; safe to call
	// more than once and after Done.
	Close() error
}

// SessionInfo is the session part of a Result, for a call that ran in a
// session.
type SessionInfo struct {
	// Name is the session's name.
	Name string `json:"name"`
	// Call is the call's number in the session: 1 for the first call of
	// an interpreter, then consecutive.
	Call int `json:"call"`
	// Restarted is true when the session's interpreter was started anew
	// for this call, its state lost (Reason says why).
	Restarted bool `json:"restarted"`
	// Reason says why the session was restarted; "" otherwise.
	Reason string `json:"reason,omitempty"`
}
