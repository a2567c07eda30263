// Package sandbox defines what every sandbox backend provides: the Backend
// interface, the limits a backend enforces for one execution, and the typed
// Result that the execute_python tool returns as structured content.
//
// The Python harness that runs user code inside a sandbox, and the envelope it
// reports through, live here too, so that every backend runs the same harness
// and parses the same envelope into the same Result.
package sandbox

import (
	"context"
	"time"
)

// Status is the outcome of one execution, as the model sees it.
type Status string

// The statuses an execution can end with.
const (
	// StatusOK: the code ran to completion without an uncaught exception.
	StatusOK Status = "ok"
	// StatusError: the code raised, exited non-zero, or crashed.
	StatusError Status = "error"
	// StatusTimeout: the wall-clock limit was reached and the sandbox was killed.
	StatusTimeout Status = "timeout"
	// StatusKilled: the sandbox was killed by a signal or a resource limit
	// (CPU time, memory) before it could report.
	StatusKilled Status = "killed"
)

// Limits are the resource limits a backend enforces for one execution. They
// are decided by the policy; a backend never raises them.
type Limits struct {
	// Timeout is the wall-clock limit; the whole sandbox is killed when it passes.
	Timeout time.Duration
	// MemoryBytes caps the sandbox's memory (address space on the local backend).
	MemoryBytes int64
	// CPUTime caps CPU seconds consumed.
	CPUTime time.Duration
	// MaxProcesses caps the number of processes/threads the code may create.
	MaxProcesses int
	// MaxOutputBytes caps the bytes of stdout and of stderr returned (each).
	MaxOutputBytes int
	// MaxFileBytes caps the size of any one file written, and the size of the
	// sandbox's private scratch space (/tmp and the working directory).
	MaxFileBytes int64
	// MaxOpenFiles caps open file descriptors.
	MaxOpenFiles int
}

// Request is one execution of Python code.
type Request struct {
	// Code is the Python source; it reaches the sandbox on stdin, never argv.
	Code string
	// Limits are the effective limits for this execution.
	Limits Limits
}

// ErrorInfo describes an uncaught exception or other failure of the code.
type ErrorInfo struct {
	// Type is the exception class name (e.g. "ZeroDivisionError"), or a name
	// for a non-Python failure ("Timeout", "Killed", "ProcessExit").
	Type string `json:"type"`
	// Message is the exception message or a one-sentence explanation.
	Message string `json:"message"`
	// Traceback is the traceback trimmed to the user's code ("" when none).
	Traceback string `json:"traceback"`
}

// Result is the typed outcome of one execution. Its JSON form is the
// structured content of execute_python and matches
// schemas/execute_python.output.schema.json.
type Result struct {
	Status    Status     `json:"status"`
	ExitCode  *int       `json:"exit_code"`
	Stdout    string     `json:"stdout"`
	Stderr    string     `json:"stderr"`
	Result    *string    `json:"result"`
	Error     *ErrorInfo `json:"error"`
	TimedOut  bool       `json:"timed_out"`
	Truncated bool       `json:"truncated"`
	// DurationMS is the wall-clock time of the execution in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Backend names the backend that ran the code ("local", "modal").
	Backend string `json:"backend"`
}

// Backend runs Python code in a sandbox.
//
// Execute runs one request in a fresh sandbox that is gone when Execute
// returns, whatever happened. It returns a non-nil error only when the
// backend itself failed (the sandbox could not be set up); everything the
// code did, including crashing or timing out, is reported in the Result.
//
// Backends that can keep a sandbox alive across several executions will
// offer that through an additional, optional interface (as net/http does
// with http.Flusher), so callers that only need one-shot execution keep
// using this one.
type Backend interface {
	// Name is the backend's short name as reported in Result.Backend.
	Name() string
	// Execute runs req and returns its result. Cancelling ctx kills the
	// sandbox and returns promptly.
	Execute(ctx context.Context, req Request) (Result, error)
	// Close releases the backend's resources and kills any sandbox still
	// running. It is safe to call more than once.
	Close() error
}
