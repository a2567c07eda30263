// Package policy is the Airlock policy: the operator's limits and rules that
// every tool call is checked against before anything runs. A policy is data,
// loaded from YAML or JSON and validated against schemas/policy.schema.json;
// without a file, Default gives safe limits.
package policy

// Policy is the operator's policy. The zero value is not valid; use Default
// or Load.
type Policy struct {
	// Version is the policy format version; only 1 exists.
	Version int `json:"version"`
	// Limits bound every execution.
	Limits Limits `json:"limits"`
	// Network says what sandboxed code may reach.
	Network Network `json:"network"`
	// Backend holds per-backend settings.
	Backend BackendSettings `json:"backend"`
}

// Limits are the operator's resource limits. A model's request can lower the
// timeout but never exceed any of these.
type Limits struct {
	// DefaultTimeoutS is the wall-clock timeout when the call gives none.
	DefaultTimeoutS float64 `json:"default_timeout_s"`
	// MaxTimeoutS is the largest timeout a call may ask for.
	MaxTimeoutS float64 `json:"max_timeout_s"`
	// MemoryMB caps each sandbox's memory.
	MemoryMB int `json:"memory_mb"`
	// CPUTimeS caps each sandbox's CPU seconds.
	CPUTimeS int `json:"cpu_time_s"`
	// MaxProcesses caps processes/threads in each sandbox.
	MaxProcesses int `json:"max_processes"`
	// MaxCodeBytes caps the size of the code argument, in UTF-8 bytes.
	MaxCodeBytes int `json:"max_code_bytes"`
	// MaxOutputBytes caps stdout and stderr returned, per stream.
	MaxOutputBytes int `json:"max_output_bytes"`
	// MaxFileMB caps each sandbox's scratch space and any one file written.
	MaxFileMB int `json:"max_file_mb"`
	// MaxOpenFiles caps open file descriptors in each sandbox.
	MaxOpenFiles int `json:"max_open_files"`
	// MaxConcurrent caps executions running at once; more wait.
	MaxConcurrent int `json:"max_concurrent"`
}

// Network is the network policy. This version supports only
// AllowEgress=false: sandboxed code has no network at all.
type Network struct {
	// AllowEgress permits outbound connections. Only false is supported yet.
	AllowEgress bool `json:"allow_egress"`
}

// BackendSettings holds the settings of each backend.
type BackendSettings struct {
	// Local configures the local (Linux namespaces) backend.
	Local LocalSettings `json:"local"`
}

// LocalSettings configures the local backend.
type LocalSettings struct {
	// Python is the interpreter to run; empty means find python3 on PATH
	// (resolving shims such as pyenv's to the real binary), then
	// /usr/bin/python3.
	Python string `json:"python"`
	// WarmSandboxes is how many sandboxes to keep built ahead of calls.
	WarmSandboxes int `json:"warm_sandboxes"`
}
