package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The end-to-end tests of sessions (issue 11's "Done when"): the built
// binary, driven by the official MCP Go SDK client over stdio and HTTP, on
// the local backend and on Modal (against modaltest).

// sessionResult is the part of execute_python's structured result these
// tests read.
type sessionResult struct {
	Status    string  `json:"status"`
	Stdout    string  `json:"stdout"`
	Stderr    string  `json:"stderr"`
	Result    *string `json:"result"`
	SandboxID string  `json:"sandbox_id"`
	Error     *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	Session *struct {
		Name      string `json:"name"`
		Call      int    `json:"call"`
		Restarted bool   `json:"restarted"`
		Reason    string `json:"reason"`
	} `json:"session"`
}

// listedSession is one entry of list_sessions and of airlock://sessions.
type listedSession struct {
	Name        string `json:"name"`
	Created     string `json:"created"`
	LastUsed    string `json:"last_used"`
	Calls       int    `json:"calls"`
	MemoryBytes *int64 `json:"memory_bytes"`
	ExpiresAt   string `json:"expires_at"`
}

// sessionCaller drives one MCP client's calls.
type sessionCaller struct {
	t *testing.T
	s *mcp.ClientSession
}

// run calls execute_python in session name with code and extra
// arguments and returns its structured result (a call that failed, e.g.
// timed out, has one too); it fails the test on a protocol error or a
// refusal (an isError without a result).
func (c sessionCaller) run(name, code string, extra ...any) sessionResult {
	c.t.Helper()
	res := c.call("execute_python", sessionArgs(name, code, extra...))
	if res.StructuredContent == nil {
		c.t.Fatalf("execute_python in session %q refused: %s", name, contentText(res))
	}
	var out sessionResult
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("structured content %s: %v", raw, err)
	}
	if out.Session == nil || out.Session.Name != name {
		c.t.Fatalf("result does not name session %q: %s", name, raw)
	}
	return out
}

// value runs code and returns its result's repr, failing unless the call
// succeeded.
func (c sessionCaller) value(name, code string) string {
	c.t.Helper()
	out := c.run(name, code)
	if out.Status != "ok" || out.Result == nil {
		c.t.Fatalf("session %q, %q: status %s, error %+v, stderr %q", name, code, out.Status, out.Error, out.Stderr)
	}
	return *out.Result
}

func sessionArgs(name, code string, extra ...any) map[string]any {
	args := map[string]any{"code": code, "session": name}
	for i := 0; i+1 < len(extra); i += 2 {
		args[extra[i].(string)] = extra[i+1]
	}
	return args
}

// call calls tool with args; a protocol error fails the test.
func (c sessionCaller) call(tool string, args map[string]any) *mcp.CallToolResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := c.s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		c.t.Fatalf("%s %v: %v", tool, args, err)
	}
	return res
}

// list returns list_sessions' sessions.
func (c sessionCaller) list() []listedSession {
	c.t.Helper()
	res := c.call("list_sessions", map[string]any{})
	if res.IsError {
		c.t.Fatalf("list_sessions: isError: %s", contentText(res))
	}
	var out struct {
		Sessions []listedSession `json:"sessions"`
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("list_sessions structured content %s: %v", raw, err)
	}
	return out.Sessions
}

// resource returns what airlock://sessions lists.
func (c sessionCaller) resource() []listedSession {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "airlock://sessions"})
	if err != nil {
		c.t.Fatalf("resources/read airlock://sessions: %v", err)
	}
	if len(res.Contents) != 1 {
		c.t.Fatalf("airlock://sessions has %d contents, want 1", len(res.Contents))
	}
	var out struct {
		Sessions []listedSession `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(res.Contents[0].Text), &out); err != nil {
		c.t.Fatalf("airlock://sessions %q: %v", res.Contents[0].Text, err)
	}
	return out.Sessions
}

// summary is what list_sessions and the resource must agree on (the
// memory in use moves between two reads).
func summary(ss []listedSession) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "%s %s %s %d %s %v;", s.Name, s.Created, s.LastUsed, s.Calls, s.ExpiresAt, s.MemoryBytes != nil)
	}
	return b.String()
}

// names lists the sessions' names in order.
func names(ss []listedSession) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

// exercise is what every backend and transport must do with sessions:
// state persists (globals, imports, files), the call count is
// consecutive, a timeout interrupts and keeps the state, list_sessions and
// airlock://sessions agree, a hard exit restarts the session with the flag
// set, end_session ends it and an unknown name is an isError naming the
// live sessions.
func exercise(t *testing.T, c sessionCaller) {
	first := c.run("work", "import json\nx = 41\nopen('/work/note.txt', 'w').write('kept')")
	if first.Status != "ok" || first.Session.Call != 1 || first.Session.Restarted {
		t.Fatalf("first call: status %s, session %+v", first.Status, first.Session)
	}
	if got := c.value("work", "x + 1"); got != "42" {
		t.Errorf("x + 1 in the second call = %s, want 42 (globals persist)", got)
	}
	if got := c.value("work", "json.dumps([open('/work/note.txt').read()])"); got != `'["kept"]'` {
		t.Errorf("imports and files in /work = %s, want '[\"kept\"]'", got)
	}
	if got := c.value("other", "'x' in globals()"); got != "False" {
		t.Errorf("another session sees x: %s", got)
	}

	timedOut := c.run("work", "import time\ntime.sleep(600)", "timeout_s", 1)
	if timedOut.Status != "timeout" || timedOut.Session.Call != 4 {
		t.Errorf("a call past its timeout: status %s, session %+v", timedOut.Status, timedOut.Session)
	}
	after := c.run("work", "x")
	if after.Status != "ok" || after.Result == nil || *after.Result != "41" || after.Session.Restarted || after.Session.Call != 5 {
		t.Errorf("after an interrupted call: %+v result %v session %+v", after.Status, after.Result, after.Session)
	}

	listed, resource := c.list(), c.resource()
	if names(listed) != "other,work" && names(listed) != "work,other" {
		t.Errorf("list_sessions = %q, want work and other", names(listed))
	}
	for _, s := range listed {
		if s.Name == "work" && s.Calls != 5 {
			t.Errorf("list_sessions says work had %d calls, want 5", s.Calls)
		}
		if s.Created == "" || s.LastUsed == "" || s.ExpiresAt == "" {
			t.Errorf("list_sessions entry without times: %+v", s)
		}
	}
	if summary(listed) != summary(resource) {
		t.Errorf("list_sessions and airlock://sessions disagree:\n%+v\n%+v", listed, resource)
	}

	crashed := c.run("work", "import os\nos._exit(3)")
	if crashed.Status == "ok" {
		t.Errorf("os._exit in a session reported ok")
	}
	restarted := c.run("work", "'x' in globals()")
	if !restarted.Session.Restarted || restarted.Session.Reason == "" || restarted.Session.Call != 1 {
		t.Errorf("the call after a hard exit: session %+v, want restarted with a reason, call 1", restarted.Session)
	}
	if restarted.Result == nil || *restarted.Result != "False" {
		t.Errorf("state survived a restart: %v", restarted.Result)
	}

	if res := c.call("end_session", map[string]any{"session": "work"}); res.IsError {
		t.Errorf("end_session work: %s", contentText(res))
	}
	unknown := c.call("end_session", map[string]any{"session": "work"})
	if !unknown.IsError || !strings.Contains(contentText(unknown), "other") {
		t.Errorf("ending an unknown session: isError %v, %q (want the live sessions named)", unknown.IsError, contentText(unknown))
	}
	if got := names(c.list()); got != "other" {
		t.Errorf("after end_session, list_sessions = %q, want other", got)
	}
}

// TestSessionsOverStdio: sessions on the local backend over stdio.
func TestSessionsOverStdio(t *testing.T) {
	exercise(t, sessionCaller{t, connect(t)})
}

// TestSessionsOverHTTP: sessions on the local backend over HTTP; two
// tokens using one session name each get their own session, and a client
// reconnecting with its token in a new MCP session finds its sessions.
func TestSessionsOverHTTP(t *testing.T) {
	r := startRemote(t, "", "alice", "bob")
	alice := sessionCaller{t, r.connect(t, "alice", nil)}
	exercise(t, alice)

	bob := sessionCaller{t, r.connect(t, "bob", nil)}
	alice.run("shared", "secret = 'alice'")
	if got := bob.value("shared", "'secret' in globals()"); got != "False" {
		t.Errorf("bob's session of the same name sees alice's state: %s", got)
	}
	bob.run("shared", "secret = 'bob'")
	if got := alice.value("shared", "secret"); got != "'alice'" {
		t.Errorf("alice's secret = %s after bob set his", got)
	}
	if got := names(bob.list()); got != "shared" {
		t.Errorf("bob lists %q, want only his own session", got)
	}

	again := sessionCaller{t, r.connect(t, "alice", nil)}
	if got := again.value("shared", "secret"); got != "'alice'" {
		t.Errorf("alice reconnected finds %s, want 'alice'", got)
	}
}

// TestSessionLimitsEndToEnd: over max_per_client a new session is an
// isError naming the limit and what to do.
func TestSessionLimitsEndToEnd(t *testing.T) {
	r := startRemote(t, "sessions:\n  max_per_client: 1\n", "alice")
	c := sessionCaller{t, r.connect(t, "alice", nil)}
	c.value("one", "1")
	res := c.call("execute_python", sessionArgs("two", "1"))
	if !res.IsError || !strings.Contains(contentText(res), "max_per_client") || !strings.Contains(contentText(res), "end_session") {
		t.Errorf("a second session over max_per_client 1: isError %v, %q", res.IsError, contentText(res))
	}
	if res := c.call("end_session", map[string]any{"session": "one"}); res.IsError {
		t.Fatalf("end_session one: %s", contentText(res))
	}
	if two := c.run("two", "1"); two.Status != "ok" {
		t.Errorf("a session after ending the other: %+v", two)
	}
}

// TestSessionExpiryEndToEnd: an idle session expires on the server's own
// clock and is gone from list_sessions; its name then starts a new one.
func TestSessionExpiryEndToEnd(t *testing.T) {
	// No rate limit: the test asks list_sessions until the session is gone.
	r := startRemote(t, "limits:\n  calls_per_minute: 0\nsessions:\n  idle_ttl_s: 1\n", "alice")
	c := sessionCaller{t, r.connect(t, "alice", nil)}
	c.run("brief", "x = 1")
	// Expiry is an event the server decides on its own clock: wait for it
	// (the safety net is generous, not the thing asserted).
	if !waitFor(90*time.Second, func() bool { return len(c.list()) == 0 }) {
		t.Fatalf("the idle session never expired: %+v", c.list())
	}
	if again := c.run("brief", "'x' in globals()"); again.Session.Call != 1 || again.Result == nil || *again.Result != "False" {
		t.Errorf("a session started after expiry: %+v result %v", again.Session, again.Result)
	}
}

// TestModalSessionsOverStdio: sessions on Modal (against modaltest) over
// stdio, as on the local backend.
func TestModalSessionsOverStdio(t *testing.T) {
	srv := startModalCP(t)
	server := connectEnv(t, srv.ClientEnv(), "--backend", "modal")
	exercise(t, sessionCaller{t, server.session})
}

// TestModalSessionsOverHTTP: on Modal over HTTP, two tokens using one
// session name get two sandboxes that do not see each other's state.
func TestModalSessionsOverHTTP(t *testing.T) {
	srv := startModalCP(t)
	srv.SetEnv(t)
	r, args := remoteArgs(t, "", "alice", "bob")
	r.cmd, r.stderr = startHTTPServer(t, http.DefaultClient, "http://"+r.addr+"/healthz", append([]string{"--backend", "modal"}, args...)...)
	alice := sessionCaller{t, r.connect(t, "alice", nil)}
	bob := sessionCaller{t, r.connect(t, "bob", nil)}
	alice.run("shared", "secret = 'alice'")
	if got := bob.value("shared", "'secret' in globals()"); got != "False" {
		t.Errorf("bob's session of the same name sees alice's state: %s", got)
	}
	if got := alice.value("shared", "secret"); got != "'alice'" {
		t.Errorf("alice's secret = %s", got)
	}
	if got := names(bob.list()); got != "shared" {
		t.Errorf("bob lists %q, want his own session only", got)
	}
}

// TestModalSessionFoundAfterRestart: a session on Modal survives the
// server that started it — a new server process (as Claude Desktop
// restarts them) finds the session's sandbox by its tags and continues
// with its state and its call count; ending it terminates the sandbox.
func TestModalSessionFoundAfterRestart(t *testing.T) {
	srv := startModalCP(t)
	first := connectEnv(t, srv.ClientEnv(), "--backend", "modal")
	c := sessionCaller{t, first.session}
	c.run("keep", "x = 41")
	first.shutdown()

	second := connectEnv(t, srv.ClientEnv(), "--backend", "modal")
	c = sessionCaller{t, second.session}
	if got := names(c.list()); got != "keep" {
		t.Errorf("a restarted server lists %q, want keep", got)
	}
	out := c.run("keep", "x + 1")
	if out.Result == nil || *out.Result != "42" || out.Session.Restarted || out.Session.Call != 2 {
		t.Fatalf("after a server restart: result %v, session %+v, stderr %q", out.Result, out.Session, out.Stderr)
	}
	if res := c.call("end_session", map[string]any{"session": "keep"}); res.IsError {
		t.Fatalf("end_session: %s", contentText(res))
	}
	if err := awaitModal(srv, func() bool { return modalSandboxFinished(srv, out.SandboxID) }); err != nil {
		t.Errorf("the session's sandbox outlived end_session: %v", err)
	}
}

// modalSandboxFinished reports whether sandbox id has finished: terminated,
// with its processes gone.
func modalSandboxFinished(srv *modaltest.Server, id string) bool {
	for _, sb := range srv.Sandboxes() {
		if sb.ID == id {
			return !sb.Live && sb.Status != pb.GenericResult_GENERIC_STATUS_UNSPECIFIED
		}
	}
	return false
}

// TestModalSessionsEndOnShutdown: with sessions.end_on_shutdown the server
// ends its Modal sessions when it stops, terminating their sandboxes
// (without it they stay: TestModalSessionFoundAfterRestart).
func TestModalSessionsEndOnShutdown(t *testing.T) {
	srv := startModalCP(t)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("sessions:\n  end_on_shutdown: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	server := connectEnv(t, srv.ClientEnv(), "--backend", "modal", "--policy", policy)
	out := sessionCaller{t, server.session}.run("brief", "x = 1")
	server.shutdown()
	if err := awaitModal(srv, func() bool { return modalSandboxFinished(srv, out.SandboxID) }); err != nil {
		t.Errorf("the session's sandbox outlived a server with end_on_shutdown: %v", err)
	}
}
