package tools_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/schemas"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

func ptr[T any](v T) *T { return &v }

// TestOutputSchemaMatchesResult checks that the output schema describes
// exactly the JSON of tools.ExecuteResult (sandbox.Result's fields and
// the files and figures): every field a required property, no property
// without a field, and real results valid.
func TestOutputSchemaMatchesResult(t *testing.T) {
	tool, err := tools.ExecutePython(policy.Default(), &sandboxtest.Backend{}, tools.Sessions{}, nil, zap.NewNop())
	if err != nil {
		t.Fatalf("ExecutePython: %v", err)
	}
	var doc struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(tool.Definition.RawOutputSchema, &doc); err != nil {
		t.Fatalf("parse output schema: %v", err)
	}
	var fields []string
	for _, rt := range []reflect.Type{reflect.TypeFor[sandbox.Result](), reflect.TypeFor[tools.ExecuteResult]()} {
		for i := range rt.NumField() {
			if name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
				fields = append(fields, name)
			}
		}
	}
	var props []string
	for k := range doc.Properties {
		props = append(props, k)
	}
	slices.Sort(fields)
	slices.Sort(props)
	required := slices.Sorted(slices.Values(doc.Required))
	if !slices.Equal(fields, props) {
		t.Errorf("schema properties %v, sandbox.Result fields %v", props, fields)
	}
	if !slices.Equal(fields, required) {
		t.Errorf("schema required %v, sandbox.Result fields %v", required, fields)
	}

	none := &sandbox.Network{Enforcement: sandbox.EnforcementNone, Connections: []sandbox.Connection{}}
	proxied := &sandbox.Network{Enforcement: sandbox.EnforcementProxy, Connections: []sandbox.Connection{
		{Host: "pypi.org", Port: 443, Method: "CONNECT", Address: "151.101.0.223:443", Allowed: true, Rule: "network.allow[0] (host pypi.org, port 443)", BytesOut: 517, BytesIn: 4096},
		{Host: "evil.test", Port: 443, Method: "CONNECT", Rule: "network.allow (no rule matches)", Reason: "Connection to evil.test:443 refused: ...", Count: 3},
	}}
	static := &sandbox.Network{Enforcement: sandbox.EnforcementAdvisory, Connections: []sandbox.Connection{
		{Host: "pypi.org", Method: "static", Allowed: true, Rule: "network.allow[0] (host pypi.org, port 443)"},
	}, Note: "Modal does not report connections."}
	none_ := []tools.FileEntry{}
	returned := []tools.FileEntry{
		{Path: "out/a.csv", Size: 3, MIME: "text/csv", SHA256: strings.Repeat("ab", 32), URI: "airlock://files/0123/out/a.csv"},
		{Path: "out/huge.bin", Size: 1 << 40, MIME: "application/octet-stream", Omitted: true, Reason: "over files.max_out_mb (32.0 MiB in all)"},
	}
	figure := []tools.FileEntry{{Path: "figure-1.png", Size: 100, MIME: "image/png", SHA256: strings.Repeat("0f", 32), URI: "airlock://files/0123/figures/figure-1.png"}}
	valid := []tools.ExecuteResult{
		{Result: sandbox.Result{Status: sandbox.StatusOK, ExitCode: ptr(0), Stdout: "1\n", Result: ptr("42"), DurationMS: 12, Backend: "local", Network: none}, Files: none_, Figures: none_},
		{Result: sandbox.Result{Status: sandbox.StatusError, ExitCode: ptr(1), Error: &sandbox.ErrorInfo{Type: "ValueError", Message: "bad", Traceback: "tb"}, Backend: "local", Network: proxied}, Files: returned, Figures: figure},
		{Result: sandbox.Result{Status: sandbox.StatusTimeout, TimedOut: true, Truncated: true, Error: &sandbox.ErrorInfo{Type: "Timeout", Message: "limit"}, Network: static}, Files: none_, Figures: none_},
		{Result: sandbox.Result{Status: sandbox.StatusKilled, Network: none}, Files: none_, Figures: none_},
	}
	for _, r := range valid {
		if err := validate(tool.Output, r); err != nil {
			t.Errorf("valid result %+v rejected: %v", r, err)
		}
	}
	ok := func(r sandbox.Result) tools.ExecuteResult {
		return tools.ExecuteResult{Result: r, Files: none_, Figures: none_}
	}
	invalid := map[string]tools.ExecuteResult{
		"unknown status":      ok(sandbox.Result{Status: "exploded", Network: none}),
		"negative duration":   ok(sandbox.Result{Status: sandbox.StatusOK, DurationMS: -1, Network: none}),
		"no network ledger":   ok(sandbox.Result{Status: sandbox.StatusOK}),
		"unknown enforcement": ok(sandbox.Result{Status: sandbox.StatusOK, Network: &sandbox.Network{Enforcement: "magic", Connections: []sandbox.Connection{}}}),
		"port out of range":   ok(sandbox.Result{Status: sandbox.StatusOK, Network: &sandbox.Network{Enforcement: sandbox.EnforcementProxy, Connections: []sandbox.Connection{{Host: "x", Port: 70000, Method: "GET", Rule: "r"}}}}),
		"no files list":       {Result: sandbox.Result{Status: sandbox.StatusOK, Network: none}, Figures: none_},
		"a file without a type": {Result: sandbox.Result{Status: sandbox.StatusOK, Network: none}, Figures: none_,
			Files: []tools.FileEntry{{Path: "out/a", Size: 1}}},
		"a hash that is not hex SHA-256": {Result: sandbox.Result{Status: sandbox.StatusOK, Network: none}, Figures: none_,
			Files: []tools.FileEntry{{Path: "out/a", Size: 1, MIME: "text/plain", SHA256: "abc"}}},
	}
	for name, r := range invalid {
		if err := validate(tool.Output, r); err == nil {
			t.Errorf("%s: invalid result accepted", name)
		}
	}
}

// validate checks v's JSON against s, as a client that validates
// structuredContent would.
func validate(s *jsonschema.Schema, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := s.Validate(inst); err != nil {
		var lines []string
		for _, v := range schemas.Violations(err) {
			lines = append(lines, v.String())
		}
		return &violationsError{lines}
	}
	return nil
}

type violationsError struct{ lines []string }

func (e *violationsError) Error() string { return strings.Join(e.lines, "; ") }
