package local

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Capabilities is what the local backend enforces of the network rules:
// all of them. Without egress a sandbox's network namespace has only
// loopback; with it, the Airlock proxy (Options.Network) is the sandbox's
// only way out and decides every connection by name, port and resolved
// address, and records it in the ledger. Its zero value is ready.
type Capabilities struct{}

var (
	_ sandbox.Capabilities = Capabilities{}
	_ sandbox.Capable      = (*Backend)(nil)
)

// Capabilities returns the local backend's capabilities.
func (b *Backend) Capabilities() sandbox.Capabilities { return Capabilities{} }

// Title is "the local backend".
func (Capabilities) Title() string { return "the local backend" }

// Gaps is nil: the local backend enforces every rule.
func (Capabilities) Gaps(netrules.Rules) []netrules.Gap { return nil }

// Enforcement says that the namespace or the proxy enforces every rule.
func (Capabilities) Enforcement(r netrules.Rules) string {
	if !r.AllowEgress {
		return "no network: the sandbox's network namespace has only loopback and no proxy\n"
	}
	return "every rule enforced by the Airlock proxy, the sandbox's only way out: hostname and port, every resolved address (no DNS rebinding), TLS SNI on port 443, per-call limits; raw sockets, DNS and UDP have no route\n"
}

// Blocker is nil: every denied destination is blocked while the code runs.
func (Capabilities) Blocker(netrules.Rules) func(string, netip.Addr, int) bool { return nil }

// Ledger is nil: the proxy reports every attempt itself.
func (Capabilities) Ledger(netrules.Rules, bool) *sandbox.Network { return nil }

// Tool describes a local sandbox: scratch space in /tmp and the working
// directory only, a process cap, and the Airlock proxy.
func (Capabilities) Tool(l sandbox.Limits, _ netrules.Rules, _ bool) sandbox.ToolTerms {
	return sandbox.ToolTerms{
		Sandbox:   "sandbox",
		Files:     fmt.Sprintf("Files can be written only in /tmp and the working directory (%d MiB in all) and are discarded afterwards.", l.MaxFileBytes>>20),
		Processes: fmt.Sprintf("; %d processes", l.MaxProcesses),
		Network:   ". Connections go through the Airlock proxy (HTTP_PROXY and HTTPS_PROXY are set; urllib, requests, httpx and pip use them); raw sockets, DNS lookups and UDP have no route. A refused connection gets HTTP 403 with the reason, and every attempt is listed in the result's network ledger",
	}
}

// Limits: every limit is enforced per sandbox, and the Airlock proxy
// carries every connection, so its per-call limits apply.
func (Capabilities) Limits(l sandbox.Limits) sandbox.LimitTerms {
	return sandbox.LimitTerms{
		PerSandbox: "memory " + sandbox.FormatMiB(l.MemoryBytes) + ", CPU " + sandbox.FormatSeconds(l.CPUTime) + " s, " +
			strconv.Itoa(l.MaxProcesses) + " processes, " + strconv.Itoa(l.MaxOpenFiles) + " open files, files and scratch " + sandbox.FormatMiB(l.MaxFileBytes),
		ProxyLimits: true,
	}
}
