package tools_test

import (
	"encoding/json"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/schemas"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestAllToolsWellFormed checks what every tool must have, whatever it does:
// a definition that marshals (one that does not breaks tools/list for the
// whole server), every annotation set explicitly, and input and output
// schemas that compile.
func TestAllToolsWellFormed(t *testing.T) {
	all, err := tools.All(policy.Default(), &sandboxtest.Backend{}, tools.Sessions{}, nil, zap.NewNop())
	if err != nil {
		t.Fatalf("tools.All: %v", err)
	}
	if len(all) == 0 {
		t.Fatal("tools.All returned no tools")
	}
	seen := map[string]bool{}
	for _, tool := range all {
		def := tool.Definition
		t.Run(def.Name, func(t *testing.T) {
			if def.Name == "" || seen[def.Name] {
				t.Fatalf("tool name %q is empty or duplicated", def.Name)
			}
			seen[def.Name] = true
			if def.Description == "" {
				t.Error("no description")
			}
			b, err := json.Marshal(def)
			if err != nil {
				t.Fatalf("definition does not marshal: %v", err)
			}
			var wire map[string]any
			if err := json.Unmarshal(b, &wire); err != nil {
				t.Fatalf("definition is not a JSON object: %v", err)
			}
			for _, key := range []string{"inputSchema", "outputSchema", "annotations"} {
				if _, ok := wire[key]; !ok {
					t.Errorf("marshalled definition has no %s", key)
				}
			}

			a := def.Annotations
			if a.Title == "" || a.ReadOnlyHint == nil || a.DestructiveHint == nil ||
				a.IdempotentHint == nil || a.OpenWorldHint == nil {
				t.Errorf("annotations not all set explicitly: %+v", a)
			}

			if tool.Input == nil || tool.Output == nil || tool.Handler == nil || tool.LogArgs == nil {
				t.Errorf("tool is missing its compiled schemas, handler or LogArgs")
			}
			if len(def.RawInputSchema) == 0 {
				t.Fatal("no raw input schema")
			}
			if _, err := schemas.Compile(def.Name+".input", def.RawInputSchema); err != nil {
				t.Errorf("input schema does not compile: %v", err)
			}
			if len(def.RawOutputSchema) == 0 {
				t.Fatal("no raw output schema")
			}
			if _, err := schemas.Compile(def.Name+".output", def.RawOutputSchema); err != nil {
				t.Errorf("output schema does not compile: %v", err)
			}
		})
	}
}
