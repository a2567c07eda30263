package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// inspector returns the MCP Inspector CLI (npm @modelcontextprotocol/
// inspector), which scripts/test.sh installs and names in AIRLOCK_INSPECTOR.
func inspector(t *testing.T) string {
	t.Helper()
	p := os.Getenv("AIRLOCK_INSPECTOR")
	if p == "" {
		t.Skip("AIRLOCK_INSPECTOR is not set; scripts/test.sh installs the MCP Inspector CLI and sets it")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("AIRLOCK_INSPECTOR: %v", err)
	}
	return p
}

// runInspector runs the Inspector CLI against the built binary over stdio
// and returns its stdout, stderr and exit code (0 ok, 5 isError, 1 protocol
// error).
func runInspector(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runInspectorOn(t, nil, args...)
}

// runInspectorOn is runInspector with serverArgs passed to the binary.
func runInspectorOn(t *testing.T, serverArgs []string, args ...string) (string, string, int) {
	t.Helper()
	full := append(append([]string{"--cli", airlockBinary(t)}, serverArgs...), "--method")
	full = append(full, args...)
	cmd := exec.Command(inspector(t), full...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("inspector did not run: %v", err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

func TestInspectorCLI(t *testing.T) {
	t.Run("tools/list, strict schema portability", func(t *testing.T) {
		out, errOut, code := runInspector(t, "tools/list", "--strict")
		if code != 0 {
			t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
		}
		var list struct {
			Tools []struct {
				Name         string          `json:"name"`
				OutputSchema json.RawMessage `json:"outputSchema"`
			} `json:"tools"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("tools/list = %s (%v)", out, err)
		}
		var names []string
		for _, tool := range list.Tools {
			names = append(names, tool.Name)
			if len(tool.OutputSchema) == 0 {
				t.Errorf("%s declares no output schema", tool.Name)
			}
		}
		if strings.Join(names, ",") != "end_session,execute_python,list_sessions" {
			t.Errorf("tools/list names %v, want execute_python and the session tools", names)
		}
		if strings.Contains(errOut, "Warning") {
			t.Errorf("the Inspector finds the tool's schemas unportable:\n%s", errOut)
		}
	})
	t.Run("tools/call ok", func(t *testing.T) {
		out, errOut, code := runInspector(t, "tools/call", "--tool-name", "execute_python", "--tool-args-json", `{"code":"print(6*7)\n'done'"}`)
		if code != 0 {
			t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
		}
		var res struct {
			StructuredContent struct {
				Status string  `json:"status"`
				Stdout string  `json:"stdout"`
				Result *string `json:"result"`
			} `json:"structuredContent"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.StructuredContent.Status != "ok" ||
			res.StructuredContent.Stdout != "42\n" || res.StructuredContent.Result == nil || *res.StructuredContent.Result != "'done'" {
			t.Errorf("tools/call = %s (%v)", out, err)
		}
	})
	t.Run("tools/call rejected", func(t *testing.T) {
		out, errOut, code := runInspector(t, "tools/call", "--tool-name", "execute_python", "--tool-args-json", `{"code":"1","timeout_s":900}`)
		if code != 5 || !strings.Contains(out, "/timeout_s: maximum: got 900, want 300") {
			t.Errorf("exit %d (want 5, isError)\nstdout %s\nstderr %s", code, out, errOut)
		}
	})
}

// TestInspectorShowsAPlot: the Inspector CLI gets a matplotlib plot as an
// image content block (a PNG), and the text names it.
func TestInspectorShowsAPlot(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("backend:\n  local:\n    python: "+testPython+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runInspectorOn(t, []string{"--policy", policy}, "tools/call", "--tool-name", "execute_python",
		"--tool-args-json", `{"code":"import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [3, 5])\nplt.show()"}`)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	var res struct {
		Content []struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			MIMEType string `json:"mimeType"`
			Data     []byte `json:"data"`
		} `json:"content"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("tools/call output %s: %v", out, err)
	}
	var png bool
	for _, c := range res.Content {
		png = png || c.Type == "image" && c.MIMEType == "image/png" && strings.HasPrefix(string(c.Data), "\x89PNG\r\n\x1a\n")
	}
	if !png || len(res.Content) == 0 || !strings.Contains(res.Content[0].Text, "figure-1.png") {
		t.Errorf("the Inspector shows no PNG image, or the text does not name it:\n%s", out)
	}
}
