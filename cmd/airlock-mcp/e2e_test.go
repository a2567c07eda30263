package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// airlockBinary returns the built airlock-mcp binary: $AIRLOCK_BIN when the
// test script built it already, else a fresh `go build` into a temp dir.
func airlockBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AIRLOCK_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "airlock-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "airlock-mcp")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = &buildFailure{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("build airlock-mcp: %v", buildErr)
	}
	return binPath
}

type buildFailure struct {
	err error
	out string
}

func (b *buildFailure) Error() string { return b.err.Error() + "\n" + b.out }

// connect starts the binary over stdio and connects the official MCP Go SDK
// client to it.
func connect(t *testing.T, args ...string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.Command(airlockBinary(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "airlock-e2e", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nserver stderr:\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		session.Close()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	})
	return session
}

func TestBinaryOverStdioWithOfficialSDK(t *testing.T) {
	session := connect(t)
	ctx := context.Background()

	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		if tool.Name == "execute_python" && tool.OutputSchema == nil {
			t.Errorf("execute_python declares no output schema")
		}
	}
	if strings.Join(names, ",") != "end_session,execute_python,list_sessions" {
		t.Fatalf("tools = %v, want [end_session execute_python list_sessions] (sessions are offered on the local backend)", names)
	}

	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "print('hi')\n6*7"}})
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	if res.IsError {
		t.Fatalf("successful call returned isError: %+v", res.Content)
	}
	var out struct {
		Status  string  `json:"status"`
		Stdout  string  `json:"stdout"`
		Result  *string `json:"result"`
		Backend string  `json:"backend"`
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("structured content: %v", err)
	}
	if out.Status != "ok" || out.Stdout != "hi\n" || out.Result == nil || *out.Result != "42" || out.Backend != "local" {
		t.Errorf("structured content = %s", raw)
	}
	if text := contentText(res); !strings.Contains(text, "hi") || !strings.Contains(text, "42") {
		t.Errorf("text content does not show stdout and result: %q", text)
	}

	bad, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "1", "timeout_s": 900}})
	if err != nil {
		t.Fatalf("tools/call (invalid): %v", err)
	}
	if !bad.IsError || !strings.Contains(contentText(bad), "/timeout_s: maximum: got 900, want 300") {
		t.Errorf("invalid call: isError=%v text=%q", bad.IsError, contentText(bad))
	}
}

func contentText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestVersionAndUsage(t *testing.T) {
	bin := airlockBinary(t)
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "airlock-mcp ") {
		t.Errorf("version: %q, %v", out, err)
	}
	cmd := exec.Command(bin, "frobnicate")
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("unknown command: exit %d, want 2", cmd.ProcessState.ExitCode())
	}
}

func TestRunCommand(t *testing.T) {
	bin := airlockBinary(t)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantExit int
		wantOut  string
	}{
		{"ok from stdin", []string{"run", "-"}, "print('from stdin')", 0, "from stdin"},
		{"json", []string{"run", "--json", "-"}, "1+1", 0, `"result": "2"`},
		{"flags after the file", []string{"run", "-", "--json", "--timeout", "5"}, "1+1", 0, `"result": "2"`},
		{"error exits 1", []string{"run", "-"}, "raise ValueError('boom')", 1, "ValueError: boom"},
		{"timeout flag", []string{"run", "--timeout", "1", "-"}, "while True: pass", 1, "timeout"},
		{"over the policy's maximum", []string{"run", "--timeout", "900", "-"}, "1", 2, ""},
		{"a URL in code that uses no network runs", []string{"run", "-"}, "import socket\nprint('see https://example.com/docs')", 0, "see https://example.com/docs"},
		{"a denied destination fails to connect and the pre-check says why", []string{"run", "-"}, "import socket\nsocket.create_connection(('203.0.113.9', 22))", 1,
			`[network] The Airlock pre-check found 203.0.113.9 ("203.0.113.9", line 2) in the code, which the operator's network policy denies`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Stdin = strings.NewReader(tc.stdin)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			_ = cmd.Run()
			if got := cmd.ProcessState.ExitCode(); got != tc.wantExit {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", got, tc.wantExit, stdout.String(), stderr.String())
			}
			if !strings.Contains(strings.ToLower(stdout.String()), strings.ToLower(tc.wantOut)) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.wantOut)
			}
		})
	}
}

func TestDoctor(t *testing.T) {
	out, err := exec.Command(airlockBinary(t), "doctor").CombinedOutput()
	if err != nil {
		t.Fatalf("doctor failed on a host that runs sandboxes: %v\n%s", err, out)
	}
	for _, want := range []string{"[ok]", "interpreter", "network", "The local backend is ready", "[ok]  seccomp", "[ok]  landlock"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	// An interpreter that does not exist makes the backend unusable.
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.yaml")
	os.WriteFile(pol, []byte("backend:\n  local:\n    python: /nonexistent/python3\n"), 0o644)
	cmd := exec.Command(airlockBinary(t), "doctor", "--policy", pol)
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), "[FAILED]") {
		t.Errorf("doctor with a missing interpreter: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

func TestBadPolicyFailsStartup(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte("limits:\n  memory_mbb: 10\n"), 0o644)
	cmd := exec.Command(airlockBinary(t), "--policy", pol)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "policy.yaml:2") || !strings.Contains(string(out), "memory_mbb") {
		t.Errorf("bad policy: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

// TestSandboxesDieWithTheServer: killing the server outright (SIGKILL, no
// chance to clean up) takes its sandboxes, and everything they started,
// with it.
func TestSandboxesDieWithTheServer(t *testing.T) {
	marker := fmt.Sprintf("airlock-orphan-%d", time.Now().UnixNano())
	cmd := exec.Command(airlockBinary(t), "run", "-")
	cmd.Stdin = strings.NewReader(fmt.Sprintf(`import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", %q], start_new_session=True)
time.sleep(600)`, marker))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Nothing announces a process's start: /proc is polled, with a deadline
	// that is only a safety net.
	if !waitFor(time.Minute, func() bool { return len(processesWith(marker)) > 0 }) {
		t.Fatal("the sandboxed process never started")
	}
	orphans := processesWith(marker)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if err := waitExited(orphans, time.Minute); err != nil {
		t.Errorf("sandbox processes outlived the killed server: %v", err)
	}
	if left := processesWith(marker); len(left) > 0 {
		t.Errorf("sandbox processes outlived the killed server: %v", left)
	}
}

// waitFor polls cond until it holds or limit passes: for conditions on
// /proc, which no event announces.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// processesWith lists host processes whose command line contains marker.
func processesWith(marker string) []string { return processesWhose("cmdline", marker) }

// processesWhose lists host processes whose /proc/PID/file contains part.
func processesWhose(file, part string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), file))
		if err == nil && strings.Contains(string(b), part) {
			found = append(found, e.Name())
		}
	}
	return found
}

// descendantsWith lists the processes below pid whose command line contains
// marker: other test binaries running sandboxes at the same time are not
// counted.
func descendantsWith(pid int, marker string) []string {
	parent := map[string]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 1 {
				parent[e.Name()] = f[1]
			}
		}
	}
	root := strconv.Itoa(pid)
	var found []string
	for _, p := range processesWith(marker) {
		for q, hops := parent[p], 0; q != "" && hops < 64; q, hops = parent[q], hops+1 {
			if q == root {
				found = append(found, p)
				break
			}
		}
	}
	return found
}
