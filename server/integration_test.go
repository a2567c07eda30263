//go:build linux

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	_ "github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit" // the sandboxes start this test binary as their init helper
	"github.com/airlock-mcp/airlock-mcp/schemas"
)

var (
	realOnce    sync.Once
	realBackend sandbox.Backend
	realErr     error
)

// realPolicy is the default policy, with the interpreter CI chooses.
func realPolicy() *policy.Policy {
	p := policy.Default()
	p.Backend.Local.Python = os.Getenv("AIRLOCK_TEST_PYTHON")
	return p
}

// realSandboxBackend is the real local backend as the binary builds it
// (warm sandboxes and the concurrency limit included), shared by the tests.
func realSandboxBackend(t *testing.T) sandbox.Backend {
	t.Helper()
	p := realPolicy()
	realOnce.Do(func() {
		b, err := local.New(context.Background(), local.Options{
			Python:        p.Backend.Local.Python,
			WarmSandboxes: p.Backend.Local.WarmSandboxes,
			WarmLimits:    p.DefaultLimits(),
		})
		if err != nil {
			realErr = err
			return
		}
		realBackend = sandbox.LimitConcurrency(b, p.Limits.MaxConcurrent)
	})
	if realErr != nil {
		t.Fatalf("local backend: %v", realErr)
	}
	return realBackend
}

// structured decodes a result's structured content into a sandbox.Result
// after validating it against the published output schema.
func structured(t *testing.T, res *mcp.CallToolResult) sandbox.Result {
	t.Helper()
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonUnmarshalAny(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.MustCompileEmbedded("execute_python.output.schema.json").Validate(inst); err != nil {
		t.Fatalf("structured content does not match the output schema: %v\n%s", err, raw)
	}
	var r sandbox.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func jsonUnmarshalAny(raw []byte) (any, error) {
	var v any
	err := json.Unmarshal(raw, &v)
	return v, err
}

// TestExecutePythonOnRealSandbox drives execute_python through the in-process
// MCP client, the server's call pipeline and the real local backend.
func TestExecutePythonOnRealSandbox(t *testing.T) {
	c := connect(t, newServer(t, realSandboxBackend(t), nil), protocols[0])

	// Host fixtures the sandboxed code tries to reach.
	secret := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(secret, []byte("host-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AIRLOCK_TEST_API_KEY", "sk-live-must-not-leak")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	connected := make(chan struct{}, 8)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			connected <- struct{}{}
			conn.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	marker := fmt.Sprintf("airlock-mcp-bg-%d", time.Now().UnixNano())
	outside := fmt.Sprintf("/usr/airlock-escape-%d", time.Now().UnixNano())

	tests := []struct {
		name      string
		args      map[string]any
		isError   bool
		status    sandbox.Status
		check     func(t *testing.T, r sandbox.Result, text string)
		validates bool // rejected by the Airlock layer (no structured content)
	}{
		{name: "print", args: map[string]any{"code": "print('hello')"}, status: sandbox.StatusOK,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if r.Stdout != "hello\n" || !strings.Contains(text, "hello") {
					t.Errorf("stdout %q text %q", r.Stdout, text)
				}
			}},
		{name: "last expression", args: map[string]any{"code": "import math\nmath.factorial(5)"}, status: sandbox.StatusOK,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if r.Result == nil || *r.Result != "120" || !strings.Contains(text, "120") {
					t.Errorf("result %v text %q", r.Result, text)
				}
			}},
		{name: "exception with traceback", args: map[string]any{"code": "def f(x):\n    return {}[x]\nf('k')"}, isError: true, status: sandbox.StatusError,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if r.Error == nil || r.Error.Type != "KeyError" || !strings.Contains(r.Error.Traceback, "line 2, in f") ||
					strings.Contains(r.Error.Traceback, "harness") || !strings.Contains(text, "KeyError") {
					t.Errorf("error %+v text %q", r.Error, text)
				}
			}},
		{name: "timeout", args: map[string]any{"code": "while True: pass", "timeout_s": 1.5}, isError: true, status: sandbox.StatusTimeout,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if !r.TimedOut || r.ExitCode != nil || !strings.Contains(text, "1.5 s") {
					t.Errorf("timeout result %+v text %q", r, text)
				}
			}},
		{name: "invalid arguments", args: map[string]any{"code": 42}, isError: true, validates: true,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if !strings.Contains(text, "/code: got number, want string") {
					t.Errorf("text %q", text)
				}
			}},
		{name: "timeout over the operator's limit", args: map[string]any{"code": "1", "timeout_s": 900}, isError: true, validates: true,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if !strings.Contains(text, "/timeout_s: maximum: got 900, want 300") {
					t.Errorf("text %q", text)
				}
			}},
		{name: "background process does not survive", args: map[string]any{"code": fmt.Sprintf(
			"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', %q], start_new_session=True)\nprint('left it running')", marker)},
			status: sandbox.StatusOK,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if procs := processesWith(marker); len(procs) > 0 {
					t.Errorf("background process outlived the call: %v", procs)
				}
			}},
		{name: "root-only host file", args: map[string]any{"code": "print(open('/etc/shadow').read())"}, isError: true, status: sandbox.StatusError},
		{name: "host file outside the sandbox", args: map[string]any{"code": fmt.Sprintf("print(open(%q).read())", secret)}, isError: true, status: sandbox.StatusError},
		{name: "write outside /tmp", args: map[string]any{"code": fmt.Sprintf("open(%q, 'w').write('x')", outside)}, isError: true, status: sandbox.StatusError,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if _, err := os.Stat(outside); err == nil {
					os.Remove(outside)
					t.Errorf("the sandbox wrote %s on the host", outside)
				}
			}},
		// The sandbox enforces the network policy itself, so the static
		// pre-check never refuses here: a denied destination fails to
		// connect, and the pre-check's finding explains why.
		{name: "a denied destination runs, fails to connect, and the pre-check's note says why", args: map[string]any{"code": fmt.Sprintf("import urllib.request\nurllib.request.urlopen('http://169.254.169.254/latest/meta-data/iam/%s')", marker)},
			isError: true, status: sandbox.StatusError,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if r.Error == nil || r.Error.Type != "urllib.error.URLError" ||
					!strings.Contains(text, "[network] The Airlock pre-check found 169.254.169.254") || !strings.Contains(text, "allow_egress") {
					t.Errorf("error %+v text %q", r.Error, text)
				}
			}},
		{name: "code that only parses a URL runs", args: map[string]any{"code": `from urllib.parse import urlparse; print(urlparse("https://example.com/a").netloc)`}, status: sandbox.StatusOK,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if r.Stdout != "example.com\n" || strings.Contains(text, "[network]") {
					t.Errorf("stdout %q text %q", r.Stdout, text)
				}
			}},
		// The address is assembled at run time so the static pre-check
		// cannot see it: the sandbox itself must hold.
		{name: "host loopback service", args: map[string]any{"code": fmt.Sprintf("import socket\nsocket.create_connection(('.'.join(['127', '0', '0', '1']), %d), timeout=3)", port)}, isError: true, status: sandbox.StatusError,
			check: func(t *testing.T, r sandbox.Result, text string) {
				select {
				case <-connected:
					t.Error("sandboxed code reached a host loopback service")
				default:
				}
			}},
		{name: "server environment not visible", args: map[string]any{"code": "import os\nprint(sorted(os.environ))\nprint(open('/proc/1/environ').read())"}, status: sandbox.StatusOK,
			check: func(t *testing.T, r sandbox.Result, text string) {
				if strings.Contains(r.Stdout, "sk-live-must-not-leak") || strings.Contains(r.Stdout, "AIRLOCK_TEST_API_KEY") {
					t.Errorf("the server's environment reached the code: %s", r.Stdout)
				}
			}},
		{name: "huge output is bounded", args: map[string]any{"code": "import sys\nsys.stdout.write('x' * (50 << 20))\nprint('end')"}, status: sandbox.StatusOK,
			check: func(t *testing.T, r sandbox.Result, text string) {
				limit := policy.Default().Limits.MaxOutputBytes
				if !r.Truncated || len(r.Stdout) > limit || !strings.HasSuffix(r.Stdout, "end\n") {
					t.Errorf("truncated=%v len=%d (limit %d) tail=%q", r.Truncated, len(r.Stdout), limit, r.Stdout[max(0, len(r.Stdout)-10):])
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, _ := json.Marshal(tc.args)
			res, err := callTool(context.Background(), c, string(args))
			if err != nil {
				t.Fatalf("tools/call: %v", err)
			}
			if res.IsError != tc.isError {
				t.Fatalf("isError = %v, want %v: %s", res.IsError, tc.isError, textOf(t, res))
			}
			var r sandbox.Result
			if tc.validates {
				if res.StructuredContent != nil {
					t.Errorf("a rejected call carries structured content")
				}
			} else {
				r = structured(t, res)
				if r.Status != tc.status || r.Backend != "local" {
					t.Fatalf("status %s backend %s, want %s local: %s", r.Status, r.Backend, tc.status, textOf(t, res))
				}
			}
			if tc.check != nil {
				tc.check(t, r, textOf(t, res))
			}
		})
	}
}

// processesWith lists host processes whose command line contains marker.
func processesWith(marker string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), marker) {
			found = append(found, e.Name())
		}
	}
	return found
}
