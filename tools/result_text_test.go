package tools

import (
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

func ptr[T any](v T) *T { return &v }

func TestResultText(t *testing.T) {
	tests := []struct {
		name string
		in   sandbox.Result
		want string
	}{
		{
			name: "nothing",
			in:   sandbox.Result{Status: sandbox.StatusOK, ExitCode: ptr(0)},
			want: "(no output)",
		},
		{
			name: "summarised refusals count every attempt",
			in: sandbox.Result{Status: sandbox.StatusOK, Network: &sandbox.Network{Enforcement: sandbox.EnforcementProxy, Connections: []sandbox.Connection{
				{Host: "a.test", Port: 443, Method: "CONNECT", Reason: "A refused."},
				{Host: "b.test", Port: 443, Method: "CONNECT", Reason: "B refused.", Count: 5},
				{Host: "ok.test", Port: 443, Method: "CONNECT", Allowed: true},
				{Host: "c.test", Port: 80, Method: "GET", Rule: "network.allow (no rule matches)"},
				{Host: "d.test", Port: 443, Method: "CONNECT", Reason: "D refused.", Count: 2},
				{Host: "e.test", Port: 443, Method: "CONNECT", Reason: "E refused."},
			}}},
			want: "[network] A refused.\n[network] B refused. (5 attempts)\n" +
				"[network] Connection to c.test:80 refused by network.allow (no rule matches).\n" +
				"[network] 3 more refused connections (see network.connections)\n" +
				"[network] these refusals are the operator's policy; do not try to reach these hosts another way.",
		},
		{
			name: "stdout only",
			in:   sandbox.Result{Status: sandbox.StatusOK, Stdout: "hello\n"},
			want: "hello",
		},
		{
			name: "stdout and value",
			in:   sandbox.Result{Status: sandbox.StatusOK, Stdout: "1\n", Result: ptr("42")},
			want: "1\n→ 42",
		},
		{
			name: "value without stdout",
			in:   sandbox.Result{Status: sandbox.StatusOK, Result: ptr("'abc'")},
			want: "→ 'abc'",
		},
		{
			name: "stderr labelled after stdout",
			in:   sandbox.Result{Status: sandbox.StatusOK, Stdout: "out\n", Stderr: "warn\n"},
			want: "out\nstderr:\nwarn",
		},
		{
			name: "exception with traceback",
			in: sandbox.Result{
				Status: sandbox.StatusError, ExitCode: ptr(1), Stdout: "before\n",
				Error: &sandbox.ErrorInfo{
					Type: "ZeroDivisionError", Message: "division by zero",
					Traceback: "Traceback (most recent call last):\n  File \"<code>\", line 2, in <module>\nZeroDivisionError: division by zero\n",
				},
			},
			// The traceback already ends with "Type: message": not repeated.
			want: "before\nTraceback (most recent call last):\n  File \"<code>\", line 2, in <module>\nZeroDivisionError: division by zero",
		},
		{
			name: "exception without traceback",
			in: sandbox.Result{
				Status: sandbox.StatusError,
				Error:  &sandbox.ErrorInfo{Type: "SyntaxError", Message: "invalid syntax"},
			},
			want: "SyntaxError: invalid syntax",
		},
		{
			name: "non-zero exit without error info",
			in:   sandbox.Result{Status: sandbox.StatusError, ExitCode: ptr(3)},
			want: "exited with code 3",
		},
		{
			name: "timeout",
			in: sandbox.Result{
				Status: sandbox.StatusTimeout, TimedOut: true, Stdout: "tick\n",
				Error: &sandbox.ErrorInfo{Type: "Timeout", Message: "the 10 s wall-clock limit was reached"},
			},
			want: "tick\nTimeout: the 10 s wall-clock limit was reached",
		},
		{
			name: "killed",
			in: sandbox.Result{
				Status: sandbox.StatusKilled,
				Error:  &sandbox.ErrorInfo{Type: "Killed", Message: "killed by SIGKILL"},
			},
			want: "Killed: killed by SIGKILL",
		},
		{
			name: "killed without error info",
			in:   sandbox.Result{Status: sandbox.StatusKilled},
			want: "[killed: the sandbox hit a resource limit (CPU time or memory) or was stopped]",
		},
		{
			name: "truncated",
			in:   sandbox.Result{Status: sandbox.StatusOK, Stdout: "aaa…zzz", Truncated: true},
			want: "aaa…zzz\n[output truncated: only the head and tail of each long stream are shown]",
		},
		{
			name: "whitespace-only stderr is dropped",
			in:   sandbox.Result{Status: sandbox.StatusOK, Stdout: "x", Stderr: "\n"},
			want: "x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatResult(tt.in); got != tt.want {
				t.Errorf("FormatResult() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
