package policy

import (
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// CheckBackend checks that a backend with capabilities c can honour p's
// network rules: unless network.on_unenforceable is advisory, every rule
// must be one the backend enforces itself (a backend never pretends to
// enforce what it cannot). It returns nil or a *LoadError with one problem
// per gap, naming the rule, why, and what to change. A backend's own
// settings are the backend's to check.
func (p *Policy) CheckBackend(c sandbox.Capabilities) error {
	if p.Network.OnUnenforceable == Advisory {
		return nil
	}
	var probs []Problem
	for _, g := range c.Gaps(p.Network.Rules()) {
		probs = append(probs, Problem{
			Pointer: g.Pointer,
			Message: "rule " + g.Rule + " cannot be enforced on " + c.Title() + ": " + g.Why +
				" Change the rule, or set network.on_unenforceable: advisory to run with it enforced only by the Airlock layer's static check of the code.",
		})
	}
	if len(probs) > 0 {
		return &LoadError{Problems: probs}
	}
	return nil
}
