package server

import (
	"context"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// PolicyResourceURI names the resource stating the effective policy.
const PolicyResourceURI = "airlock://policy"

// policyText is the effective policy as the model reads it: the limits,
// the network rules with the built-in denies, and how backend b enforces
// them (natively, by the Airlock proxy, or only advisory).
func policyText(p *policy.Policy, b sandbox.Backend) string {
	var sb strings.Builder
	sb.WriteString("Airlock policy in force (backend " + b.Name() + ", policy sha256 " + p.SHA256() + ")\n\n")
	terms := sandbox.CapabilitiesOf(b).Limits(p.DefaultLimits())
	sb.WriteString(p.Describe(terms))
	sb.WriteString("\n")
	sb.WriteString(p.Network.Explain(terms.ProxyLimits))
	sb.WriteString("\nenforcement on " + b.Name() + ":\n")
	enforcement := sandbox.CapabilitiesOf(b).Enforcement(p.Network.Rules())
	for _, line := range strings.Split(strings.TrimRight(enforcement, "\n"), "\n") {
		sb.WriteString("  " + line + "\n")
	}
	sb.WriteString("\nOnly the operator can change this policy. A refused connection is final: do not try to reach the host another way.\n")
	return sb.String()
}

// addPolicyResource registers airlock://policy on s, for backend b.
func addPolicyResource(s *mcpserver.MCPServer, p *policy.Policy, b sandbox.Backend) {
	text := policyText(p, b)
	res := mcp.NewResource(PolicyResourceURI, "Airlock policy",
		mcp.WithResourceDescription("The effective execution limits and network policy for "+b.Name()+" sandboxes: allowed and denied hosts and ports, the built-in denies, and what is enforced natively, by the Airlock proxy, or only advisory."),
		mcp.WithMIMEType("text/plain"),
	)
	s.AddResource(res, func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: PolicyResourceURI, MIMEType: "text/plain", Text: text}}, nil
	})
}
