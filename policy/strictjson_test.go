package policy

import (
	"errors"
	"strings"
	"testing"
)

// TestJSONPolicyIsStrictJSON: a policy file ending in .json must be JSON:
// what only YAML accepts (trailing commas, comments, unquoted keys, single
// quotes, a second value) is refused naming the file and line, while the
// same text in a .yaml file is YAML as before.
func TestJSONPolicyIsStrictJSON(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
	}{
		{"trailing comma", "{\n  \"version\": 1,\n}\n", 3},
		{"comment", "{\n  # no comments in JSON\n  \"version\": 1\n}\n", 2},
		{"unquoted key", "{version: 1}", 1},
		{"single quotes", "{'version': 1}", 1},
		{"YAML instead", "version: 1\n", 1},
		{"two values", "{}\n{}\n", 2},
		{"empty", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "p.json")
			le, ok := errors.AsType[*LoadError](err)
			if !ok || len(le.Problems) != 1 {
				t.Fatalf("Parse(p.json) = %v, want one JSON syntax problem", err)
			}
			if pr := le.Problems[0]; pr.File != "p.json" || pr.Line != tc.line || pr.Pointer != "" || !strings.HasPrefix(pr.Message, "JSON syntax error: ") {
				t.Errorf("problem = %+v, want p.json line %d, a JSON syntax error", pr, tc.line)
			}
		})
	}
	// The same trailing comma is YAML's business in a .yaml file.
	if _, err := Parse([]byte("{\n  \"version\": 1,\n}\n"), "p.yaml"); err != nil {
		t.Errorf("flow mapping with a trailing comma in p.yaml: %v", err)
	}
	// Case does not matter, and valid JSON still goes through the schema.
	if _, err := Parse([]byte(`{"version": 1,}`), "P.JSON"); err == nil {
		t.Error("P.JSON with a trailing comma was accepted")
	}
	if _, err := Parse([]byte(`{"limits": {"memory_mbb": 1}}`), "p.json"); err == nil {
		t.Error("valid JSON with an unknown key was accepted")
	}
}
