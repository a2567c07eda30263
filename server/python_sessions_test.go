package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	pysessions "github.com/airlock-mcp/airlock-mcp/sessions"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// as is ctx carrying the client identity name, as the HTTP transport's
// authentication leaves it; "" is a caller without one.
func as(name string) context.Context {
	if name == "" {
		return context.Background()
	}
	return context.WithValue(context.Background(), clientKey{}, name)
}

// sessionNames reads the JSON of a session list and returns its names.
func sessionNames(t *testing.T, data string) []string {
	t.Helper()
	var l tools.SessionList
	if err := json.Unmarshal([]byte(data), &l); err != nil {
		t.Fatalf("session list %q: %v", data, err)
	}
	var names []string
	for _, s := range l.Sessions {
		names = append(names, s.Name)
	}
	return names
}

// TestSessionsPerCaller: airlock://sessions and list_sessions show the
// reader's own sessions only, the same content; a session name used by
// two identities is two sessions; the audit record names the session.
func TestSessionsPerCaller(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	reg, err := pysessions.New(pysessions.Options{Config: tools.SessionsConfig(policy.Default()), Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(true) })
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := audit.Open(auditFile, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Policy: policy.Default(), Backend: b, Version: "test", Audit: w, Sessions: tools.Sessions{Registry: reg}})
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, s, mcp.LATEST_PROTOCOL_VERSION)
	call := func(who, tool, args string) *mcp.CallToolResult {
		t.Helper()
		var req mcp.CallToolRequest
		req.Params.Name = tool
		req.Params.Arguments = json.RawMessage(args)
		res, err := c.CallTool(as(who), req)
		if err != nil {
			t.Fatalf("%s as %q: %v", tool, who, err)
		}
		return res
	}
	call("alice", tools.ExecutePythonName, `{"code":"x = 1","session":"shared-name"}`)
	call("alice", tools.ExecutePythonName, `{"code":"y = 1","session":"alice-only"}`)
	call("bob", tools.ExecutePythonName, `{"code":"x = 2","session":"shared-name"}`)
	if res := call("bob", tools.ExecutePythonName, `{"code":"x","session":"shared-name"}`); !strings.Contains(textOf(t, res), "→ 2") {
		t.Errorf("bob's session sees %q, want bob's own x = 2", textOf(t, res))
	}

	for _, tt := range []struct {
		who  string
		want []string
	}{
		{"alice", []string{"alice-only", "shared-name"}},
		{"bob", []string{"shared-name"}},
		{"", nil}, // anonymous has none
	} {
		resource := readSessions(t, c, as(tt.who))
		if got := sessionNames(t, resource); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("airlock://sessions as %q: %v, want %v", tt.who, got, tt.want)
		}
		listed, err := json.Marshal(call(tt.who, tools.ListSessionsName, `{}`).StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		var fromTool, fromResource tools.SessionList
		if err := json.Unmarshal(listed, &fromTool); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(resource), &fromResource); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromTool, fromResource) {
			t.Errorf("as %q, list_sessions =\n%s\nairlock://sessions =\n%s\nwant the same", tt.who, listed, resource)
		}
	}

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(string(data), "\n", 2)[0]
	var rec map[string]any
	if err := json.Unmarshal([]byte(first), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["client"] != "alice" || rec["python_session"] != "shared-name" {
		t.Errorf("first audit record %s; want client alice, python_session shared-name", first)
	}
}

// readSessions reads airlock://sessions as ctx's caller.
func readSessions(t *testing.T, c *client.Client, ctx context.Context) string {
	t.Helper()
	var req mcp.ReadResourceRequest
	req.Params.URI = SessionsResourceURI
	res, err := c.ReadResource(ctx, req)
	if err != nil {
		t.Fatalf("read %s: %v", SessionsResourceURI, err)
	}
	if len(res.Contents) != 1 {
		t.Fatalf("%s has %d contents, want 1", SessionsResourceURI, len(res.Contents))
	}
	tc, ok := res.Contents[0].(mcp.TextResourceContents)
	if !ok || tc.MIMEType != "application/json" {
		t.Fatalf("%s content %+v, want JSON text", SessionsResourceURI, res.Contents[0])
	}
	return tc.Text
}

// TestNoSessionsResourceWithoutSessions: a server without sessions offers
// neither the resource nor the session tools.
func TestNoSessionsResourceWithoutSessions(t *testing.T) {
	c := connect(t, newServer(t, &sandboxtest.Backend{}, nil), mcp.LATEST_PROTOCOL_VERSION)
	res, err := c.ListResources(context.Background(), mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Resources {
		if r.URI == SessionsResourceURI {
			t.Errorf("%s offered without sessions", SessionsResourceURI)
		}
	}
	tl, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Tools) != 1 {
		t.Errorf("%d tools without sessions, want execute_python alone", len(tl.Tools))
	}
}
