// Package schemas embeds the project's JSON Schemas: the input and output
// schemas of each tool and the schema of the policy file. Every schema is
// compiled when the server starts, so a broken schema fails startup.
package schemas

import (
	"bytes"
	"embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.json
var files embed.FS

// Read returns the raw bytes of the embedded schema file name
// (e.g. "policy.schema.json").
func Read(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("schemas: read %s: %w", name, err)
	}
	return b, nil
}

// Compile compiles doc, a JSON Schema document, under the resource name
// name. Callers that derive a schema at startup (filling in limits from the
// policy) compile the derived bytes with it.
func Compile(name string, doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("schemas: parse %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(name, v); err != nil {
		return nil, fmt.Errorf("schemas: add %s: %w", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("schemas: compile %s: %w", name, err)
	}
	return s, nil
}

// MustCompileEmbedded compiles the embedded schema file name and panics if
// it is missing or invalid: embedded schemas are part of the binary, so a
// failure is a build defect caught by the first test that runs.
func MustCompileEmbedded(name string) *jsonschema.Schema {
	b, err := Read(name)
	if err != nil {
		panic(err)
	}
	s, err := Compile(name, b)
	if err != nil {
		panic(err)
	}
	return s
}
