package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestNewCallDecodesOnce: the record of a call holds its arguments' wire
// JSON and that JSON decoded as JSON values (numbers as json.Number, as the
// schema validator reads them), whatever form mcp-go handed them over in.
func TestNewCallDecodesOnce(t *testing.T) {
	tests := []struct {
		name    string
		args    any // req.Params.Arguments
		raw     string
		want    any
		wantErr string
	}{
		{"wire JSON", json.RawMessage(`{"code":"x","timeout_s":1.5}`), `{"code":"x","timeout_s":1.5}`,
			map[string]any{"code": "x", "timeout_s": json.Number("1.5")}, ""},
		{"no arguments", nil, `{}`, map[string]any{}, ""},
		{"null", json.RawMessage(`null`), `{}`, map[string]any{}, ""},
		{"a Go value", map[string]any{"code": "x", "timeout_s": 2}, `{"code":"x","timeout_s":2}`,
			map[string]any{"code": "x", "timeout_s": json.Number("2")}, ""},
		{"not an object", json.RawMessage(`["x"]`), `["x"]`, []any{"x"}, ""},
		{"not JSON", json.RawMessage(`{"code":`), `{"code":`, nil, "not valid JSON"},
		{"not encodable", map[string]any{"code": make(chan int)}, ``, nil, "marshal arguments of execute_python"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req mcp.CallToolRequest
			req.Params.Name = tools.ExecutePythonName
			req.Params.Arguments = tt.args
			c := tools.NewCall(req)
			if c.Tool != tools.ExecutePythonName || c.Received.IsZero() {
				t.Errorf("tool %q, received %v; want execute_python, now", c.Tool, c.Received)
			}
			if string(c.RawArgs) != tt.raw {
				t.Errorf("raw arguments %q, want %q", c.RawArgs, tt.raw)
			}
			if !reflect.DeepEqual(c.Args, tt.want) {
				t.Errorf("arguments %#v, want %#v", c.Args, tt.want)
			}
			if (c.ArgsErr == nil) != (tt.wantErr == "") || (c.ArgsErr != nil && !strings.Contains(c.ArgsErr.Error(), tt.wantErr)) {
				t.Errorf("error %v, want one containing %q", c.ArgsErr, tt.wantErr)
			}
		})
	}
}

// TestExecutePythonRecordsTheCall: the handler records in the call what
// became of it — the code's hash and size, the policy's refusal with its
// part and rule, the sandbox's result, how a call that did not run ended —
// which is all the server's audit log and metrics know of it.
func TestExecutePythonRecordsTheCall(t *testing.T) {
	p := policy.Default()
	over := strings.Repeat("x", p.Limits.MaxCodeBytes+1)
	_, tooLong := p.DecideExecute(over, nil)
	advisory := withNetwork(policy.Network{AllowEgress: true, OnUnenforceable: policy.Advisory,
		Allow: []policy.NetworkRule{{Host: "*.example.com", Ports: []int{443}}},
		Deny:  []policy.NetworkRule{{Host: "admin.example.com"}}})
	const admin = "import urllib.request\nurllib.request.urlopen('https://admin.example.com/')"
	ok := sandbox.Result{Status: sandbox.StatusOK, Backend: "fake", SandboxID: "sb-1"}
	ran := ok
	ran.Network = &sandbox.Network{Enforcement: sandbox.EnforcementNone, Connections: []sandbox.Connection{}}
	busy := fmt.Errorf("%w: 4 executions running and 64 waiting; try again later", sandbox.ErrBusy)

	tests := []struct {
		name     string
		p        *policy.Policy
		backend  *sandboxtest.Backend
		cancel   bool // the call's ctx is cancelled
		code     string
		want     tools.Call // the fields the handler fills in
		wantRule string     // a substring of the refusing rule
	}{
		{name: "ran", backend: &sandboxtest.Backend{Result: ok}, code: "print(1)",
			want: tools.Call{Status: "ok", Result: &ran}},
		{name: "refused by the limits", backend: &sandboxtest.Backend{Result: ok}, code: over,
			want: tools.Call{Status: tools.OutcomeDenied, Denied: true, Category: "limits", Rule: tooLong.Rule, Reason: tooLong.Reason}},
		{name: "refused by the network pre-check", p: advisory, backend: &sandboxtest.Backend{BackendName: modal.Name, Result: ok}, code: admin,
			want: tools.Call{Status: tools.OutcomeDenied, Denied: true, Category: "network"}, wantRule: "network.deny[0]"},
		{name: "busy", backend: &sandboxtest.Backend{Err: busy}, code: "print(1)",
			want: tools.Call{Status: tools.OutcomeBusy, Reason: "Server busy: 4 executions running and 64 waiting; try again later"}},
		{name: "cancelled", backend: &sandboxtest.Backend{Err: context.Canceled}, cancel: true, code: "print(1)",
			want: tools.Call{Status: tools.OutcomeCancelled, Reason: "the call was cancelled before the code finished"}},
		{name: "failed", backend: &sandboxtest.Backend{Err: errors.New("no python3")}, code: "print(1)",
			want: tools.Call{Status: tools.OutcomeFailed, Reason: "the sandbox could not be started: no python3; the operator can run `airlock-mcp doctor`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := tt.p
			if pol == nil {
				pol = p
			}
			tool, err := tools.ExecutePython(pol, capable(tt.backend), tools.Sessions{}, nil, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			args, _ := json.Marshal(map[string]string{"code": tt.code})
			c := call(string(args))
			res := tool.Handler(ctx, c)

			got := tools.Call{Status: c.Status, Reason: c.Reason, Denied: c.Denied, Category: c.Category, Rule: c.Rule, Result: c.Result}
			want := tt.want
			if tt.wantRule != "" {
				if !strings.Contains(c.Rule, tt.wantRule) {
					t.Errorf("rule %q, want one naming %s", c.Rule, tt.wantRule)
				}
				want.Rule, want.Reason = c.Rule, text(t, res) // the reason is what the model read
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("recorded %+v, want %+v", got, want)
			}
			if c.Reason != "" && text(t, res) != c.Reason {
				t.Errorf("recorded reason %q, but the model read %q", c.Reason, text(t, res))
			}
			if c.CodeSHA256 != sha256Hex(tt.code) || c.CodeBytes != len(tt.code) {
				t.Errorf("code recorded as %d bytes, %s; want %d bytes, %s", c.CodeBytes, c.CodeSHA256, len(tt.code), sha256Hex(tt.code))
			}
		})
	}
}

// TestExecutePythonRunsTheDecodedArguments: the handler runs the arguments
// as the call's record holds them — the value the server validated — and
// never reads the wire JSON again, so no second parser can see other code
// than the one that was checked.
func TestExecutePythonRunsTheDecodedArguments(t *testing.T) {
	fb := &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusOK}}
	tool, err := tools.ExecutePython(policy.Default(), fb, tools.Sessions{}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c := call(`{"code":"print('on the wire')","timeout_s":5}`)
	c.Args = map[string]any{"code": "print('validated')", "timeout_s": json.Number("7")}
	tool.Handler(context.Background(), c)
	reqs := fb.Requests()
	if len(reqs) != 1 || reqs[0].Code != "print('validated')" || reqs[0].Limits.Timeout != seconds(7) {
		t.Fatalf("backend got %+v, want the validated code with a 7 s timeout", reqs)
	}
	if c.CodeSHA256 != sha256Hex("print('validated')") {
		t.Errorf("recorded the hash of other code than the code run")
	}
}
