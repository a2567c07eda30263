package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// TestModalOptions: the policy's backend.modal section, limits and network
// rules become the Modal backend's options, which the backend accepts (its
// doctor validates them without any network call).
func TestModalOptions(t *testing.T) {
	p := policy.Default()
	p.Limits.MaxTimeoutS, p.Limits.MaxConcurrent = 12.5, 3
	p.Backend.Modal.PoolSize, p.Backend.Modal.TimeoutS = 2, 45
	p.Network.AllowEgress, p.Network.Allow = true, []policy.NetworkRule{{CIDR: "203.0.113.0/24"}}
	opts, err := modalOptions(p)
	if err != nil {
		t.Fatalf("modalOptions: %v", err)
	}
	if opts.DefaultLimits != p.DefaultLimits() || opts.MaxConcurrent != 3 || opts.PoolSize != 2 ||
		opts.MaxTimeout != 13*time.Second || opts.Lifetime != 45*time.Second ||
		!reflect.DeepEqual(opts.Network, modal.NetworkFor(p.Network.Rules())) {
		t.Errorf("options %+v", opts)
	}
	checks, _ := modal.Diagnose(opts)
	for _, c := range checks {
		if c.Name == "options" {
			t.Errorf("the backend refuses the policy's options: %s", c.Detail)
		}
	}
}

// TestModalOptionsRefused: a setting that does not fit the limits or a
// rule Modal cannot enforce stops the backend from being built, each named
// by its policy key, the settings first; advisory accepts the rules only.
func TestModalOptionsRefused(t *testing.T) {
	p := policy.Default()
	p.Backend.Modal.MemoryMB = 1024
	p.Network.AllowEgress, p.Network.Allow = true, []policy.NetworkRule{{Host: "pypi.org", Ports: []int{80, 443}}}
	_, err := modalOptions(p)
	var le *policy.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("modalOptions = %v, want a *policy.LoadError", err)
	}
	if !strings.HasPrefix(err.Error(), "the policy cannot be enforced on the Modal backend:\n/backend/modal/memory_mb: memory_mb 1024 ") ||
		!strings.Contains(err.Error(), "\n/network/allow/0: rule network.allow[0] (host pypi.org, ports 80, 443) cannot be enforced on Modal: Modal's domain allowlist admits only TLS on port 443") {
		t.Errorf("modalOptions = %v", err)
	}
	if len(le.Problems) != 3 {
		t.Errorf("%d problems, want the setting and two gaps: %v", len(le.Problems), err)
	}
	p.Network.OnUnenforceable = policy.Advisory
	if err := checkModal(p); !errors.As(err, &le) || len(le.Problems) != 1 || le.Problems[0].Pointer != "/backend/modal/memory_mb" {
		t.Errorf("advisory: checkModal = %v, want only the setting", err)
	}
}
