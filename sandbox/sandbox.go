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
	// sandbox's private scratch space (/tmp, the working directory and
	// /dev/shm, on the local backend).
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
	// Files are written under the working directory before the code runs
	// (see InFile); checked by the Airlock layer.
	Files []InFile
	// FileLimits bound the files and figures the call returns.
	FileLimits FileLimits
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
	// SandboxID identifies the sandbox that ran the code (Modal's sandbox
	// id, or a local one), for the operator's logs and audit trail.
	SandboxID string `json:"sandbox_id"`
	// Network is the execution's network ledger: how the policy was
	// enforced and each connection attempt. Nil until a backend or the
	// Airlock layer fills it in.
	Network *Network `json:"network"`
	// Session, for a call that ran in a session, names it and says which
	// call of its interpreter this was and whether it was restarted; nil
	// (null) for a call in a fresh sandbox. The session registry fills it in.
	Session *SessionInfo `json:"session"`
	// Files are the regular files the code left under OutDir, and Figures
	// the matplotlib figures open when it ended (PNG) and a PIL image as
	// its final expression; the tools layer lists them (with size, type
	// and hash it computes) and returns their content as MCP content.
	Files   []OutFile `json:"-"`
	Figures []OutFile `json:"-"`
}

// How a network policy was enforced for one execution.
const (
	// EnforcementNone: the sandbox had no network at all.
	EnforcementNone = "none"
	// EnforcementProxy: every connection went through the Airlock proxy,
	// which decided it and recorded it.
	EnforcementProxy = "airlock-proxy"
	// EnforcementModal: Modal enforced the policy natively; it does not
	// report connections, so only the Airlock layer's static check is listed.
	EnforcementModal = "modal"
	// EnforcementAdvisory: Modal enforced what it can natively; the rest of
	// the policy was only checked statically by the Airlock layer.
	EnforcementAdvisory = "modal-advisory"
)

// Network is the network ledger of one execution.
type Network struct {
	// Enforcement is one of the Enforcement* values.
	Enforcement string `json:"enforcement"`
	// Connections lists each connection attempt (or, where the backend
	// cannot report them, each destination the static check found), in
	// order.
	Connections []Connection `json:"connections"`
	// Note says in a sentence what the ledger does and does not cover.
	Note string `json:"note,omitempty"`
}

// Connection is one connection attempt and the Airlock layer's decision.
type Connection struct {
	// Host is the destination as requested: a name or an IP literal.
	Host string `json:"host"`
	// Port is the destination port (0 when unknown, for a static finding).
	Port int `json:"port"`
	// Method is CONNECT for a tunnel, the HTTP method for a forwarded
	// request, or "static" for a destination found in the code.
	Method string `json:"method"`
	// Address is the ip:port actually dialled, when one was.
	Address string `json:"address,omitempty"`
	// Allowed is the decision.
	Allowed bool `json:"allowed"`
	// Rule names what decided.
	Rule string `json:"rule"`
	// Reason explains a denial or failure in one sentence.
	Reason string `json:"reason,omitempty"`
	// BytesOut and BytesIn count bytes from and to the sandbox.
	BytesOut int64 `json:"bytes_out"`
	BytesIn  int64 `json:"bytes_in"`
	// Error describes an upstream failure after the connection was allowed.
	Error string `json:"error,omitempty"`
	// Count, when not 0, is how many attempts this entry summarises: the
	// Airlock proxy lists attempts that made no connection one by one only
	// up to a bound, then counts further ones per destination (and beyond
	// that, per rule, without a host). 0 means one attempt.
	Count int `json:"count,omitempty"`
}

// Backend runs Python code in a sandbox.
//
// Execute runs one request in a fresh sandbox that never runs anything
// else, whatever happened (local: the sandbox is gone when Execute
// returns; Modal: the answer goes out first and the sandbox is terminated
// in the background, counted until Modal confirms it is gone, and Close
// waits for that). It returns a
// non-nil error only when the backend itself failed (the sandbox could not
// be set up); everything the code did, including crashing or timing out,
// is reported in the Result.
//
// Backends that can keep a sandbox alive across several executions offer
// that through an additional, optional interface, SessionBackend (as
// net/http does with http.Flusher; see SessionsOf), so callers that only
// need one-shot execution keep using this one. Likewise a backend states what it enforces of the
// network rules through Capable (see CapabilitiesOf).
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
