package policy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/airlock-mcp/airlock-mcp/schemas"
)

// defaultJSON is Default() as the JSON values the schema validates.
func defaultJSON(t *testing.T) map[string]any {
	t.Helper()
	b, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

func TestSchemaCompilesAndAcceptsDefault(t *testing.T) {
	s, err := compiledSchema()
	if err != nil {
		t.Fatalf("embedded %s: %v", schemaFile, err)
	}
	if err := s.Validate(defaultJSON(t)); err != nil {
		t.Errorf("Default() does not validate against %s:\n%v", schemaFile, schemas.Violations(err))
	}
}

// TestSchemaMatchesPolicy keeps the schema, the Policy type and Default()
// from drifting: the schema describes exactly the keys the type has (plus
// "$schema"), every object refuses unknown keys, every property has a
// description, and each "Default: N" written in a description is Default().
func TestSchemaMatchesPolicy(t *testing.T) {
	raw, err := schemas.Read(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	defaults := defaultJSON(t)
	defaultRE := regexp.MustCompile(`Default: ([^ .]+(?:\.[0-9]+)?)`)

	var walk func(where string, schema map[string]any, value any)
	walk = func(where string, schema map[string]any, value any) {
		props, isObject := schema["properties"].(map[string]any)
		if !isObject {
			want := fmtJSON(value)
			desc, _ := schema["description"].(string)
			if m := defaultRE.FindStringSubmatch(desc); m != nil && m[1] != want {
				t.Errorf("%s: description says default %s, Default() has %s", where, m[1], want)
			}
			return
		}
		if schema["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties is not false", where)
		}
		obj, _ := value.(map[string]any)
		var inSchema, inType []string
		for k := range props {
			if k != "$schema" {
				inSchema = append(inSchema, k)
			}
		}
		for k := range obj {
			inType = append(inType, k)
		}
		sort.Strings(inSchema)
		sort.Strings(inType)
		if !reflect.DeepEqual(inSchema, inType) {
			t.Errorf("%s: schema properties %v, Policy JSON keys %v", where, inSchema, inType)
		}
		for k, sub := range props {
			sub := sub.(map[string]any)
			if d, _ := sub["description"].(string); strings.TrimSpace(d) == "" {
				t.Errorf("%s/%s: no description", where, k)
			}
			if k != "$schema" {
				walk(where+"/"+k, sub, obj[k])
			}
		}
	}
	walk("", doc, defaults)
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
