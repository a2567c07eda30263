package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// examplesDir holds the Claude Desktop configs the README points people to.
const examplesDir = "../../examples/claude-desktop"

// installedPath is where the examples expect the binary.
const installedPath = "/usr/local/bin/airlock-mcp"

// wslStandIn stands in for wsl.exe on Linux: --exec runs the command as
// given, without a shell, as wsl.exe does inside the distribution.
const wslStandIn = `#!/bin/sh
[ "$1" = "--exec" ] || { echo "wsl.exe stand-in: want --exec first, got: $*" >&2; exit 64; }
shift
exec "$@"
`

// TestClaudeDesktopExamples starts every server of every example config
// exactly as Claude Desktop would, with only the paths substituted (the
// installed binary by the one under test, wsl.exe by a stand-in) and, for
// Modal, the placeholder token by the test control plane's; then the
// official MCP Go SDK lists the tool and runs code through it.
func TestClaudeDesktopExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	if err != nil || len(files) != 3 {
		t.Fatalf("example configs: %v %v, want 3", files, err)
	}
	bin := airlockBinary(t)
	wsl := filepath.Join(t.TempDir(), "wsl.exe")
	if err := os.WriteFile(wsl, []byte(wslStandIn), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var config struct {
				MCPServers map[string]mcpConfig `json:"mcpServers"`
			}
			if err := json.Unmarshal(raw, &config); err != nil || len(config.MCPServers) != 1 {
				t.Fatalf("%s: %v, %d servers; want one", file, err, len(config.MCPServers))
			}
			for name, cfg := range config.MCPServers {
				if name != "airlock" {
					t.Errorf("server named %q, want airlock (the README's log file name follows it)", name)
				}
				var env []string
				switch cfg.Command {
				case installedPath:
					cfg.Command = bin
				case "wsl.exe":
					cfg.Command = wsl
				default:
					t.Fatalf("command %q is neither %s nor wsl.exe", cfg.Command, installedPath)
				}
				for i, a := range cfg.Args {
					if a == installedPath {
						cfg.Args[i] = bin
					} else if strings.HasPrefix(a, "/") {
						t.Errorf("argument %q names a file the config does not ship with", a)
					}
				}
				modal := strings.Contains(strings.Join(cfg.Args, " "), "--backend modal")
				if modal {
					env = modalEnv(t, cfg)
				} else if len(cfg.Env) > 0 {
					t.Errorf("env %v in a config for the local backend", cfg.Env)
				}
				s := startConfig(t, cfg, env...)
				status, stdout, text := callPython(t, s, map[string]any{"code": "import sys\nprint(sys.version_info[0])"})
				if status != "ok" || stdout != "3\n" {
					t.Errorf("execute_python: status %q stdout %q\n%s", status, stdout, text)
				}
				if res, err := s.ListTools(t.Context(), nil); err != nil || len(res.Tools) != 3 || !slices.ContainsFunc(res.Tools, func(tool *mcp.Tool) bool { return tool.Name == "execute_python" }) {
					t.Errorf("tools/list: %+v %v", res, err)
				}
			}
		})
	}
}

// modalEnv points a Modal config at the test control plane: its token
// replaces the config's placeholders, which must be the two variables the
// README tells people to fill in; the rest of the plane's environment is
// returned to add.
func modalEnv(t *testing.T, cfg mcpConfig) []string {
	t.Helper()
	if len(cfg.Env) != 2 || cfg.Env["MODAL_TOKEN_ID"] == "" || cfg.Env["MODAL_TOKEN_SECRET"] == "" {
		t.Fatalf("Modal config env %v, want MODAL_TOKEN_ID and MODAL_TOKEN_SECRET", cfg.Env)
	}
	var extra []string
	for _, kv := range startModalCP(t).ClientEnv() {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := cfg.Env[k]; ok {
			cfg.Env[k] = v
			continue
		}
		extra = append(extra, kv)
	}
	return extra
}
