package tools_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/sessions"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// sessionTools are the three tools of a server offering sessions on a fake
// session backend.
type sessionTools struct {
	backend            *sandboxtest.SessionBackend
	execute, end, list tools.Tool
}

// newSessionTools builds the tools with sessions under p on a fake
// backend.
func newSessionTools(t *testing.T, p *policy.Policy) sessionTools {
	t.Helper()
	b := &sandboxtest.SessionBackend{}
	reg, err := sessions.New(sessions.Options{Config: tools.SessionsConfig(p), Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(true) })
	all, err := tools.All(p, b, tools.Sessions{Registry: reg}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[1].Definition.Name != tools.EndSessionName || all[2].Definition.Name != tools.ListSessionsName {
		t.Fatalf("tools with sessions: %d tools, want execute_python, end_session, list_sessions", len(all))
	}
	return sessionTools{backend: b, execute: all[0], end: all[1], list: all[2]}
}

// callAs is the record of a call of tool by client with args.
func callAs(tool, client, args string) *tools.Call {
	var req mcp.CallToolRequest
	req.Params.Name = tool
	req.Params.RawArguments = json.RawMessage(args)
	c := tools.NewCall(req)
	c.Client = client
	return c
}

// structured checks res's structured content against tool's output
// schema, as a client would, and returns it as JSON values.
func structured(t *testing.T, tool tools.Tool, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tool.Output.Validate(v); err != nil {
		t.Errorf("%s result does not match its output schema: %v\n%s", tool.Definition.Name, err, b)
	}
	m, _ := v.(map[string]any)
	return m
}

// TestExecutePythonInASession: with the session argument, calls of one
// client share an interpreter, the result and its text say which call of
// which session it was, another client's session of the same name is its
// own, the record names the session, and calls without the argument still
// run in a fresh sandbox.
func TestExecutePythonInASession(t *testing.T) {
	st := newSessionTools(t, policy.Default())
	steps := []struct {
		client, args string
		wantResult   string
		wantCall     int
	}{
		{"alice", `{"code":"x = 41","session":"data"}`, "", 1},
		{"alice", `{"code":"x","session":"data"}`, "41", 2},
		{"bob", `{"code":"x","session":"data"}`, "NameError", 1},
	}
	for i, s := range steps {
		c := callAs(tools.ExecutePythonName, s.client, s.args)
		res := st.execute.Handler(context.Background(), c)
		m := structured(t, st.execute, res)
		got := ""
		if r, ok := m["result"].(string); ok {
			got = r
		} else if e, ok := m["error"].(map[string]any); ok {
			got, _ = e["type"].(string)
		}
		session, _ := m["session"].(map[string]any)
		if got != s.wantResult || session["name"] != "data" || session["call"] != json.Number(strconv.Itoa(s.wantCall)) || session["restarted"] != false {
			t.Errorf("step %d: result %q, session %v; want %q in call %d of data", i+1, got, session, s.wantResult, s.wantCall)
		}
		if want := `[session "data", call ` + strconv.Itoa(s.wantCall) + "]"; !strings.HasSuffix(text(t, res), want) {
			t.Errorf("step %d: text %q does not end with %q", i+1, text(t, res), want)
		}
		if c.SessionName != "data" || c.Result == nil || c.Result.Session == nil {
			t.Errorf("step %d: the call's record names session %q, result %+v", i+1, c.SessionName, c.Result)
		}
	}
	if n := st.backend.Calls(); n != 0 {
		t.Errorf("%d fresh sandboxes ran for session calls", n)
	}
	res := st.execute.Handler(context.Background(), callAs(tools.ExecutePythonName, "alice", `{"code":"print(1)"}`))
	if r, ok := res.StructuredContent.(tools.ExecuteResult); !ok || r.Session != nil || st.backend.Calls() != 1 {
		t.Errorf("a call without session: %+v, %d fresh calls; want a result without session, 1 fresh call", res.StructuredContent, st.backend.Calls())
	}
}

// TestSessionRestartAndEndInTheText: a call that kills its session's
// interpreter says so, and the next call is told its state was lost.
func TestSessionRestartAndEndInTheText(t *testing.T) {
	st := newSessionTools(t, policy.Default())
	run := func(code string) string {
		return text(t, st.execute.Handler(context.Background(), callAs(tools.ExecutePythonName, "alice", `{"code":"`+code+`","session":"s"}`)))
	}
	run("x = 1")
	if got := run("crash"); !strings.Contains(got, `[session "s" ended during this call (`+sandboxtest.CrashReason+`)`) {
		t.Errorf("the crashing call's text %q does not say the session ended", got)
	}
	if got := run("x"); !strings.Contains(got, `[session "s" was restarted before this call, so the variables, imports and files of its earlier calls are gone: `+sandboxtest.CrashReason+"]") {
		t.Errorf("the next call's text %q does not say the session restarted", got)
	}
}

// TestSessionRefusals: a session argument on a server without sessions,
// and a session over the per-client limit, are isError results saying
// why and what to do, recorded as refusals, and run nothing.
func TestSessionRefusals(t *testing.T) {
	fb := &sandboxtest.Backend{}
	off, err := tools.ExecutePython(policy.Default(), fb, tools.Sessions{Off: "the modal backend does not keep sessions"}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c := callAs(tools.ExecutePythonName, "alice", `{"code":"x = 1","session":"s"}`)
	res := off.Handler(context.Background(), c)
	want := "Sessions are not available on this server: the modal backend does not keep sessions; leave out the session argument"
	if !res.IsError || !strings.Contains(text(t, res), want) || !c.Denied || fb.Calls() != 0 {
		t.Errorf("session on a server without sessions: isError %v, %q, denied %v, %d calls ran; want a refusal containing %q", res.IsError, text(t, res), c.Denied, fb.Calls(), want)
	}

	p := policy.Default()
	p.Sessions.MaxPerClient = 1
	st := newSessionTools(t, p)
	st.execute.Handler(context.Background(), callAs(tools.ExecutePythonName, "alice", `{"code":"x = 1","session":"a"}`))
	c = callAs(tools.ExecutePythonName, "alice", `{"code":"x = 1","session":"b"}`)
	res = st.execute.Handler(context.Background(), c)
	if !res.IsError || !strings.Contains(text(t, res), "sessions.max_per_client") || !strings.Contains(text(t, res), "end_session") ||
		!c.Denied || c.Rule != sessions.LimitPerClient || c.Category != "sessions" || len(st.backend.Started()) != 1 {
		t.Errorf("over max_per_client: isError %v, %q, denied %v rule %q; want a refusal naming the limit and end_session", res.IsError, text(t, res), c.Denied, c.Rule)
	}
}

// TestEndAndListSessions: list_sessions shows the caller's sessions only,
// end_session ends one (a later call starts afresh), and ending an unknown
// session is an isError naming the live ones.
func TestEndAndListSessions(t *testing.T) {
	st := newSessionTools(t, policy.Default())
	for _, s := range []struct{ client, name string }{{"alice", "a"}, {"alice", "b"}, {"bob", "c"}} {
		st.execute.Handler(context.Background(), callAs(tools.ExecutePythonName, s.client, `{"code":"x = 1","session":"`+s.name+`"}`))
	}
	list := func(client string) (map[string]any, string) {
		res := st.list.Handler(context.Background(), callAs(tools.ListSessionsName, client, `{}`))
		if res.IsError {
			t.Fatalf("list_sessions: %s", text(t, res))
		}
		return structured(t, st.list, res), text(t, res)
	}
	m, txt := list("alice")
	got := m["sessions"].([]any)
	if len(got) != 2 || got[0].(map[string]any)["name"] != "a" || got[1].(map[string]any)["name"] != "b" || got[0].(map[string]any)["memory_bytes"] != nil {
		t.Errorf("alice's sessions: %v, want a and b with unknown memory", got)
	}
	if !strings.Contains(txt, `You have 2 live sessions of at most 4:`) || !strings.Contains(txt, `- "a": 1 call, memory unknown`) {
		t.Errorf("list text %q", txt)
	}

	c := callAs(tools.EndSessionName, "alice", `{"session":"c"}`)
	res := st.end.Handler(context.Background(), c)
	if want := `There is no session "c" to end; your live sessions are "a" and "b".`; !res.IsError || text(t, res) != want {
		t.Errorf("ending bob's session as alice: %q, want isError %q", text(t, res), want)
	}
	res = st.end.Handler(context.Background(), callAs(tools.EndSessionName, "alice", `{"session":"a"}`))
	if m := structured(t, st.end, res); res.IsError || m["ended"] != true || m["calls"] != json.Number("1") {
		t.Errorf("end_session a: %q, %v", text(t, res), m)
	}
	if m, _ := list("alice"); len(m["sessions"].([]any)) != 1 {
		t.Errorf("after end_session: %v", m["sessions"])
	}
	if m, _ := list("bob"); len(m["sessions"].([]any)) != 1 || st.backend.Started()[2].CloseCount() != 0 {
		t.Errorf("bob's sessions after alice's calls: %v", m["sessions"])
	}
	res = st.execute.Handler(context.Background(), callAs(tools.ExecutePythonName, "alice", `{"code":"x","session":"a"}`))
	if m := structured(t, st.execute, res); m["error"] == nil || m["session"].(map[string]any)["restarted"] != false {
		t.Errorf("a call after end_session: %v; want a fresh interpreter (NameError), not reported as a restart", m)
	}
}
