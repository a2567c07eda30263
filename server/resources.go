package server

import (
	"context"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// PolicyResourceURI names the resource stating the effective policy.
const PolicyResourceURI = "airlock://policy"

// policyText is the effective policy as the model reads it: the limits,
// the network rules with the built-in denies, and how backend enforces
// them (natively, by the Airlock proxy, or only advisory).
func policyText(p *policy.Policy, backend string) string {
	var b strings.Builder
	b.WriteString("Airlock policy in force (backend " + backend + ", policy sha256 " + p.SHA256() + ")\n\n")
	b.WriteString(p.Describe())
	b.WriteString("\n")
	b.WriteString(p.Network.Explain())
	b.WriteString("\nenforcement on " + backend + ":\n")
	for _, line := range strings.Split(strings.TrimRight(p.Network.Enforcement(backend), "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	b.WriteString("\nOnly the operator can change this policy. A refused connection is final: do not try to reach the host another way.\n")
	return b.String()
}

// addPolicyResource registers airlock://policy on s.
func addPolicyResource(s *mcpserver.MCPServer, p *policy.Policy, backend string) {
	text := policyText(p, backend)
	res := mcp.NewResource(PolicyResourceURI, "Airlock policy",
		mcp.WithResourceDescription("The effective execution limits and network policy for "+backend+" sandboxes: allowed and denied hosts and ports, the built-in denies, and what is enforced natively, by the Airlock proxy, or only advisory."),
		mcp.WithMIMEType("text/plain"),
	)
	s.AddResource(res, func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: PolicyResourceURI, MIMEType: "text/plain", Text: text}}, nil
	})
}
