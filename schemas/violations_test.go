package schemas_test

import (
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestViolationsNameFieldAndRule(t *testing.T) {
	schema, err := schemas.Compile("t.json", []byte(`{
		"type": "object", "additionalProperties": false, "required": ["code"],
		"properties": {
			"code": {"type": "string", "minLength": 1, "maxLength": 5},
			"timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600}
		}}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		doc  string
		want []string
	}{
		{`{"code": "x", "timeout_s": 9000}`, []string{"/timeout_s: maximum: got 9000, want 3600"}},
		{`{"code": "x", "timeout_s": 0}`, []string{"/timeout_s: exclusiveMinimum: got 0, want > 0"}},
		{`{"code": "toolong"}`, []string{"/code: maxLength: got 7, want 5"}},
		{`{"code": ""}`, []string{"/code: minLength: got 0, want 1"}},
		{`{}`, []string{"/: missing property 'code'"}},
		{`{"code": "x", "bogus": 1}`, []string{"/: additional properties 'bogus' not allowed"}},
		{`{"code": 5}`, []string{"/code: got number, want string"}},
		{`{"code": "", "timeout_s": 1e6}`, []string{"/code: minLength: got 0, want 1", "/timeout_s: maximum: got 1000000, want 3600"}},
	}
	for _, tc := range tests {
		t.Run(tc.doc, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range schemas.Violations(schema.Validate(inst)) {
				got = append(got, v.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestViolationsOfNilIsNone(t *testing.T) {
	if v := schemas.Violations(nil); v != nil {
		t.Errorf("Violations(nil) = %v", v)
	}
}
