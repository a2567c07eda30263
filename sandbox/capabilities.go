package sandbox

import (
	"net/netip"
	"strconv"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// Capabilities is what a backend enforces itself of the network rules, and
// how it says so to the operator and to the model. Each backend implements
// it (local.Capabilities, modal.Capabilities) and returns it from its
// Capabilities method; the Airlock layer (the policy's CheckBackend, the
// execute_python tool, the airlock://policy resource, `airlock-mcp policy
// check`) asks it and knows no backend by name. Implementations are
// stateless and safe for concurrent use.
type Capabilities interface {
	// Title names the backend in a sentence: "Modal", "the local backend".
	Title() string
	// Gaps lists what of r the backend cannot enforce itself, in the order
	// of the rules (a rule may have several gaps); nil when it enforces
	// all of r.
	Gaps(r netrules.Rules) []netrules.Gap
	// Enforcement says how the backend enforces r, one statement per line,
	// each ending in "\n": natively, by the Airlock proxy, or, for a gap,
	// only advisory.
	Enforcement(r netrules.Rules) string
	// Blocker returns what the backend blocks itself, while code runs, of
	// the destinations r denies, or nil when it blocks every one of them.
	// blocks(host, addr, port) reports whether a connection to host:port
	// is blocked: host is a name or an IP literal, addr the name's address
	// when it is known without DNS (else the zero Addr), and port 0 an
	// unknown port (blocked only if every port is). The static pre-check
	// refuses code naming a denied destination that is not blocked.
	Blocker(r netrules.Rules) (blocks func(host string, addr netip.Addr, port int) bool)
	// Ledger is the enforcement and note of the network ledger the Airlock
	// layer fills in, from the static pre-check, for every call under r;
	// nil when the backend reports the connections itself or gives no
	// network. advisory says the gaps run advisory
	// (network.on_unenforceable).
	Ledger(r netrules.Rules, advisory bool) *Network
	// Tool is how the execute_python tool description presents the
	// backend's sandboxes, under limits l and rules r.
	Tool(l Limits, r netrules.Rules, advisory bool) ToolTerms
	// Limits says how the backend applies the per-sandbox limits l, as the
	// policy's summary (`policy check`, doctor, airlock://policy) states
	// them.
	Limits(l Limits) LimitTerms
}

// LimitTerms are a backend's words for how it applies the limits.
type LimitTerms struct {
	// PerSandbox is the summary's "per sandbox" line: "memory 512 MiB,
	// CPU 60 s, 64 processes, ...".
	PerSandbox string
	// ProxyLimits: the Airlock proxy carries the sandboxes' connections, so
	// the per-call connection and transfer limits apply.
	ProxyLimits bool
}

// ToolTerms are a backend's words in the execute_python tool description.
type ToolTerms struct {
	// Sandbox is what runs the code: "sandbox", "cloud sandbox (a Modal
	// container)".
	Sandbox string
	// Files is one sentence saying where the code may write files, and how
	// much.
	Files string
	// Processes is the limits' clause on processes ("; 64 processes"), ""
	// when the backend does not cap them.
	Processes string
	// Network follows the summary of the allowed destinations when egress
	// is allowed: who enforces the rules, and how a refusal shows.
	Network string
}

// Capable is a backend that states its capabilities. Every backend that
// can give sandboxes a network must be one.
type Capable interface {
	Capabilities() Capabilities
}

// CapabilitiesOf returns b's capabilities, or Undeclared when b does not
// state them.
func CapabilitiesOf(b Backend) Capabilities {
	if c, ok := b.(Capable); ok {
		return c.Capabilities()
	}
	return Undeclared{}
}

// Undeclared is what the Airlock layer takes a backend that states no
// capabilities to be: one that opens no connection of its own (a test
// double), so it blocks whatever the rules deny, has no gaps, reports no
// connections, and is described in plain words.
type Undeclared struct{}

// Title is "the backend".
func (Undeclared) Title() string { return "the backend" }

// Gaps is nil.
func (Undeclared) Gaps(netrules.Rules) []netrules.Gap { return nil }

// Enforcement says the backend enforces r itself.
func (Undeclared) Enforcement(r netrules.Rules) string {
	if !r.AllowEgress {
		return "no network\n"
	}
	return "enforced by the backend itself\n"
}

// Blocker is nil: nothing denied gets through.
func (Undeclared) Blocker(netrules.Rules) func(string, netip.Addr, int) bool { return nil }

// Ledger is nil.
func (Undeclared) Ledger(netrules.Rules, bool) *Network { return nil }

// Limits lists the limits as given.
func (Undeclared) Limits(l Limits) LimitTerms {
	return LimitTerms{PerSandbox: "memory " + FormatMiB(l.MemoryBytes) + ", CPU " + FormatSeconds(l.CPUTime) + " s, " +
		strconv.Itoa(l.MaxProcesses) + " processes, " + strconv.Itoa(l.MaxOpenFiles) + " open files, files and scratch " + FormatMiB(l.MaxFileBytes)}
}

// Tool describes a plain sandbox.
func (Undeclared) Tool(Limits, netrules.Rules, bool) ToolTerms {
	return ToolTerms{Sandbox: "sandbox", Files: "Files written are discarded afterwards."}
}
