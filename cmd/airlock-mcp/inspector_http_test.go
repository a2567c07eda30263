package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestInspectorCLIOverHTTP runs the README's Inspector commands against
// `airlock-mcp http` with a bearer token, over streamable HTTP and
// HTTP+SSE: the token goes in --header, the server advertises exactly what
// it serves (tools and resources), and a call runs.
func TestInspectorCLIOverHTTP(t *testing.T) {
	insp := inspector(t)
	r := startRemote(t, "", "alice")
	catalog := filepath.Join(t.TempDir(), "mcp.json")
	inspect := func(url string, args ...string) string {
		t.Helper()
		full := append([]string{"--cli", url, "--header", "Authorization: Bearer " + r.tokens["alice"], "--method"}, args...)
		cmd := exec.Command(insp, full...)
		cmd.Env = append(os.Environ(), "MCP_CATALOG_PATH="+catalog)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("inspector %q: %v\nstdout %s\nstderr %s", args, err, &stdout, &stderr)
		}
		return stdout.String()
	}
	mcpURL, sseURL := "http://"+r.addr+"/mcp", "http://"+r.addr+"/sse"

	var init struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	}
	out := inspect(mcpURL, "initialize")
	if err := json.Unmarshal([]byte(out), &init); err != nil {
		t.Fatalf("initialize: %v\n%s", err, out)
	}
	var advertised []string
	for k := range init.Capabilities {
		advertised = append(advertised, k)
	}
	slices.Sort(advertised)
	if strings.Join(advertised, ",") != "resources,tools" {
		t.Errorf("capabilities %v, want exactly resources and tools", advertised)
	}
	if out := inspect(mcpURL, "resources/list"); !strings.Contains(out, "airlock://policy") {
		t.Errorf("resources/list does not list airlock://policy:\n%s", out)
	}
	out = inspect(mcpURL, "tools/call", "--tool-name", "execute_python", "--tool-args-json", `{"code":"print(6*7)"}`)
	if !strings.Contains(out, `"stdout": "42\n"`) {
		t.Errorf("tools/call over streamable HTTP:\n%s", out)
	}
	if out := inspect(sseURL, "tools/list"); !strings.Contains(out, `"execute_python"`) {
		t.Errorf("tools/list over HTTP+SSE:\n%s", out)
	}
}
