package tools

import (
	"encoding/json"
	"fmt"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// Embedded schema files of execute_python.
const (
	executePythonInputFile  = "execute_python.input.schema.json"
	executePythonOutputFile = "execute_python.output.schema.json"
)

// deriveExecutePythonInput fills the policy's limits into the embedded input
// schema doc, so that the model sees them in inputSchema: code.maxLength,
// timeout_s.maximum and timeout_s.default, and the files bounds in the
// description of files (the handler checks them, naming the entry over
// them, rather than the schema).
//
// JSON Schema's maxLength counts characters, while the policy counts UTF-8
// bytes; the schema bound is therefore looser for non-ASCII code, and the
// policy's byte check stays authoritative.
//
// When ss offers no sessions, the session property stays (a call naming one
// is refused with a sentence saying why, not a schema error) but its
// description says so instead of offering them.
func deriveExecutePythonInput(doc []byte, p *policy.Policy, ss Sessions) ([]byte, error) {
	l := p.Limits
	var s map[string]any
	if err := json.Unmarshal(doc, &s); err != nil {
		return nil, fmt.Errorf("tools: parse %s: %w", executePythonInputFile, err)
	}
	props, ok := s["properties"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("tools: %s has no properties object", executePythonInputFile)
	}
	code, ok := props["code"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("tools: %s has no properties.code object", executePythonInputFile)
	}
	timeout, ok := props["timeout_s"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("tools: %s has no properties.timeout_s object", executePythonInputFile)
	}
	code["maxLength"] = l.MaxCodeBytes
	if d, ok := code["description"].(string); ok {
		code["description"] = fmt.Sprintf("%s At most %d bytes (UTF-8).", d, l.MaxCodeBytes)
	}
	session, ok := props["session"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("tools: %s has no properties.session object", executePythonInputFile)
	}
	if ss.Registry == nil {
		session["description"] = "Not available on this server (" + ss.offReason() + "): leave it out."
	}
	files, ok := props["files"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("tools: %s has no properties.files object", executePythonInputFile)
	}
	if d, ok := files["description"].(string); ok {
		files["description"] = fmt.Sprintf("%s At most %d files, %s in all (decoded).", d, p.Files.MaxInCount, byteSize64(p.MaxInBytes()))
	}
	timeout["maximum"] = l.MaxTimeoutS
	timeout["default"] = l.DefaultTimeoutS
	out, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("tools: marshal derived %s: %w", executePythonInputFile, err)
	}
	return out, nil
}
