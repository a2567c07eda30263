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
	deny := func(rules ...NetworkRule) func(p *Policy) {
		return func(p *Policy) { p.Network.Deny = rules }
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
		{"local accepts egress", BackendLocal, with(egress()), ""},
		{"local accepts every kind of rule", BackendLocal, with(egress(NetworkRule{Host: "pypi.org", Ports: []int{80}}, NetworkRule{CIDR: "10.0.0.0/8", Ports: []int{5432}}), deny(NetworkRule{Host: "x.pypi.org"})), ""},
		{"modal accepts open egress", BackendModal, with(egress()), ""},
		{"modal accepts whole CIDRs and deny CIDRs", BackendModal, with(egress(
			NetworkRule{CIDR: "203.0.113.0/24"},
			NetworkRule{CIDR: "2001:db8::/32"},
		), deny(NetworkRule{CIDR: "203.0.113.128/25"})), ""},
		{"modal refuses a TLS host: built-in denies behind the name", BackendModal, with(egress(NetworkRule{Host: "pypi.org", Ports: []int{443}})),
			"/network/allow/0: rule network.allow[0] (host pypi.org, port 443) cannot be enforced on Modal: Modal matches this name on the TLS SNI only, not on the addresses it resolves to, so a built-in denied address (loopback, cloud metadata, private ranges) behind it would not be blocked. Change the rule, or set network.on_unenforceable: advisory to run with it enforced only by the Airlock layer's static check of the code."},
		{"modal refuses each rule it cannot enforce, naming it", BackendModal, with(egress(
			NetworkRule{CIDR: "203.0.113.0/24"},
			NetworkRule{Host: "*.example.org", Ports: []int{80, 443}},
			NetworkRule{CIDR: "10.0.0.0/8", Ports: []int{5432}},
		), deny(NetworkRule{Host: "db.example.org"}, NetworkRule{CIDR: "198.51.100.0/24"})),
			"/network/allow/1: rule network.allow[1] (host *.example.org, ports 80, 443) cannot be enforced on Modal: Modal's domain allowlist admits only TLS on port 443*\n" +
				"/network/allow/1: rule network.allow[1] (host *.example.org, ports 80, 443) cannot be enforced on Modal: Modal matches this name on the TLS SNI only*\n" +
				"/network/allow/2: rule network.allow[2] (cidr 10.0.0.0/8, port 5432) cannot be enforced on Modal: Modal's CIDR allowlist admits every port*\n" +
				"/network/deny/0: rule network.deny[0] (host db.example.org, every port) cannot be enforced on Modal: Modal has no deny rules*\n" +
				"/network/deny/1: rule network.deny[1] (cidr 198.51.100.0/24, every port) cannot be enforced on Modal: Modal matches allowed hostnames on the TLS SNI only*"},
		{"modal refuses a host deny with open egress", BackendModal, with(egress(), deny(NetworkRule{Host: "evil.test"})),
			"/network/deny/0: rule network.deny[0] (host evil.test, every port) cannot be enforced on Modal: Modal has no deny rules*"},
		{"modal enforces a host deny nothing allows", BackendModal, with(egress(NetworkRule{CIDR: "203.0.113.0/24"}), deny(NetworkRule{Host: "evil.test"})), ""},
		{"modal advisory accepts what it cannot enforce", BackendModal, with(egress(NetworkRule{Host: "pypi.org"}), deny(NetworkRule{Host: "x.pypi.org"}), func(p *Policy) { p.Network.OnUnenforceable = Advisory }), ""},
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
			if !matchLines(err.Error(), tt.want) {
				t.Errorf("CheckBackend(%q) =\n%s\nwant\n%s", tt.backend, err, tt.want)
			}
			if len(le.Problems) != strings.Count(tt.want, "\n")+1 {
				t.Errorf("%d problems, want one per line", len(le.Problems))
			}
		})
	}
}

// matchLines reports whether got equals want line by line, where a want
// line ending in "*" needs only to be a prefix of its got line.
func matchLines(got, want string) bool {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	if len(g) != len(w) {
		return false
	}
	for i := range w {
		if p, ok := strings.CutSuffix(w[i], "*"); ok {
			if !strings.HasPrefix(g[i], p) {
				return false
			}
		} else if g[i] != w[i] {
			return false
		}
	}
	return true
}
