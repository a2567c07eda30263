package tools_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestToolSnapshots compares every tool's JSON definition, as tools/list
// shows it under the default policy, with testdata/<tool>.golden.json, so
// that any change to what the model sees is reviewed. Regenerate with
// UPDATE_SNAPSHOTS=1 go test ./tools/.
func TestToolSnapshots(t *testing.T) {
	all, err := tools.All(policy.Default(), &fakeBackend{}, zap.NewNop())
	if err != nil {
		t.Fatalf("tools.All: %v", err)
	}
	update := os.Getenv("UPDATE_SNAPSHOTS") == "1"
	for _, tool := range all {
		t.Run(tool.Definition.Name, func(t *testing.T) {
			got, err := json.MarshalIndent(tool.Definition, "", "  ")
			if err != nil {
				t.Fatalf("marshal %s: %v", tool.Definition.Name, err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", tool.Definition.Name+".golden.json")
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
			if !bytes.Equal(got, want) {
				t.Errorf("%s definition differs from %s (if intended, run UPDATE_SNAPSHOTS=1 go test ./tools/ and review the diff)\ngot:\n%s", tool.Definition.Name, path, got)
			}
		})
	}
}
