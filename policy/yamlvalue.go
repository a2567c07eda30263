package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/airlock-mcp/airlock-mcp/schemas"
)

// This file turns policy text into a YAML node tree (kept for its line
// numbers) and the tree into plain JSON values for schema validation.

// parseYAML parses data, YAML or JSON, into the root node of its single
// document. It returns nil for an empty document (no content, only
// comments, or an explicit null), and a *LoadError for a syntax error or
// a second document.
func parseYAML(data []byte, file string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, &LoadError{Problems: []Problem{syntaxProblem(file, err)}}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &LoadError{Problems: []Problem{syntaxProblem(file, err)}}
	default:
		return nil, &LoadError{Problems: []Problem{{
			File: file, Line: extra.Line,
			Message: "a policy file holds one YAML document; remove the second one (from its '---' on)",
		}}}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	return root, nil
}

// syntaxProblem turns a yaml.v3 error ("yaml: line 3: mapping values are
// not allowed in this context") into a Problem naming file and line.
func syntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line, msg = n, rest[i+2:]
			}
		}
	}
	return Problem{File: file, Line: line, Message: "YAML syntax error: " + msg}
}

// converter turns a node tree into JSON values, collecting what JSON
// cannot represent or a policy must not contain.
type converter struct {
	file     string
	problems []Problem
}

func (c *converter) fail(n *yaml.Node, path []string, msg string) {
	c.problems = append(c.problems, Problem{File: c.file, Line: n.Line, Pointer: schemas.Pointer(path), Message: msg})
}

// value returns n as map[string]any, []any, string, json.Number (integers),
// float64, bool or nil. Duplicate keys, aliases, non-scalar keys and
// non-finite numbers are recorded as problems.
func (c *converter) value(n *yaml.Node, path []string) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.fail(k, path, "keys must be plain strings")
				continue
			}
			sub := append(path[:len(path):len(path)], k.Value)
			if first, dup := seen[k.Value]; dup {
				c.fail(k, sub, "duplicate key; first set on line "+strconv.Itoa(first))
				continue
			}
			seen[k.Value] = k.Line
			m[k.Value] = c.value(v, sub)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, v := range n.Content {
			s[i] = c.value(v, append(path[:len(path):len(path)], strconv.Itoa(i)))
		}
		return s
	case yaml.AliasNode:
		c.fail(n, path, "YAML aliases (*"+n.Value+") are not supported in a policy file; write the value out in full")
		return nil
	case yaml.ScalarNode:
		return c.scalar(n, path)
	}
	c.fail(n, path, "unexpected YAML node")
	return nil
}

func (c *converter) scalar(n *yaml.Node, path []string) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			c.fail(n, path, "invalid boolean "+strconv.Quote(n.Value))
		}
		return b
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return json.Number(strconv.FormatUint(u, 10))
		}
		c.fail(n, path, "invalid integer "+strconv.Quote(n.Value))
		return nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			c.fail(n, path, "got "+strconv.Quote(n.Value)+", want a finite number")
			return nil
		}
		return f
	}
	// !!str, !!timestamp, !!binary and custom tags: the text as written.
	return n.Value
}

// lineOf returns the line of the node at path below root: the value's line
// for a scalar, the key's line for an object or array (where "limits:" is
// written), and the root's line (or 1) for the root. When path leads
// nowhere it returns the line of the deepest node found.
func lineOf(root *yaml.Node, path []string) int {
	if root == nil {
		return 1
	}
	line := max(root.Line, 1)
	n := root
	for _, seg := range path {
		key, val := child(n, seg)
		if val == nil {
			return line
		}
		line = key.Line
		if val.Kind == yaml.ScalarNode || val.Kind == yaml.AliasNode {
			line = val.Line
		}
		n = val
	}
	return line
}

// child returns the key (or element) and value named seg in n, or nils.
func child(n *yaml.Node, seg string) (key, val *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == seg {
				key, val = k, n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i]
		}
	}
	return key, val
}

// firstAdditionalKeyLine returns the line of the first key of the mapping
// at path that rule (an "additional properties 'a', 'b' not allowed"
// message) names, so an unknown key is reported where it is written rather
// than where its parent starts; 0 when none is found.
func firstAdditionalKeyLine(root *yaml.Node, path []string, rule string) int {
	if root == nil || !strings.HasPrefix(rule, "additional properties ") {
		return 0
	}
	n := root
	for _, seg := range path {
		if _, n = child(n, seg); n == nil {
			return 0
		}
	}
	if n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; strings.Contains(rule, "'"+k.Value+"'") {
			return k.Line
		}
	}
	return 0
}
