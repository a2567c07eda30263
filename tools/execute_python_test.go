package tools_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// call is the record of a tools/call request for execute_python with args
// as its wire arguments, as the server makes it.
func call(args string) *tools.Call {
	var req mcp.CallToolRequest
	req.Params.Name = tools.ExecutePythonName
	req.Params.RawArguments = json.RawMessage(args)
	return tools.NewCall(req)
}

// text returns the text of a result's only content item.
func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("result has %d content items, want 1: %+v", len(res.Content), res.Content)
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		t.Fatalf("content is %T, want mcp.TextContent", res.Content[0])
	}
	return tc.Text
}

func TestExecutePythonHandler(t *testing.T) {
	p := policy.Default()
	maxCode := p.Limits.MaxCodeBytes
	// Fewer characters than max_code_bytes, more bytes: only the policy's
	// byte count catches it.
	overInBytes := strings.Repeat("é", maxCode/2+1)

	tests := []struct {
		name        string
		args        string
		result      sandbox.Result
		backendErr  error
		wantIsError bool
		// wantStructured: the result's structured content must equal result.
		wantStructured bool
		wantText       []string // substrings of the text content
		wantCalls      int
		wantTimeout    time.Duration // checked when wantCalls > 0
	}{
		{
			name:           "ok",
			args:           `{"code":"print(1)\n41+1"}`,
			result:         sandbox.Result{Status: sandbox.StatusOK, ExitCode: ptr(0), Stdout: "1\n", Result: ptr("42"), Backend: "fake"},
			wantStructured: true,
			wantText:       []string{"1\n→ 42"},
			wantCalls:      1,
			wantTimeout:    seconds(p.Limits.DefaultTimeoutS),
		},
		{
			name: "error status",
			args: `{"code":"1/0","timeout_s":10}`,
			result: sandbox.Result{Status: sandbox.StatusError, ExitCode: ptr(1), Backend: "fake",
				Error: &sandbox.ErrorInfo{Type: "ZeroDivisionError", Message: "division by zero", Traceback: "Traceback (most recent call last):\n  File \"<code>\", line 1, in <module>\nZeroDivisionError: division by zero\n"}},
			wantIsError:    true,
			wantStructured: true,
			wantText:       []string{"ZeroDivisionError: division by zero"},
			wantCalls:      1,
			wantTimeout:    10 * time.Second,
		},
		{
			name:           "timeout status",
			args:           `{"code":"while True: pass","timeout_s":0.5}`,
			result:         sandbox.Result{Status: sandbox.StatusTimeout, TimedOut: true, Backend: "fake"},
			wantIsError:    true,
			wantStructured: true,
			wantText:       []string{"timed out"},
			wantCalls:      1,
			wantTimeout:    500 * time.Millisecond,
		},
		{
			name:           "killed status",
			args:           `{"code":"x = ' ' * 10**12"}`,
			result:         sandbox.Result{Status: sandbox.StatusKilled, Backend: "fake"},
			wantIsError:    true,
			wantStructured: true,
			wantText:       []string{"killed"},
			wantCalls:      1,
			wantTimeout:    seconds(p.Limits.DefaultTimeoutS),
		},
		{
			name:        "backend error",
			args:        `{"code":"print(1)"}`,
			backendErr:  errors.New("unshare: operation not permitted"),
			wantIsError: true,
			wantText: []string{"the sandbox could not be started: unshare: operation not permitted; " +
				"the operator can run `airlock-mcp doctor`"},
			wantCalls:   1,
			wantTimeout: seconds(p.Limits.DefaultTimeoutS),
		},
		{
			name:        "policy refuses code over max_code_bytes in bytes",
			args:        `{"code":"` + overInBytes + `"}`,
			wantIsError: true,
			wantText:    []string{strconv.Itoa(maxCode)},
			wantCalls:   0,
		},
		{
			name:        "undecodable arguments",
			args:        `{"code":5}`,
			wantIsError: true,
			wantText:    []string{"Invalid arguments for execute_python"},
			wantCalls:   0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &sandboxtest.Backend{Result: tt.result, Err: tt.backendErr}
			tool, err := tools.ExecutePython(p, fb, tools.Sessions{}, nil, zap.NewNop())
			if err != nil {
				t.Fatalf("ExecutePython: %v", err)
			}
			res := tool.Handler(context.Background(), call(tt.args))
			if res.IsError != tt.wantIsError {
				t.Errorf("IsError = %v, want %v", res.IsError, tt.wantIsError)
			}
			if tt.wantStructured {
				// Without egress, the Airlock layer completes the ledger.
				want := tools.ExecuteResult{Result: tt.result, Files: []tools.FileEntry{}, Figures: []tools.FileEntry{}}
				want.Network = &sandbox.Network{Enforcement: sandbox.EnforcementNone, Connections: []sandbox.Connection{}}
				if !reflect.DeepEqual(res.StructuredContent, want) {
					t.Errorf("StructuredContent = %#v, want %#v", res.StructuredContent, want)
				}
			} else if res.StructuredContent != nil {
				t.Errorf("StructuredContent = %#v, want none", res.StructuredContent)
			}
			got := text(t, res)
			for _, w := range tt.wantText {
				if !strings.Contains(got, w) {
					t.Errorf("text %q does not contain %q", got, w)
				}
			}
			reqs := fb.Requests()
			if len(reqs) != tt.wantCalls {
				t.Fatalf("backend called %d times, want %d", len(reqs), tt.wantCalls)
			}
			if tt.wantCalls == 0 {
				return
			}
			var args struct {
				Code     string   `json:"code"`
				TimeoutS *float64 `json:"timeout_s"`
			}
			if err := json.Unmarshal([]byte(tt.args), &args); err != nil {
				t.Fatal(err)
			}
			if reqs[0].Code != args.Code {
				t.Errorf("backend got code %q, want %q", reqs[0].Code, args.Code)
			}
			if reqs[0].Limits.Timeout != tt.wantTimeout {
				t.Errorf("backend got timeout %v, want %v", reqs[0].Limits.Timeout, tt.wantTimeout)
			}
			wantLimits, _ := p.DecideExecute(args.Code, args.TimeoutS)
			if reqs[0].Limits != wantLimits {
				t.Errorf("backend got limits %+v, want the policy's %+v", reqs[0].Limits, wantLimits)
			}
		})
	}
}

// TestExecutePythonLogsBackendError checks that a backend failure is logged
// at error level for the operator.
func TestExecutePythonLogsBackendError(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	fb := &sandboxtest.Backend{Err: errors.New("no python3")}
	tool, err := tools.ExecutePython(policy.Default(), fb, tools.Sessions{}, nil, zap.New(core))
	if err != nil {
		t.Fatalf("ExecutePython: %v", err)
	}
	tool.Handler(context.Background(), call(`{"code":"print(1)"}`))
	entries := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	if len(entries) != 1 {
		t.Fatalf("got %d error-level log entries, want 1: %+v", len(entries), logs.All())
	}
	if got := entries[0].ContextMap()["error"]; got != "no python3" {
		t.Errorf("logged error = %v, want %q", got, "no python3")
	}
}

// TestExecutePythonLogArgs checks that the log describes the code without
// containing it — from the arguments of any call, refused or run, or from
// the hash the handler recorded — and that arguments of another shape are
// described by their size alone.
func TestExecutePythonLogArgs(t *testing.T) {
	tool, err := tools.ExecutePython(policy.Default(), &sandboxtest.Backend{}, tools.Sessions{}, nil, zap.NewNop())
	if err != nil {
		t.Fatalf("ExecutePython: %v", err)
	}
	described := func(code string, timeoutS ...float64) map[string]any {
		m := map[string]any{"code_bytes": int64(len(code)), "code_sha256": sha256Hex(code)}
		if len(timeoutS) > 0 {
			m["timeout_s"] = timeoutS[0]
		}
		return m
	}
	handled := func(args string) *tools.Call {
		c := call(args)
		tool.Handler(context.Background(), c)
		return c
	}
	recorded := call(`{"code":"SECRET=1"}`)
	recorded.CodeSHA256, recorded.CodeBytes = "recorded-hash", 3
	tests := []struct {
		name string
		call *tools.Call
		want map[string]any
	}{
		{"before the handler (a refused call)", call(`{"code":"SECRET=1","timeout_s":5}`), described("SECRET=1", 5)},
		{"after the handler", handled(`{"code":"SECRET=1","timeout_s":5}`), described("SECRET=1", 5)},
		{"the hash the handler recorded", recorded, map[string]any{"code_bytes": int64(3), "code_sha256": "recorded-hash"}},
		{"no timeout", call(`{"code":"SECRET=1"}`), described("SECRET=1")},
		{"no arguments", call(`null`), described("")},
		{"null code", call(`{"code":null,"timeout_s":5}`), described("", 5)},
		{"unknown property", call(`{"code":"SECRET=1","bogus":true}`), described("SECRET=1")},
		{"code not a string", call(`{"code":5}`), map[string]any{"args_bytes": int64(len(`{"code":5}`))}},
		{"timeout as a string", call(`{"code":"SECRET=1","timeout_s":"5"}`), map[string]any{"args_bytes": int64(len(`{"code":"SECRET=1","timeout_s":"5"}`))}},
		{"not an object", call(`["SECRET=1"]`), map[string]any{"args_bytes": int64(len(`["SECRET=1"]`))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			zap.New(core).Info("call", tool.LogArgs(tt.call)...)
			if fields := logs.All()[0].ContextMap(); !reflect.DeepEqual(fields, tt.want) {
				t.Errorf("log fields = %v, want %v", fields, tt.want)
			}
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// TestExecutePythonCancelled checks that a backend error caused by the
// call's own cancellation is not reported as a sandbox failure: no operator
// hint, nothing logged at error level.
func TestExecutePythonCancelled(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	fb := &sandboxtest.Backend{Err: context.Canceled}
	tool, err := tools.ExecutePython(policy.Default(), fb, tools.Sessions{}, nil, zap.New(core))
	if err != nil {
		t.Fatalf("ExecutePython: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := tool.Handler(ctx, call(`{"code":"print(1)"}`))
	if got := text(t, res); !res.IsError || strings.Contains(got, "doctor") || !strings.Contains(got, "cancelled") {
		t.Errorf("result = %v %q, want an isError result saying the call was cancelled", res.IsError, got)
	}
	if n := len(logs.FilterLevelExact(zapcore.ErrorLevel).All()); n != 0 {
		t.Errorf("%d error-level log entries for a cancelled call, want 0", n)
	}
}
