package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestLogsOneLinePerCall checks the call log: one line per call,
// rejected and failed calls included, with the code's size and hash but
// never the code.
func TestLogsOneLinePerCall(t *testing.T) {
	const secret = "print('SECRET-TOKEN')"
	sum := sha256.Sum256([]byte(secret))
	maxTimeout := strconv.FormatFloat(policy.Default().Limits.MaxTimeoutS, 'f', -1, 64)
	tests := []struct {
		name      string
		backend   *sandboxtest.Backend
		args      string
		wantLevel zapcore.Level
		want      map[string]any // fields that must be present with these values
	}{
		{
			name:      "ok call",
			backend:   &sandboxtest.Backend{Result: okResult()},
			args:      `{"code":"` + "print('SECRET-TOKEN')" + `","timeout_s":10}`,
			wantLevel: zapcore.InfoLevel,
			want: map[string]any{
				"tool": "execute_python", "is_error": false, "status": "ok", "backend": "fake",
				"code_bytes": int64(len(secret)), "code_sha256": hex.EncodeToString(sum[:]), "timeout_s": 10.0,
			},
		},
		{
			name:      "rejected by validation",
			backend:   &sandboxtest.Backend{},
			args:      `{"code":"` + "print('SECRET-TOKEN')" + `","timeout_s":900}`,
			wantLevel: zapcore.InfoLevel,
			want: map[string]any{
				"tool": "execute_python", "is_error": true,
				"error_text": "Invalid arguments for execute_python:\n/timeout_s: maximum: got 900, want " + maxTimeout,
			},
		},
		{
			name:      "handler panic",
			backend:   &sandboxtest.Backend{Panic: "boom"},
			args:      `{"code":"` + "print('SECRET-TOKEN')" + `"}`,
			wantLevel: zapcore.ErrorLevel,
			want:      map[string]any{"tool": "execute_python", "code_sha256": hex.EncodeToString(sum[:])},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			c := connect(t, newServer(t, tt.backend, zap.New(core)), mcp.LATEST_LEGACY_PROTOCOL_VERSION)
			_, _ = callTool(context.Background(), c, tt.args)

			calls := logs.FilterMessage("tool call").All()
			if len(calls) != 1 {
				t.Fatalf("got %d 'tool call' lines, want 1: %+v", len(calls), logs.All())
			}
			e := calls[0]
			if e.Level != tt.wantLevel {
				t.Errorf("level = %v, want %v", e.Level, tt.wantLevel)
			}
			fields := e.ContextMap()
			if _, ok := fields["duration"]; !ok {
				t.Error("no duration field")
			}
			for k, v := range tt.want {
				if fields[k] != v {
					t.Errorf("field %s = %#v, want %#v", k, fields[k], v)
				}
			}
			for _, entry := range logs.All() {
				for k, v := range entry.ContextMap() {
					if s, ok := v.(string); ok && strings.Contains(s, "SECRET-TOKEN") {
						t.Errorf("log %q field %s contains the code: %q", entry.Message, k, s)
					}
				}
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 5, "abcde…"},
		{"ééé", 3, "é…"}, // é is 2 bytes: never split a rune
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
