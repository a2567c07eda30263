package tools_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/sessions"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestToolSnapshots compares every tool's JSON definition, as tools/list
// shows it, with testdata/<tool><variant>.golden.json, so that any change
// to what the model sees is reviewed: under the default policy on the local
// backend (with sessions: end_session and list_sessions too), on the local
// backend with egress rules (the Airlock proxy), on the Modal backend with
// an advisory network allowlist (without sessions), and on the local
// backend with sessions turned off. A difference is
// printed as a line diff (snapshotDiff). Regenerate with
// UPDATE_SNAPSHOTS=1 go test ./tools/.
func TestToolSnapshots(t *testing.T) {
	modalPolicy := policy.Default()
	modalPolicy.Network.AllowEgress = true
	modalPolicy.Network.Allow = []policy.NetworkRule{
		{Host: "pypi.org", Ports: []int{443}},
		{Host: "*.pythonhosted.org", Ports: []int{443}},
		{CIDR: "203.0.113.0/24"},
	}
	modalPolicy.Network.OnUnenforceable = policy.Advisory
	localEgress := policy.Default()
	localEgress.Network.AllowEgress = true
	localEgress.Network.Allow = modalPolicy.Network.Allow
	localEgress.Network.Deny = []policy.NetworkRule{{Host: "evil.pythonhosted.org"}}
	reg, err := sessions.New(sessions.Options{Config: tools.SessionsConfig(policy.Default()), Backend: &sandboxtest.SessionBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(true) })
	variants := []struct {
		suffix   string
		policy   *policy.Policy
		backend  *sandboxtest.Backend
		sessions tools.Sessions
	}{
		{"", policy.Default(), &sandboxtest.Backend{BackendName: local.Name}, tools.Sessions{Registry: reg}},
		{".modal", modalPolicy, &sandboxtest.Backend{BackendName: modal.Name}, tools.Sessions{Registry: reg}},
		{".egress", localEgress, &sandboxtest.Backend{BackendName: local.Name}, tools.Sessions{Registry: reg}},
		{".nosessions", policy.Default(), &sandboxtest.Backend{BackendName: local.Name}, tools.Sessions{Off: "the operator turned sessions off (sessions.enabled: false)"}},
	}
	update := os.Getenv("UPDATE_SNAPSHOTS") == "1"
	for _, v := range variants {
		all, err := tools.All(v.policy, capable(v.backend), v.sessions, nil, zap.NewNop())
		if err != nil {
			t.Fatalf("tools.All: %v", err)
		}
		for _, tool := range all {
			name := tool.Definition.Name + v.suffix
			t.Run(name, func(t *testing.T) {
				got, err := json.MarshalIndent(tool.Definition, "", "  ")
				if err != nil {
					t.Fatalf("marshal %s: %v", name, err)
				}
				got = append(got, '\n')
				path := filepath.Join("testdata", name+".golden.json")
				if update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatalf("write snapshot: %v", err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("read snapshot (run UPDATE_SNAPSHOTS=1 go test ./tools/ to create it): %v", err)
				}
				if d := snapshotDiff(want, got); d != "" {
					t.Errorf("%s definition differs from %s (-%s +tools/list); if intended, run UPDATE_SNAPSHOTS=1 go test ./tools/ and review the change:\n%s", name, path, path, d)
				}
			})
		}
	}
}
