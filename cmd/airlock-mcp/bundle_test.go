package main_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// manifest is the part of an MCP Bundle's manifest.json a client reads to
// start the server and show its settings.
type manifest struct {
	Version string `json:"version"`
	Server  struct {
		Type       string    `json:"type"`
		EntryPoint string    `json:"entry_point"`
		MCPConfig  mcpConfig `json:"mcp_config"`
	} `json:"server"`
	Tools []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tools"`
	Compatibility struct {
		Platforms []string `json:"platforms"`
	} `json:"compatibility"`
	UserConfig map[string]struct {
		Type      string `json:"type"`
		Default   any    `json:"default"`
		Sensitive bool   `json:"sensitive"`
		Required  bool   `json:"required"`
	} `json:"user_config"`
}

// mcpConfig is how a client starts a stdio server: Claude Desktop's config
// entries and a bundle's mcp_config alike.
type mcpConfig struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
}

// unpackBundle extracts the .mcpb (a zip) into a new directory, keeping
// the files' modes as mcpb pack recorded them, and returns the directory.
func unpackBundle(t *testing.T, path string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open bundle: %v", err)
	}
	defer zr.Close()
	dir := t.TempDir()
	for _, f := range zr.File {
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(dst, dir+string(filepath.Separator)) {
			t.Fatalf("bundle entry %q leaves the bundle", f.Name)
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		src, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.Mode().Perm())
		if err == nil {
			_, err = io.Copy(w, src)
			err = errors.Join(err, w.Close())
		}
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// placeholder is a ${...} variable of a bundle's mcp_config.
var placeholder = regexp.MustCompile(`\$\{([^}]+)\}`)

// resolve substitutes the manifest's variables as Claude Desktop does
// (@anthropic-ai/mcpb's getMcpConfigForManifest): ${__dirname} is the
// unpacked bundle, ${user_config.KEY} the user's setting, else the
// manifest's default. A variable it does not know fails the test.
func (m *manifest) resolve(t *testing.T, dir string, settings map[string]string) mcpConfig {
	t.Helper()
	vars := map[string]string{"__dirname": dir}
	for k, uc := range m.UserConfig {
		if uc.Default != nil {
			vars["user_config."+k] = fmt.Sprint(uc.Default)
		}
	}
	for k, v := range settings {
		vars["user_config."+k] = v
	}
	sub := func(s string) string {
		return placeholder.ReplaceAllStringFunc(s, func(p string) string {
			v, ok := vars[p[2:len(p)-1]]
			if !ok {
				t.Fatalf("the manifest uses %s, which has no value", p)
			}
			return v
		})
	}
	c := m.Server.MCPConfig
	out := mcpConfig{Command: sub(c.Command), Env: map[string]string{}}
	for _, a := range c.Args {
		out.Args = append(out.Args, sub(a))
	}
	for k, v := range c.Env {
		out.Env[k] = sub(v)
	}
	return out
}

// startConfig starts the server as cfg says, with env added to this
// process's environment, and connects the official MCP Go SDK client.
func startConfig(t *testing.T, cfg mcpConfig, env ...string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command(cfg.Command, cfg.Args...)
	cmd.Env = os.Environ()
	for k, v := range cfg.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "airlock-config-e2e", Version: "1"}, nil)
	s, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("start %s %q: %v\nserver stderr:\n%s", cfg.Command, cfg.Args, err, stderr.String())
	}
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	})
	return s
}

// callPython calls execute_python with args and returns the structured
// result's status and stdout, and the text.
func callPython(t *testing.T, s *mcp.ClientSession, args map[string]any) (status, stdout, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: args})
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	var out struct{ Status, Stdout string }
	raw, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(raw, &out)
	return out.Status, out.Stdout, contentText(res)
}

// TestLinuxBundle unpacks the linux MCP Bundle that scripts/dist.sh built
// for this machine ($AIRLOCK_BUNDLE) and starts the server exactly as its
// manifest says, with the settings' defaults and then with a policy file
// chosen: the official MCP Go SDK lists the tool and calls it.
func TestLinuxBundle(t *testing.T) {
	path := os.Getenv("AIRLOCK_BUNDLE")
	if path == "" {
		t.Skip("AIRLOCK_BUNDLE is not set; scripts/test.sh builds the bundles with scripts/dist.sh and sets it")
	}
	dir := unpackBundle(t, path)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if m.Server.Type != "binary" || strings.Join(m.Compatibility.Platforms, ",") != "linux" || len(m.Tools) != 3 || m.Tools[0].Name != "execute_python" {
		t.Errorf("manifest: server type %q, platforms %q, tools %+v", m.Server.Type, m.Compatibility.Platforms, m.Tools)
	}
	if st, err := os.Stat(filepath.Join(dir, m.Server.EntryPoint)); err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Errorf("entry point %s: %v, mode %v; want an executable", m.Server.EntryPoint, err, st.Mode())
	}
	for key, sensitive := range map[string]bool{"backend": false, "modal_token_id": true, "modal_token_secret": true, "policy_file": false, "log_level": false} {
		uc, ok := m.UserConfig[key]
		if !ok || uc.Sensitive != sensitive || uc.Required {
			t.Errorf("user_config %s: %+v (present %v), want optional, sensitive %v", key, uc, ok, sensitive)
		}
	}
	if got := m.UserConfig["backend"].Default; got != "local" {
		t.Errorf("linux bundle's default backend %v, want local", got)
	}

	t.Run("defaults", func(t *testing.T) {
		cfg := m.resolve(t, dir, nil)
		s := startConfig(t, cfg)
		if v := s.InitializeResult().ServerInfo.Version; v != m.Version {
			t.Errorf("serverInfo.version %q, want the manifest's %q", v, m.Version)
		}
		out, err := exec.Command(cfg.Command, "version").Output()
		if err != nil || string(out) != "airlock-mcp "+m.Version+"\n" {
			t.Errorf("airlock-mcp version: %q %v, want %q", out, err, m.Version)
		}
		tools, err := s.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		served := map[string]string{}
		for _, tool := range tools.Tools {
			served[tool.Name] = tool.Description
		}
		if len(served) != len(m.Tools) {
			t.Errorf("the server offers %d tools, the manifest lists %d", len(served), len(m.Tools))
		}
		for _, tool := range m.Tools { // the manifest's description opens the server's
			if d, ok := served[tool.Name]; !ok || !strings.HasPrefix(d, tool.Description) {
				t.Errorf("the manifest describes %s as %q, the server as %q", tool.Name, tool.Description, d)
			}
		}
		if status, stdout, text := callPython(t, s, map[string]any{"code": "print(6*7)"}); status != "ok" || stdout != "42\n" {
			t.Errorf("execute_python: status %q stdout %q\n%s", status, stdout, text)
		}
	})
	t.Run("a policy file chosen", func(t *testing.T) {
		pol := filepath.Join(t.TempDir(), "my policy.yaml")
		if err := os.WriteFile(pol, []byte("limits:\n  max_timeout_s: 60\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := startConfig(t, m.resolve(t, dir, map[string]string{"policy_file": pol, "log_level": "debug"}))
		if status, _, text := callPython(t, s, map[string]any{"code": "1", "timeout_s": 90}); status != "" || !strings.Contains(text, "want 60") {
			t.Errorf("timeout_s 90 under a policy of at most 60: status %q\n%s", status, text)
		}
	})
}
