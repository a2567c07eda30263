package server

import (
	"encoding/json"
	"testing"
)

func TestWithNotificationVersion(t *testing.T) {
	const v = "2026-07-28"
	tests := []struct {
		name, in string
		changed  bool
	}{
		{"bare cancellation gets the version", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"x"}}`, true},
		{"notification without params", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, true},
		{"notification with other _meta keys keeps them", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"_meta":{"k":1}}}`, true},
		{"version already there", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, false},
		{"requests are left alone", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{}}`, false},
		{"non-notification methods are left alone", `{"jsonrpc":"2.0","method":"tools/call"}`, false},
		{"garbage is left alone", `{not json`, false},
		{"batches are left alone", `[{"jsonrpc":"2.0","method":"notifications/cancelled"}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := withNotificationVersion([]byte(tt.in), v)
			if changed := string(out) != tt.in; changed != tt.changed {
				t.Fatalf("changed = %v, want %v: %s", changed, tt.changed, out)
			}
			if !tt.changed {
				return
			}
			var m struct {
				Method string `json:"method"`
				Params struct {
					RequestID any            `json:"requestId"`
					Meta      map[string]any `json:"_meta"`
				} `json:"params"`
			}
			if err := json.Unmarshal(out, &m); err != nil || m.Params.Meta[protocolVersionMetaKey] != v {
				t.Errorf("out = %s (%v)", out, err)
			}
			if tt.name == "notification with other _meta keys keeps them" && m.Params.Meta["k"] != float64(1) {
				t.Errorf("lost a _meta key: %s", out)
			}
		})
	}
}
