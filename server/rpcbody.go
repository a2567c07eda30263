package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// requestBody is a request's body, read whole by readRequest, and the
// JSON-RPC head the transports' guards look at, parsed once on demand.
type requestBody struct {
	raw  []byte
	once sync.Once
	msg  rpcHead
}

// rpcHead is the part of a JSON-RPC message the guards need: the id, the
// method, the protocol version in _meta, and a cancellation's requestId.
type rpcHead struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Meta      map[string]json.RawMessage `json:"_meta"`
		RequestID json.RawMessage            `json:"requestId"`
	} `json:"params"`
}

type bodyKey struct{}

// readRequest reads the request body whole (it is bounded by limitBody) and
// keeps it for the guards. Reading it to the end also ends the server's
// ReadTimeout for this request: net/http lifts the connection's read
// deadline once the body is consumed, so the timeout bounds reading a
// request but never cuts off a long call or a stream.
func readRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			raw, err := io.ReadAll(r.Body)
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					http.Error(w, fmt.Sprintf("airlock-mcp: request body is larger than the limit of %d bytes", tooBig.Limit), http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, "airlock-mcp: reading the request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(raw))
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, &requestBody{raw: raw}))
		}
		next.ServeHTTP(w, r)
	})
}

// messageOf returns the JSON-RPC head of r's body, and false when r has no
// body read by readRequest or the body is not one JSON object.
func messageOf(r *http.Request) (rpcHead, bool) {
	b, ok := r.Context().Value(bodyKey{}).(*requestBody)
	if !ok {
		return rpcHead{}, false
	}
	b.once.Do(func() {
		if json.Unmarshal(b.raw, &b.msg) != nil {
			b.msg = rpcHead{}
		}
	})
	return b.msg, b.msg.Method != "" || len(b.msg.ID) > 0
}

// isRequest reports whether the message is a request (it has an id).
func (m rpcHead) isRequest() bool {
	return m.Method != "" && len(m.ID) > 0 && !bytes.Equal(m.ID, []byte("null"))
}

// isModern reports whether mcp-go serves the message under protocol
// 2026-07-28 or later, which has no sessions: the version in the
// Mcp-Protocol-Version header or in the message's _meta is that recent
// (mcp-go's own rule).
func (m rpcHead) isModern(h http.Header) bool {
	var metaVersion string
	if raw, ok := m.Params.Meta[protocolVersionMetaKey]; ok {
		_ = json.Unmarshal(raw, &metaVersion)
	}
	return mcp.IsModernProtocol(h.Get(mcp.HeaderProtocolVersion)) || mcp.IsModernProtocol(metaVersion)
}

// idKey is a JSON-RPC id as mcp-go keys requests by it: 7, 7.0 and "7"
// are one id. "" for no id.
func idKey(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
