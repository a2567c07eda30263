package main

import (
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// TestSummary: the policy's summary states the limits as each backend
// applies them, and that backend's settings only.
func TestSummary(t *testing.T) {
	custom := policy.Default()
	custom.Limits.MemoryMB = 2048
	custom.Backend.Local.Python = "/opt/py/bin/python3"
	custom.Backend.Modal = policy.ModalSettings{AppName: "ci", Image: "ghcr.io/acme/py:3.13", CPU: 0.25, MemoryMB: 1024, TimeoutS: 60, Environment: "prod", PoolSize: 2}
	tests := []struct {
		name, backend string
		p             *policy.Policy
		want, without []string
	}{
		{"local, defaults", local.Name, policy.Default(), []string{
			"timeout: 30 s by default, 300 s at most\n",
			"per sandbox: memory 512 MiB, CPU 60 s, 64 processes, 256 open files, files and scratch 64 MiB\n",
			"python: /usr/bin/python3 (the default); 1 warm sandbox(es)\n",
		}, []string{"modal:", "Modal"}},
		{"local, custom", local.Name, custom, []string{"memory 2 GiB,", "python: /opt/py/bin/python3;"}, nil},
		{"modal, defaults", modal.Name, policy.Default(), []string{
			"timeout: 30 s by default, 300 s at most\n",
			"per sandbox: memory 512 MiB (Modal's hard limit); CPU 60 s, 256 open files, files up to 64 MiB each (rlimits the code, root in its container, could raise); processes and scratch space not capped (a container of its own)\n",
			"code up to 256 KiB", "4 calls at once", "network: none\n",
			"modal: app airlock-mcp (environment: the profile's), image python:3.12-slim; each sandbox requests 0.5 CPU and 512 MiB and lives 30 s beyond its call's timeout; pool: off (each call creates its sandbox)\n",
		}, []string{"python: ", "warm sandbox", "64 processes", "files and scratch"}},
		{"modal, custom", modal.Name, custom, []string{
			"memory 2 GiB (Modal's hard limit)",
			"modal: app ci (environment: \"prod\"), image ghcr.io/acme/py:3.13; each sandbox requests 0.25 CPU and 1 GiB and lives 60 s beyond its call's timeout; pool: 2 sandbox(es) kept ready (billed while idle)\n",
		}, []string{"python: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summary(tt.p, tt.backend)
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("summary =\n%s\nlacks %q", got, want)
				}
			}
			for _, not := range tt.without {
				if strings.Contains(got, not) {
					t.Errorf("summary =\n%s\nstates %q, which this backend does not apply", got, not)
				}
			}
		})
	}
}
