package main

import (
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestSessionsOff: sessions are offered exactly when the policy enables
// them and the backend, behind the concurrency limit, keeps sessions; the
// reason otherwise names what to change.
func TestSessionsOff(t *testing.T) {
	off := policy.Default()
	off.Sessions.Enabled = false
	tests := []struct {
		name string
		p    *policy.Policy
		b    sandbox.Backend
		want string // "" = offered
	}{
		{"keeper", policy.Default(), sandbox.LimitConcurrency(&sandboxtest.SessionBackend{}, 1), ""},
		{"fresh only", policy.Default(), sandbox.LimitConcurrency(&sandboxtest.Backend{BackendName: "modal"}, 1), "the modal backend does not keep sessions"},
		{"turned off", off, sandbox.LimitConcurrency(&sandboxtest.SessionBackend{}, 1), "sessions.enabled: false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sessionsOff(tt.p, tt.b)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("sessionsOff = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSessionsVerdict: doctor and policy check say that sessions are
// offered on the local backend and how they live, and that the policy
// turned them off when it did.
func TestSessionsVerdict(t *testing.T) {
	off := policy.Default()
	off.Sessions.Enabled = false
	if got := sessionsVerdict(policy.Default(), "local"); !strings.Contains(got, "sessions on local: each session is a sandbox of its own") || !strings.Contains(got, "dies with the server") {
		t.Errorf("local: %q", got)
	}
	if got := sessionsVerdict(off, "local"); !strings.Contains(got, "sessions.enabled: false") {
		t.Errorf("turned off: %q", got)
	}
}
