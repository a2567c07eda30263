// Package policy is the Airlock policy: the operator's limits and rules that
// every tool call is checked against before anything runs. A policy is data,
// loaded from YAML or JSON and validated against schemas/policy.schema.json;
// without a file, Default gives safe limits.
package policy

import "github.com/airlock-mcp/airlock-mcp/netrules"

// Policy is the operator's policy. The zero value is not valid; use Default
// or Load.
type Policy struct {
	// Version is the policy format version; only 1 exists.
	Version int `json:"version"`
	// Limits bound every execution.
	Limits Limits `json:"limits"`
	// Network says what sandboxed code may reach.
	Network Network `json:"network"`
	// Sessions configures the clients' Python sessions.
	Sessions Sessions `json:"sessions"`
	// Files bounds the files carried into a sandbox and brought back.
	Files Files `json:"files"`
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
	// MaxConcurrent caps executions running at once, across every client;
	// more wait in a queue.
	MaxConcurrent int `json:"max_concurrent"`
	// MaxQueued caps calls waiting for an execution slot; beyond it a call
	// fails at once as "server busy".
	MaxQueued int `json:"max_queued"`
	// QueueTimeoutS is the longest a call waits for a slot before it fails
	// as "server busy".
	QueueTimeoutS float64 `json:"queue_timeout_s"`
	// CallsPerMinute is each client's sustained call rate; 0 means no limit.
	CallsPerMinute int `json:"calls_per_minute"`
	// CallBurst is how many calls a client may make at once before
	// CallsPerMinute applies.
	CallBurst int `json:"call_burst"`
}

// Network is the network policy: whether sandboxed code may open outbound
// connections at all and, when it may, to where (Rules), and what to do
// with rules a backend cannot enforce. What each backend can enforce
// differs; CheckBackend refuses a policy a backend cannot honour.
type Network struct {
	// AllowEgress permits outbound connections. False (the default) gives
	// sandboxed code no network at all.
	AllowEgress bool `json:"allow_egress"`
	// Allow, when not empty, limits egress to these destinations; empty
	// with AllowEgress means any destination not denied. Rules require
	// AllowEgress.
	Allow []NetworkRule `json:"allow"`
	// Deny lists destinations refused even when an allow rule covers them.
	// Besides these, built-in denies (loopback, link-local and cloud
	// metadata, private and unique-local ranges; see
	// netrules.BuiltinDenies) always apply unless a cidr allow rule inside
	// the range lifts them.
	Deny []NetworkRule `json:"deny"`
	// OnUnenforceable says what to do when the backend cannot enforce some
	// rule itself (its capabilities' gaps; on Modal: plain HTTP or other
	// ports to a host, deny rules inside what is allowed, built-in denies
	// behind an allowed name): "refuse" (the default) refuses to start,
	// naming each rule; "advisory" runs, says so in every result and the
	// tool description, and relies on the Airlock layer's static check of
	// the code.
	OnUnenforceable string `json:"on_unenforceable"`
	// MaxConnections caps the connections one call may open through the
	// Airlock proxy.
	MaxConnections int `json:"max_connections"`
	// MaxTransferMB caps the bytes one call may move through the Airlock
	// proxy, both directions together, in MiB.
	MaxTransferMB int `json:"max_transfer_mb"`
}

// On-unenforceable modes.
const (
	// Refuse refuses to start with a policy the backend cannot enforce.
	Refuse = "refuse"
	// Advisory runs with it, and says which rules are only advisory.
	Advisory = "advisory"
)

// NetworkRule is one rule of network.allow or network.deny: a hostname or a
// CIDR block, optionally restricted to some ports. It is netrules.Rule, the
// vocabulary the policy shares with the backends.
type NetworkRule = netrules.Rule

// BackendSettings holds the settings of each backend.
type BackendSettings struct {
	// Local configures the local (Linux namespaces) backend.
	Local LocalSettings `json:"local"`
	// Modal configures the Modal (cloud sandboxes) backend.
	Modal ModalSettings `json:"modal"`
}

// LocalSettings configures the local backend.
type LocalSettings struct {
	// Python is the interpreter to run, an absolute path (a venv's python
	// included); empty means /usr/bin/python3, whoever runs the server.
	Python string `json:"python"`
	// WarmSandboxes is how many sandboxes to keep built ahead of calls.
	WarmSandboxes int `json:"warm_sandboxes"`
	// Mounts are host directories bound into every sandbox, read-only
	// unless a mount says otherwise; the Modal backend uploads them into
	// each sandbox instead, up to files.max_mount_mb.
	Mounts []Mount `json:"mounts"`
}

// ModalSettings configures the Modal backend. Credentials are not part of
// the policy: they come from the standard Modal places (MODAL_TOKEN_ID and
// MODAL_TOKEN_SECRET, or a ~/.modal.toml profile).
type ModalSettings struct {
	// AppName is the Modal App the sandboxes belong to; created if missing.
	AppName string `json:"app_name"`
	// Image is the container image reference sandboxes run (it must provide
	// python3, 3.8 or later).
	Image string `json:"image"`
	// CPU is each sandbox's CPU request, in physical cores.
	CPU float64 `json:"cpu"`
	// MemoryMB is each sandbox's memory request in MiB; the hard cap is
	// limits.memory_mb.
	MemoryMB int `json:"memory_mb"`
	// TimeoutS is the lifetime a sandbox gets besides its call's own
	// timeout: Modal terminates every sandbox after TimeoutS plus the
	// call's timeout (a pooled one: plus limits.max_timeout_s) whatever
	// happens to this server, and a pooled sandbox idle for TimeoutS is
	// replaced.
	TimeoutS int `json:"timeout_s"`
	// Environment is the Modal environment; empty means the profile's.
	Environment string `json:"environment"`
	// PoolSize is how many sandboxes to keep created ahead of calls.
	PoolSize int `json:"pool_size"`
	// Apt and Pip are Debian packages and Python requirements installed
	// into the image, as layers on Image built once per server.
	Apt []string `json:"apt"`
	Pip []string `json:"pip"`
}
