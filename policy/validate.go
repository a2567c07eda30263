package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/airlock-mcp/airlock-mcp/schemas"
)

// schemaFile is the embedded schema every policy is validated against.
const schemaFile = "policy.schema.json"

// compiledSchema compiles the embedded policy schema once, on first use.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	b, err := schemas.Read(schemaFile)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	s, err := schemas.Compile(schemaFile, b)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return s, nil
})

// place says where a path of the policy is written, for problems found in
// a file. The nil *place stands for a policy built in Go: no file, no
// lines, every key explicit.
type place struct {
	file string
	root *yaml.Node
}

// problem builds a Problem at path with msg.
func (pl *place) problem(path []string, msg string) Problem {
	if pl == nil {
		return Problem{Pointer: schemas.Pointer(path), Message: msg}
	}
	line := firstAdditionalKeyLine(pl.root, path, msg)
	if line == 0 {
		line = lineOf(pl.root, path)
	}
	return Problem{File: pl.file, Line: line, Pointer: schemas.Pointer(path), Message: msg}
}

// written reports whether path is set in the file.
func (pl *place) written(path ...string) bool {
	if pl == nil {
		return true
	}
	n := pl.root
	for _, seg := range path {
		if n == nil {
			return false
		}
		_, n = child(n, seg)
	}
	return n != nil
}

// schemaProblems validates v, a JSON value, against the policy schema.
func schemaProblems(v any, pl *place) ([]Problem, error) {
	s, err := compiledSchema()
	if err != nil {
		return nil, err
	}
	var out []Problem
	for _, viol := range schemas.Violations(s.Validate(v)) {
		out = append(out, pl.problem(viol.Path, viol.Rule))
	}
	return out, nil
}

// semanticProblems are the checks the schema cannot express, run on the
// effective policy (defaults filled in).
func (p *Policy) semanticProblems(pl *place) []Problem {
	var out []Problem
	if l := p.Limits; l.DefaultTimeoutS > l.MaxTimeoutS {
		defPath := []string{"limits", "default_timeout_s"}
		maxPath := []string{"limits", "max_timeout_s"}
		defNote, maxNote, at := "", "", defPath
		if !pl.written(defPath...) {
			defNote, at = " (the default)", maxPath
		}
		if !pl.written(maxPath...) {
			maxNote = " (the default)"
		}
		out = append(out, pl.problem(at, fmt.Sprintf(
			"default_timeout_s %s%s is greater than max_timeout_s %s%s; lower default_timeout_s or raise max_timeout_s",
			formatSeconds(l.DefaultTimeoutS), defNote, formatSeconds(l.MaxTimeoutS), maxNote)))
	}
	out = append(out, p.Network.problems(pl)...)
	out = append(out, p.Sessions.problems(pl)...)
	out = append(out, p.Files.problems(p.Limits, pl)...)
	return append(out, mountProblems(p.Backend.Local.Mounts, pl)...)
}

// problems are the network section's semantic problems: malformed rules,
// and rules that egress being off would silently ignore.
func (n Network) problems(pl *place) []Problem {
	var out []Problem
	for _, list := range []struct {
		key   string
		rules []NetworkRule
	}{{"allow", n.Allow}, {"deny", n.Deny}} {
		for i, r := range list.rules {
			if msg := r.Problem(); msg != "" {
				out = append(out, pl.problem([]string{"network", list.key, strconv.Itoa(i)}, msg))
			}
		}
	}
	if len(n.Allow) > 0 && !n.AllowEgress {
		out = append(out, pl.problem([]string{"network", "allow"},
			"network.allow lists destinations but network.allow_egress is false; set allow_egress: true to let sandboxed code reach them, or remove the rules"))
	}
	return out
}

// Validate checks a policy built or changed in Go against the policy
// schema and the semantic rules Load applies, so a hand-made policy meets
// the same bar as a file. It returns nil or a *LoadError whose problems
// have no file or line.
func (p *Policy) Validate() error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("policy: encode: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("policy: decode: %w", err)
	}
	probs, err := schemaProblems(v, nil)
	if err != nil {
		return err
	}
	if len(probs) == 0 {
		probs = p.semanticProblems(nil)
	}
	if len(probs) > 0 {
		return &LoadError{Problems: probs}
	}
	return nil
}

// formatSeconds formats s without trailing zeros ("30", "0.5").
func formatSeconds(s float64) string {
	return strconv.FormatFloat(s, 'g', -1, 64)
}
