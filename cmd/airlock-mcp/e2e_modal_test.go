package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// startModalCP starts the test Modal control plane. The binary reaches it
// through the environment modaltest.Server.ClientEnv gives.
func startModalCP(t *testing.T) *modaltest.Server {
	t.Helper()
	python := os.Getenv("AIRLOCK_TEST_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	srv, err := modaltest.Start(modaltest.Options{Python: python})
	if err != nil {
		t.Fatalf("modaltest.Start: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// stdioServer is the binary serving MCP over stdio to a connected client.
type stdioServer struct {
	session *mcp.ClientSession
	cmd     *exec.Cmd
	// shutdown closes the session and waits for the server to exit. The
	// client closes its side once the calls it has in flight return.
	shutdown func()
	// stderr is the server's log; read it only once shutdown has returned.
	stderr *strings.Builder
}

// connectEnv starts the binary with extra environment and connects the
// official MCP Go SDK client to it over stdio.
func connectEnv(t *testing.T, env []string, args ...string) stdioServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.Command(airlockBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "airlock-e2e-modal", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nserver stderr:\n%s", err, stderr.String())
	}
	closed := false
	shutdown := func() {
		if closed {
			return
		}
		closed = true
		session.Close()
		_ = cmd.Wait()
	}
	t.Cleanup(func() {
		shutdown()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	})
	return stdioServer{session: session, cmd: cmd, shutdown: shutdown, stderr: stderr}
}

type structured struct {
	Status  string  `json:"status"`
	Stdout  string  `json:"stdout"`
	Result  *string `json:"result"`
	Backend string  `json:"backend"`
}

func structuredOf(t *testing.T, res *mcp.CallToolResult) structured {
	t.Helper()
	raw, _ := json.Marshal(res.StructuredContent)
	var out structured
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("structured content %s: %v", raw, err)
	}
	return out
}

// TestModalBackendEndToEnd runs `airlock-mcp --backend modal` against the
// test control plane, driven by the official MCP Go SDK client: the tool
// describes the Modal sandbox, a call runs there and its sandbox is gone
// after it, Modal's failures come back as isError text for the operator,
// a cancelled call's sandbox is terminated, and shutting the server down
// leaves nothing alive.
func TestModalBackendEndToEnd(t *testing.T) {
	srv := startModalCP(t)
	server := connectEnv(t, srv.ClientEnv(), "--backend", "modal")
	session := server.session
	ctx := context.Background()

	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	var description string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		if tool.Name == "execute_python" {
			description = tool.Description
		}
	}
	if strings.Join(names, ",") != "end_session,execute_python,list_sessions" {
		t.Fatalf("tools/list = %v, want execute_python and the session tools (Modal keeps sessions)", names)
	}
	if d := description; !strings.Contains(d, "cloud sandbox (a Modal container)") || !strings.Contains(d, "Network: none (no network at all).") {
		t.Errorf("description does not describe the Modal sandbox: %q", d)
	}

	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "print('hi')\n6*7"}})
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	out := structuredOf(t, res)
	if res.IsError || out.Status != "ok" || out.Stdout != "hi\n" || out.Result == nil || *out.Result != "42" || out.Backend != "modal" {
		t.Errorf("call: isError=%v %+v", res.IsError, out)
	}
	// The answer does not wait for the sandbox's termination, which runs in
	// the background: wait for it.
	if err := awaitModal(srv, func() bool { return srv.LiveSandboxes() == 0 }); err != nil || srv.CreatedSandboxes() != 1 {
		t.Errorf("after one call: %d created, %d live; want 1 and 0 (%v)", srv.CreatedSandboxes(), srv.LiveSandboxes(), err)
	}

	// Quota: an isError result that says what happened and what to do.
	srv.FailCreates(1, status.Error(codes.ResourceExhausted, "sandbox quota exceeded"))
	res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "1"}})
	if err != nil {
		t.Fatalf("tools/call under a quota error: %v", err)
	}
	if text := contentText(res); !res.IsError || !strings.Contains(text, "Modal refused to create a sandbox for lack of capacity or quota (Modal said: sandbox quota exceeded)") || strings.Contains(text, "rpc error") {
		t.Errorf("quota error: isError=%v text %q", res.IsError, text)
	}

	// A cancelled call: the client gives up once the code runs, the server
	// terminates the sandbox (the call's timeout is far enough away that
	// only the cancellation can end it).
	const sleepCode = "import time\nprint('running', flush=True)\ntime.sleep(600)"
	cctx, cancel := context.WithCancel(ctx)
	running := make(chan error, 1)
	go func() {
		running <- awaitModal(srv, func() bool { return modalStdoutHas(srv, "running\n") })
		cancel()
	}()
	_, err = session.CallTool(cctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": sleepCode, "timeout_s": 300}})
	if err := <-running; err != nil {
		t.Fatalf("the code of the call to cancel never ran: %v", err)
	}
	if err == nil {
		t.Error("the cancelled call returned no error")
	}
	if err := awaitModal(srv, func() bool { return modalAllFinished(srv) }); err != nil {
		t.Errorf("after cancellation: %d sandboxes alive: %v", srv.LiveSandboxes(), err)
	}
	if n := srv.LiveProcesses(); n != 0 {
		t.Errorf("after cancellation: %d processes alive", n)
	}

	// Shutdown (SIGTERM, as a service manager sends) under a running call
	// terminates its sandbox; the call's timeout is far enough away that
	// only the shutdown can end it. (Closing the session would not do: the
	// client closes the server's stdin only once its calls in flight return.)
	last := make(chan error, 1)
	go func() {
		_, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": sleepCode, "timeout_s": 300}})
		last <- err
	}()
	if err := awaitModal(srv, func() bool { return modalStdoutHas(srv, "running\n") }); err != nil {
		t.Fatalf("the last call never started: %v", err)
	}
	if err := server.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-last: // the server answered it, or went away under it
	case <-time.After(time.Minute):
		t.Fatal("the call in flight outlived the server's shutdown")
	}
	server.shutdown()
	if n := srv.LiveSandboxes(); n != 0 {
		t.Fatalf("after shutdown: %d sandboxes alive", n)
	}
	if err := awaitModal(srv, func() bool { return modalAllFinished(srv) }); err != nil {
		t.Errorf("after shutdown: %v", err)
	}
	if n := srv.LiveProcesses(); n != 0 {
		t.Errorf("after shutdown: %d processes alive", n)
	}
}

// awaitModal waits, on the test control plane's own events, until cond
// holds; the minute is only a safety net.
func awaitModal(srv *modaltest.Server, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return srv.Await(ctx, cond)
}

// modalStdoutHas reports whether the code in a live sandbox wrote want to
// its stdout.
func modalStdoutHas(srv *modaltest.Server, want string) bool {
	for _, sb := range srv.Sandboxes() {
		if sb.Live && strings.Contains(sb.Stdout, want) {
			return true
		}
	}
	return false
}

// modalAllFinished reports whether every sandbox has finished: terminated,
// with its processes gone.
func modalAllFinished(srv *modaltest.Server) bool {
	for _, sb := range srv.Sandboxes() {
		if sb.Live || sb.Status == pb.GenericResult_GENERIC_STATUS_UNSPECIFIED {
			return false
		}
	}
	return true
}

// TestModalMissingCredentialsEndToEnd: without credentials the server
// still starts, says so in its log, and each call gets an isError result
// telling the operator what to set.
func TestModalMissingCredentialsEndToEnd(t *testing.T) {
	srv := startModalCP(t)
	env := append(srv.ClientEnv(), "MODAL_TOKEN_ID=", "MODAL_TOKEN_SECRET=")
	session := connectEnv(t, env, "--backend", "modal").session
	res, err := session.CallTool(context.Background(), &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "1"}})
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	if text := contentText(res); !res.IsError || !strings.Contains(text, "Modal credentials are not configured: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET") {
		t.Errorf("missing credentials: isError=%v text %q", res.IsError, text)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("%d calls reached Modal without credentials", n)
	}
}

// TestDefaultBackendIsLocalWithModalCredentials pins that Modal is never
// chosen automatically: with working Modal credentials in the environment
// and no --backend, calls run on the local backend and nothing reaches
// Modal.
func TestDefaultBackendIsLocalWithModalCredentials(t *testing.T) {
	srv := startModalCP(t)
	server := connectEnv(t, srv.ClientEnv())
	res, err := server.session.CallTool(context.Background(), &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "1+1"}})
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	if out := structuredOf(t, res); out.Backend != "local" {
		t.Errorf("backend %q without --backend, want local", out.Backend)
	}
	server.shutdown()
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("the default backend called Modal %d times: %v", n, srv.MethodNames())
	}
}

// TestBackendPolicyChecks: a policy a backend cannot honour stops startup
// with the rule and the reason; doctor --backend modal reports the
// credentials without calling Modal, and the policy as Modal applies it.
func TestBackendPolicyChecks(t *testing.T) {
	srv := startModalCP(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	egress := write("egress.yaml", "network:\n  allow_egress: true\n")
	port80 := write("port80.yaml", "network:\n  allow_egress: true\n  allow:\n    - {host: pypi.org, ports: [80, 443]}\n")
	advisory := write("advisory.yaml", "network:\n  allow_egress: true\n  on_unenforceable: advisory\n  allow:\n    - {host: pypi.org, ports: [80, 443]}\n")
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantExit int
		want     []string
		not      []string
	}{
		{"local runs with egress through the Airlock proxy", []string{"--policy", egress, "run", "-"}, nil, 0, []string{"2"}, nil},
		{"modal refuses a port-80 host rule", []string{"--policy", port80, "--backend", "modal", "run", "-"}, srv.ClientEnv(), 2,
			[]string{"/network/allow/0: rule network.allow[0] (host pypi.org, ports 80, 443) cannot be enforced on Modal: Modal's domain allowlist admits only TLS on port 443", "on_unenforceable: advisory"}, nil},
		{"modal runs an advisory policy and says so in the result", []string{"--policy", advisory, "--backend", "modal", "--json", "run", "-"}, srv.ClientEnv(), 0,
			[]string{`"enforcement": "modal-advisory"`, "were only checked statically"}, nil},
		{"modal runs open egress", []string{"--policy", egress, "--backend", "modal", "run", "-"}, srv.ClientEnv(), 0,
			[]string{"2"}, nil},
		{"doctor modal with credentials", []string{"--backend", "modal", "doctor"}, srv.ClientEnv(), 0,
			[]string{"[ok]  credentials  found in the environment (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET)", "github.com/modal-labs/modal-client/go v0.11.1", "The Modal backend is configured",
				"processes and scratch space not capped", "\nmodal: app airlock-mcp (environment: the profile's), image python:3.12-slim;"},
			[]string{"python: ", "warm sandbox"}},
		{"doctor modal without credentials", []string{"--backend", "modal", "doctor"}, append(srv.ClientEnv(), "MODAL_TOKEN_ID=", "MODAL_TOKEN_SECRET="), 1,
			[]string{"[FAILED]  credentials  Modal credentials are not configured"}, nil},
		{"doctor local with egress checks the proxy", []string{"--policy", egress, "doctor"}, nil, 0,
			[]string{"Airlock proxy: a network namespace with only loopback", "answered inside a sandbox", "\npython: /usr/bin/python3 (the default)", "\n[ok]  python packages "}, []string{"modal: app"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetRequests()
			cmd := exec.Command(airlockBinary(t), tc.args...)
			cmd.Env = append(os.Environ(), tc.env...)
			cmd.Stdin = strings.NewReader("1+1")
			out, _ := cmd.CombinedOutput()
			if got := cmd.ProcessState.ExitCode(); got != tc.wantExit {
				t.Errorf("exit %d, want %d\n%s", got, tc.wantExit, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(out), n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
			if strings.Contains(tc.name, "doctor") && len(srv.Calls()) != 0 {
				t.Errorf("doctor called Modal: %v", srv.MethodNames())
			}
		})
	}
	if srv.LiveSandboxes() != 0 {
		t.Errorf("%d sandboxes alive", srv.LiveSandboxes())
	}
}
