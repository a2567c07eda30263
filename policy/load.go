package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Load reads and parses the policy file at path; see Parse. An unreadable
// file is an error naming the path.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(data, path)
}

// Parse parses a policy document, YAML or JSON, read from filename (used
// in messages, "" reads as "policy"; a name ending in .json makes the
// document strict JSON, which must parse as JSON before anything else).
//
// The document is validated against the embedded policy.schema.json, then
// every absent key takes its value from Default, then the checks the schema
// cannot express run (default_timeout_s <= max_timeout_s; every network
// rule well formed; no allow rules while allow_egress is false). An empty
// document yields the defaults. Duplicate keys and YAML
// aliases are refused; anchors alone are harmless and ignored.
//
// A document that is not acceptable yields a *LoadError listing every
// problem found at that stage, each as "file:line: /pointer: what is wrong".
func Parse(data []byte, filename string) (*Policy, error) {
	if filename == "" {
		filename = "policy"
	}
	if isJSONFile(filename) {
		if pr := strictJSONProblem(data, filename); pr != nil {
			return nil, &LoadError{Problems: []Problem{*pr}}
		}
	}
	root, err := parseYAML(data, filename)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return Default(), nil
	}
	c := converter{file: filename}
	v := c.value(root, nil)
	if len(c.problems) > 0 {
		return nil, &LoadError{Problems: c.problems}
	}
	pl := &place{file: filename, root: root}
	probs, err := schemaProblems(v, pl)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		return nil, &LoadError{Problems: probs}
	}
	// The schema has vouched for every key and type, so decoding the
	// document over the defaults only fills in what it sets.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("policy: %s: encode: %w", filename, err)
	}
	p := Default()
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("policy: %s: decode: %w", filename, err)
	}
	if probs := p.semanticProblems(pl); len(probs) > 0 {
		return nil, &LoadError{Problems: probs}
	}
	return p, nil
}
