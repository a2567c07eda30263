package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// protocolVersionMetaKey is the per-message _meta key of protocol
// 2026-07-28 naming the protocol version.
const protocolVersionMetaKey = "io.modelcontextprotocol/protocolVersion"

// maxNotificationBytes bounds the bodies acceptBareNotifications looks at:
// a notification is a few hundred bytes.
const maxNotificationBytes = 16 << 10

// acceptBareNotifications lets notifications without the per-request _meta
// envelope through the streamable HTTP transport.
//
// Under protocol 2026-07-28 a notification's _meta is optional (only
// requests must carry the protocol version in it), but mcp-go v1.2.1
// validates notifications as requests and answers 400; and the official Go
// SDK (v1.8.0, modelcontextprotocol/go-sdk#1212) sends notifications/cancelled
// without the envelope, then treats the 400 as fatal and drops the session —
// so cancelling one call would break every later one. For a notification
// whose Mcp-Protocol-Version header is set and whose body has no version in
// _meta, this fills it in from the header before mcp-go sees it. Requests,
// and everything else, pass untouched.
func acceptBareNotifications(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version := r.Header.Get("Mcp-Protocol-Version")
		if r.Method != http.MethodPost || version == "" || version < "2026" {
			next.ServeHTTP(w, r)
			return
		}
		// Only a small body can be a notification worth mending: read at
		// most that much, and leave a larger one (a tool call with code)
		// unread and unparsed.
		head, err := io.ReadAll(io.LimitReader(r.Body, maxNotificationBytes+1))
		if err != nil {
			http.Error(w, "airlock-mcp: reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(head) <= maxNotificationBytes && bytes.Contains(head, []byte(`"notifications/`)) {
			head = withNotificationVersion(head, version)
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		next.ServeHTTP(w, r)
	})
}

// withNotificationVersion returns body with params._meta's protocol version
// set to version when body is one JSON-RPC notification lacking it, else
// body unchanged.
func withNotificationVersion(body []byte, version string) []byte {
	var msg map[string]json.RawMessage
	if json.Unmarshal(body, &msg) != nil {
		return body
	}
	if _, isRequest := msg["id"]; isRequest {
		return body
	}
	var method string
	if json.Unmarshal(msg["method"], &method) != nil || !strings.HasPrefix(method, "notifications/") {
		return body
	}
	params := map[string]json.RawMessage{}
	if raw, ok := msg["params"]; ok && json.Unmarshal(raw, &params) != nil {
		return body
	}
	meta := map[string]json.RawMessage{}
	if raw, ok := params["_meta"]; ok && json.Unmarshal(raw, &meta) != nil {
		return body
	}
	if _, ok := meta[protocolVersionMetaKey]; ok {
		return body
	}
	meta[protocolVersionMetaKey], _ = json.Marshal(version)
	params["_meta"], _ = json.Marshal(meta)
	msg["params"], _ = json.Marshal(params)
	out, err := json.Marshal(msg)
	if err != nil {
		return body
	}
	return out
}
