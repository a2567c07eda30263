package policy

import (
	"fmt"
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

// localProblems is empty: the local backend enforces the whole network
// policy through the Airlock proxy.
func (p *Policy) localProblems() []Problem { return nil }

// modalProblems lists what the Modal backend cannot honour: settings that
// do not fit the limits and, unless network.on_unenforceable is advisory,
// every network rule Modal cannot enforce (see ModalGaps).
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
	if p.Network.OnUnenforceable == Advisory {
		return out
	}
	for _, g := range p.Network.ModalGaps() {
		out = append(out, Problem{
			Pointer: g.Pointer,
			Message: "rule " + g.Rule + " cannot be enforced on Modal: " + g.Why +
				" Change the rule, or set network.on_unenforceable: advisory to run with it enforced only by the Airlock layer's static check of the code.",
		})
	}
	return out
}
