package main_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRemoteSessionsBoundToTheirClient: bob's valid token and alice's
// session id (which the audit log shows) neither run a call in her session
// nor close it; she keeps using it.
func TestRemoteSessionsBoundToTheirClient(t *testing.T) {
	r := startRemote(t, "", "alice", "bob")
	alice := rawInitialize(t, r, "alice")
	for _, tc := range []struct{ method, body string }{
		{http.MethodPost, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"execute_python","arguments":{"code":"print('bob was here')"}}}`},
		{http.MethodDelete, ""},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+r.addr+"/mcp", strings.NewReader(tc.body))
		rawHeaders(req, r.tokens["bob"], alice)
		code, body := doRequest(t, req)
		if code != http.StatusForbidden || !strings.Contains(body, "opened with another client's token") {
			t.Errorf("bob's %s in alice's session: %d %s", tc.method, code, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":6,"method":"tools/list"}`))
	rawHeaders(req, r.tokens["alice"], alice)
	if code, body := doRequest(t, req); code != http.StatusOK || !strings.Contains(body, "execute_python") {
		t.Errorf("alice's session after bob's attempts: %d %s", code, body)
	}
	r.stop(t)
	if recs := r.auditRecords(t); len(recs) != 0 {
		t.Errorf("audit records %v, want none: bob's call must not have run", recs)
	}
}

// TestRemoteIdleConnectionsDoNotLockOut: with the server held to 128 open
// files, 150 idle connections — each having sent one request without a
// token, like a flood of keep-alive probes — do not keep a client with a
// valid token from connecting, listing the tools and running a call.
func TestRemoteIdleConnectionsDoNotLockOut(t *testing.T) {
	r, args := remoteArgs(t, "limits:\n  max_open_files: 64\n", "alice")
	// dash's ulimit sets the soft and the hard limit, so Go's runtime in
	// the server cannot raise it again.
	cmd := exec.Command("sh", append([]string{"-c", `ulimit -n 128 && exec "$0" "$@"`, airlockBinary(t)}, args...)...)
	r.stderr = &strings.Builder{}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.cmd = cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitFor(30*time.Second, func() bool {
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("the server never became healthy:\n%s", r.stderr)
	}

	for range 150 {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", r.addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a safety net
	defer cancel()
	s := r.connect(t, "alice", nil)
	if tools, err := s.ListTools(ctx, nil); err != nil || len(tools.Tools) != 3 { // execute_python, end_session, list_sessions
		t.Fatalf("tools/list: %+v %v\n%s", tools, err, r.stderr)
	}
	if res, err := call(ctx, s, "6*7"); err != nil || res.IsError || !strings.Contains(contentText(res), "42") {
		t.Fatalf("a call: %+v %v\n%s", res, err, r.stderr)
	}
}

// doRequest sends req and returns its status and body.
func doRequest(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
