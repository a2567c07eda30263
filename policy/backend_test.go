package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckBackend(t *testing.T) {
	egress := func(rules ...NetworkRule) func(p *Policy) {
		return func(p *Policy) {
			p.Network.AllowEgress = true
			p.Network.Allow = rules
		}
	}
	tests := []struct {
		name    string
		backend string
		p       *Policy
		want    string // exact error text; "" means accepted
	}{
		{"local accepts the default", BackendLocal, Default(), ""},
		{"modal accepts the default", BackendModal, Default(), ""},
		{"unknown backend is not checked", "other", with(egress()), ""},
		{"local refuses egress", BackendLocal, with(egress()),
			"/network/allow_egress: network egress is not supported on the local backend yet (its sandboxes have no network at all); set network.allow_egress to false, or use --backend modal"},
		{"local refuses egress with rules", BackendLocal, with(egress(NetworkRule{Host: "pypi.org", Ports: []int{443}})),
			"/network/allow_egress: network egress is not supported on the local backend yet (its sandboxes have no network at all); set network.allow_egress to false, or use --backend modal"},
		{"modal accepts open egress", BackendModal, with(egress()), ""},
		{"modal accepts TLS hosts and whole CIDRs", BackendModal, with(egress(
			NetworkRule{Host: "pypi.org", Ports: []int{443}},
			NetworkRule{Host: "*.pythonhosted.org", Ports: []int{443}},
			NetworkRule{CIDR: "203.0.113.0/24"},
			NetworkRule{CIDR: "2001:db8::/32"},
		)), ""},
		{"modal refuses each rule it cannot enforce, naming it", BackendModal, with(egress(
			NetworkRule{Host: "pypi.org", Ports: []int{443}},
			NetworkRule{Host: "example.com"},
			NetworkRule{Host: "*.example.org", Ports: []int{80, 443}},
			NetworkRule{CIDR: "10.0.0.0/8", Ports: []int{5432}},
		)),
			"/network/allow/1: rule (host example.com, every port) cannot be enforced on Modal: Modal's domain allowlist admits only TLS connections on port 443, so other ports and plain HTTP to this host would be blocked rather than allowed; set ports: [443] on this rule to accept that, or remove it\n" +
				"/network/allow/2: rule (host *.example.org, ports 80, 443) cannot be enforced on Modal: Modal's domain allowlist admits only TLS connections on port 443, so other ports and plain HTTP to this host would be blocked rather than allowed; set ports: [443] on this rule to accept that, or remove it\n" +
				"/network/allow/3: rule (cidr 10.0.0.0/8, port 5432) cannot be enforced on Modal: Modal's CIDR allowlist admits every port and protocol to the block, so the port restriction would not hold; remove ports from this rule to allow the whole block, or remove the rule"},
		{"modal refuses a memory request above the cap", BackendModal, with(func(p *Policy) { p.Backend.Modal.MemoryMB = 1024 }),
			"/backend/modal/memory_mb: memory_mb 1024 (the memory Modal reserves for each sandbox) is greater than limits.memory_mb 512 (each sandbox's hard cap); lower backend.modal.memory_mb or raise limits.memory_mb"},
		{"modal refuses a pool larger than the concurrency", BackendModal, with(func(p *Policy) { p.Backend.Modal.PoolSize = 5 }),
			"/backend/modal/pool_size: pool_size 5 is greater than limits.max_concurrent 4: at most 4 calls run at once, so the extra idle sandboxes would only cost money; lower backend.modal.pool_size"},
		{"modal accepts a pool as large as the concurrency", BackendModal, with(func(p *Policy) { p.Backend.Modal.PoolSize = 4 }), ""},
		{"local ignores the modal settings", BackendLocal, with(func(p *Policy) { p.Backend.Modal.MemoryMB = 1 << 20 }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CheckBackend(tt.backend)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckBackend(%q) = %v, want nil", tt.backend, err)
				}
				return
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("CheckBackend(%q) = %v, want a *LoadError", tt.backend, err)
			}
			if err.Error() != tt.want {
				t.Errorf("CheckBackend(%q) =\n%s\nwant\n%s", tt.backend, err, tt.want)
			}
			if len(le.Problems) != strings.Count(tt.want, "\n")+1 {
				t.Errorf("%d problems, want one per line", len(le.Problems))
			}
		})
	}
}
