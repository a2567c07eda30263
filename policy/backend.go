package policy

import (
	"fmt"
	"strconv"
)

// Backend names, as --backend takes them and Result.Backend reports them.
const (
	BackendLocal = "local"
	BackendModal = "modal"
)

// CheckBackend checks that the backend named name can honour p exactly:
// every network rule must be one the backend enforces (a backend never
// pretends to enforce what it cannot), and the backend's settings must fit
// the limits. It returns nil or a *LoadError whose problems name each key
// and rule and say why. Names it does not know are not checked.
func (p *Policy) CheckBackend(name string) error {
	var probs []Problem
	switch name {
	case BackendLocal:
		probs = p.localProblems()
	case BackendModal:
		probs = p.modalProblems()
	}
	if len(probs) > 0 {
		return &LoadError{Problems: probs}
	}
	return nil
}

func (p *Policy) localProblems() []Problem {
	if !p.Network.AllowEgress {
		return nil
	}
	return []Problem{{
		Pointer: "/network/allow_egress",
		Message: "network egress is not supported on the local backend yet (its sandboxes have no network at all); set network.allow_egress to false, or use --backend modal",
	}}
}

// modalProblems lists what the Modal backend cannot honour. Modal enforces
// three things natively: no network at all, an allowlist of CIDR blocks
// (every port and protocol), and an allowlist of domains that admits only
// TLS on port 443 (matched on SNI). Anything else is refused rather than
// approximated.
func (p *Policy) modalProblems() []Problem {
	var out []Problem
	m := p.Backend.Modal
	if m.MemoryMB > p.Limits.MemoryMB {
		out = append(out, Problem{Pointer: "/backend/modal/memory_mb", Message: fmt.Sprintf(
			"memory_mb %d (the memory Modal reserves for each sandbox) is greater than limits.memory_mb %d (each sandbox's hard cap); lower backend.modal.memory_mb or raise limits.memory_mb",
			m.MemoryMB, p.Limits.MemoryMB)})
	}
	if m.PoolSize > p.Limits.MaxConcurrent {
		out = append(out, Problem{Pointer: "/backend/modal/pool_size", Message: fmt.Sprintf(
			"pool_size %d is greater than limits.max_concurrent %d: at most %d calls run at once, so the extra idle sandboxes would only cost money; lower backend.modal.pool_size",
			m.PoolSize, p.Limits.MaxConcurrent, p.Limits.MaxConcurrent)})
	}
	for i, r := range p.Network.Allow {
		if why := modalRuleProblem(r); why != "" {
			out = append(out, Problem{
				Pointer: "/network/allow/" + strconv.Itoa(i),
				Message: "rule (" + r.String() + ") cannot be enforced on Modal: " + why,
			})
		}
	}
	return out
}

// modalRuleProblem says why Modal cannot enforce r exactly, or "".
func modalRuleProblem(r NetworkRule) string {
	switch {
	case r.Host != "" && !r.OnlyPort(443):
		return "Modal's domain allowlist admits only TLS connections on port 443, so other ports and plain HTTP to this host would be blocked rather than allowed; set ports: [443] on this rule to accept that, or remove it"
	case r.CIDR != "" && len(r.Ports) > 0:
		return "Modal's CIDR allowlist admits every port and protocol to the block, so the port restriction would not hold; remove ports from this rule to allow the whole block, or remove the rule"
	}
	return ""
}
