package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/schemas"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// protocols are the protocol eras mcp-go serves: the initialize handshake
// (up to 2025-11-25) and the stateless core (2026-07-28).
var protocols = []string{mcp.LATEST_LEGACY_PROTOCOL_VERSION, mcp.LATEST_PROTOCOL_VERSION}

func okResult() sandbox.Result {
	exit, value := 0, "2"
	return sandbox.Result{Status: sandbox.StatusOK, ExitCode: &exit, Stdout: "1\n", Result: &value, DurationMS: 7, Backend: "fake"}
}

// newServer builds the server under the default policy with b.
func newServer(t testing.TB, b sandbox.Backend, log *zap.Logger) *mcpserver.MCPServer {
	t.Helper()
	s, err := New(Options{Policy: policy.Default(), Backend: b, Logger: log, Version: "test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// connect starts an in-process client on s, initialized with protocol.
func connect(t *testing.T, s *mcpserver.MCPServer, protocol string) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatalf("NewInProcessClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = protocol
	init.Params.ClientInfo = mcp.Implementation{Name: "airlock-test", Version: "0"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("Initialize(%s): %v", protocol, err)
	}
	if res.ServerInfo.Name != Name {
		t.Errorf("server name = %q, want %q", res.ServerInfo.Name, Name)
	}
	return c
}

// callTool calls execute_python with args as the exact wire arguments
// (nil: no arguments at all).
func callTool(ctx context.Context, c *client.Client, args string) (*mcp.CallToolResult, error) {
	var req mcp.CallToolRequest
	req.Params.Name = tools.ExecutePythonName
	if args != "" {
		req.Params.Arguments = json.RawMessage(args)
	}
	return c.CallTool(ctx, req)
}

func textOf(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("got %d content items, want 1: %+v", len(res.Content), res.Content)
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		t.Fatalf("content is %T, want text", res.Content[0])
	}
	return tc.Text
}

func TestNewNeedsPolicyAndBackend(t *testing.T) {
	tests := map[string]Options{
		"no policy":  {Backend: &sandboxtest.Backend{}},
		"no backend": {Policy: policy.Default()},
	}
	for name, opts := range tests {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
}

func TestListTools(t *testing.T) {
	p := policy.Default()
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			c := connect(t, newServer(t, &sandboxtest.Backend{}, nil), protocol)
			res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatalf("ListTools: %v", err)
			}
			if len(res.Tools) != 1 || res.Tools[0].Name != tools.ExecutePythonName {
				t.Fatalf("tools = %+v, want only execute_python", res.Tools)
			}
			tool := res.Tools[0]
			code, _ := tool.InputSchema.Properties["code"].(map[string]any)
			timeout, _ := tool.InputSchema.Properties["timeout_s"].(map[string]any)
			if got := code["maxLength"]; got != float64(p.Limits.MaxCodeBytes) {
				t.Errorf("code.maxLength = %v, want %d", got, p.Limits.MaxCodeBytes)
			}
			if got := timeout["maximum"]; got != p.Limits.MaxTimeoutS {
				t.Errorf("timeout_s.maximum = %v, want %v", got, p.Limits.MaxTimeoutS)
			}
			if got := timeout["default"]; got != p.Limits.DefaultTimeoutS {
				t.Errorf("timeout_s.default = %v, want %v", got, p.Limits.DefaultTimeoutS)
			}
			if tool.OutputSchema.Type != "object" || len(tool.OutputSchema.Properties) == 0 {
				t.Errorf("outputSchema missing or empty: %+v", tool.OutputSchema)
			}
			if tool.Annotations.OpenWorldHint == nil || *tool.Annotations.OpenWorldHint != p.Network.AllowEgress {
				t.Errorf("openWorldHint = %v, want %v", tool.Annotations.OpenWorldHint, p.Network.AllowEgress)
			}
		})
	}
}

// TestValidCall checks that a valid call reaches the backend and returns
// structured content that is the backend's Result and validates against
// the output schema the client was shown.
func TestValidCall(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			fb := &sandboxtest.Backend{Result: okResult()}
			c := connect(t, newServer(t, fb, nil), protocol)
			ctx := context.Background()
			list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatalf("ListTools: %v", err)
			}
			outDoc, err := json.Marshal(list.Tools[0].OutputSchema)
			if err != nil {
				t.Fatalf("marshal outputSchema: %v", err)
			}
			out, err := schemas.Compile("listed-output", outDoc)
			if err != nil {
				t.Fatalf("compile listed outputSchema: %v", err)
			}

			res, err := callTool(ctx, c, `{"code":"print(1)\n1+1","timeout_s":10}`)
			if err != nil {
				t.Fatalf("CallTool: %v", err)
			}
			if res.IsError {
				t.Fatalf("isError for a valid call: %s", textOf(t, res))
			}
			if got, want := textOf(t, res), "1\n→ 2"; got != want {
				t.Errorf("text = %q, want %q", got, want)
			}
			if len(res.RawStructuredContent) == 0 {
				t.Fatal("no structuredContent")
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(res.RawStructuredContent))
			if err != nil {
				t.Fatalf("parse structuredContent: %v", err)
			}
			if err := out.Validate(inst); err != nil {
				t.Errorf("structuredContent does not validate against outputSchema: %v", schemas.Violations(err))
			}
			var got sandbox.Result
			if err := json.Unmarshal(res.RawStructuredContent, &got); err != nil {
				t.Fatalf("decode structuredContent: %v", err)
			}
			want := okResult()
			want.Network = &sandbox.Network{Enforcement: sandbox.EnforcementNone, Connections: []sandbox.Connection{}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("structuredContent = %+v, want %+v", got, want)
			}
			if n := fb.Calls(); n != 1 {
				t.Errorf("backend called %d times, want 1", n)
			}
		})
	}
}

// TestInvalidArguments checks that the argument validation rejects bad
// arguments with an isError result naming each violation, and that the
// backend is never called.
func TestInvalidArguments(t *testing.T) {
	max := strconv.FormatFloat(policy.Default().Limits.MaxTimeoutS, 'f', -1, 64)
	const head = "Invalid arguments for execute_python:\n"
	tests := []struct {
		name string
		args string // "" sends no arguments at all
		want string // the whole text
	}{
		{"no arguments", "", head + "/: missing property 'code'"},
		{"empty object", `{}`, head + "/: missing property 'code'"},
		{"null arguments", `null`, head + "/: missing property 'code'"},
		{"empty code", `{"code":""}`, head + "/code: minLength: got 0, want 1"},
		{"timeout over maximum", `{"code":"x","timeout_s":900}`, head + "/timeout_s: maximum: got 900, want " + max},
		{"timeout zero", `{"code":"x","timeout_s":0}`, head + "/timeout_s: exclusiveMinimum: got 0, want > 0"},
		{"unknown property", `{"code":"x","bogus":1}`, head + "/: additional properties 'bogus' not allowed"},
		{"code not a string", `{"code":5}`, head + "/code: got number, want string"},
		{"timeout as a string", `{"code":"x","timeout_s":"10"}`, head + "/timeout_s: got string, want number"},
		{"arguments not an object", `["print(1)"]`, head + "/: got array, want object"},
		{"several violations", `{"code":"","timeout_s":900,"bogus":1}`,
			head + "/: additional properties 'bogus' not allowed\n/code: minLength: got 0, want 1\n/timeout_s: maximum: got 900, want " + max},
	}
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			fb := &sandboxtest.Backend{Result: okResult()}
			c := connect(t, newServer(t, fb, nil), protocol)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res, err := callTool(context.Background(), c, tt.args)
					if err != nil {
						t.Fatalf("CallTool returned a protocol error, want an isError result: %v", err)
					}
					if !res.IsError {
						t.Error("isError = false")
					}
					if got := textOf(t, res); got != tt.want {
						t.Errorf("text =\n%s\nwant\n%s", got, tt.want)
					}
					if res.StructuredContent != nil {
						t.Errorf("structuredContent on a rejected call: %v", res.StructuredContent)
					}
				})
			}
			if n := fb.Calls(); n != 0 {
				t.Errorf("backend called %d times for invalid calls, want 0", n)
			}
		})
	}
}

// TestTimeout300Exact pins the example from the brief: under the default
// policy (max_timeout_s 300) the text is exactly this.
func TestTimeout300Exact(t *testing.T) {
	if policy.Default().Limits.MaxTimeoutS != 300 {
		t.Skip("default max_timeout_s is no longer 300")
	}
	c := connect(t, newServer(t, &sandboxtest.Backend{}, nil), mcp.LATEST_LEGACY_PROTOCOL_VERSION)
	res, err := callTool(context.Background(), c, `{"code":"x","timeout_s":900}`)
	if err != nil {
		t.Fatalf("CallTool: %v", err)
	}
	if got, want := textOf(t, res), "Invalid arguments for execute_python:\n/timeout_s: maximum: got 900, want 300"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
}

// TestCancelReachesBackend checks that cancelling the call's ctx cancels the
// ctx the backend runs under.
func TestCancelReachesBackend(t *testing.T) {
	fb := &sandboxtest.Backend{}
	fb.Hold()
	c := connect(t, newServer(t, fb, nil), mcp.LATEST_LEGACY_PROTOCOL_VERSION)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := callTool(ctx, c, `{"code":"import time; time.sleep(60)"}`)
		done <- err
	}()
	select {
	case <-fb.Started():
	case <-time.After(5 * time.Second):
		t.Fatal("backend never started")
	}
	cancel()
	select {
	case err := <-fb.Interrupted():
		if !errors.Is(err, context.Canceled) {
			t.Errorf("backend ctx error = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the call did not reach the backend")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("CallTool did not return after cancel")
	}
}

// TestPanicIsRecovered checks that a panicking backend becomes a protocol
// error for that call, not a crashed server.
func TestPanicIsRecovered(t *testing.T) {
	fb := &sandboxtest.Backend{Panic: "boom"}
	c := connect(t, newServer(t, fb, nil), mcp.LATEST_LEGACY_PROTOCOL_VERSION)
	if _, err := callTool(context.Background(), c, `{"code":"print(1)"}`); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("CallTool error = %v, want a protocol error mentioning the panic", err)
	}
	if _, err := c.ListTools(context.Background(), mcp.ListToolsRequest{}); err != nil {
		t.Errorf("server unusable after a panic: %v", err)
	}
}
