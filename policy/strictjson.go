package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
)

// isJSONFile reports whether filename names a JSON policy, which is parsed
// as strict JSON rather than as YAML (of which JSON is a subset, so YAML
// would accept trailing commas, comments and unquoted keys).
func isJSONFile(filename string) bool {
	return strings.EqualFold(filepath.Ext(filename), ".json")
}

// strictJSONProblem is nil when data is one JSON value and nothing else,
// or else the problem naming the file and the line of the first error.
func strictJSONProblem(data []byte, file string) *Problem {
	var v any
	err := json.Unmarshal(data, &v)
	if err == nil {
		return nil
	}
	line := 0
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line = 1 + bytes.Count(data[:min(se.Offset, int64(len(data)))], []byte("\n"))
		if len(bytes.TrimSpace(data)) == 0 {
			line = 0
		}
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return &Problem{File: file, Line: line, Message: "JSON syntax error: " + msg + " (a .json policy is strict JSON; write YAML in a .yaml file for comments or trailing commas)"}
}
