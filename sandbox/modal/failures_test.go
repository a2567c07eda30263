package modal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestFailures injects each failure the operator must be told about and
// checks the error Execute returns: its kind, its exact or partial text
// (what happened, what to do), that it quotes no raw gRPC status and no
// secret, that no sandbox is left alive, and that the backend recovers
// once the fault is gone.
func TestFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault func(t *testing.T, srv *modaltest.Server)
		heal  func(t *testing.T, srv *modaltest.Server)
		kind  error
		want  string   // exact text, when set
		parts []string // substrings, when want is not set
		// rpcs: whether the backend may call the control plane at all.
		noRPC bool
	}{
		{name: "missing credentials",
			fault: func(t *testing.T, srv *modaltest.Server) {
				t.Setenv("MODAL_TOKEN_ID", "")
				t.Setenv("MODAL_TOKEN_SECRET", "")
			},
			heal: func(t *testing.T, srv *modaltest.Server) { srv.SetEnv(t) },
			kind: ErrNoCredentials, noRPC: true,
			want: "Modal credentials are not configured: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET in airlock-mcp's environment, or run `modal token new` to write a profile to ~/.modal.toml (MODAL_CONFIG_PATH names another file)"},
		{name: "authentication failure",
			fault: func(t *testing.T, srv *modaltest.Server) { srv.SetTokens("ak-someone-else", "as-someone-else") },
			heal: func(t *testing.T, srv *modaltest.Server) {
				srv.SetTokens(modaltest.DefaultTokenID, modaltest.DefaultTokenSecret)
			},
			kind: ErrAuth,
			parts: []string{"Modal rejected the credentials from the environment (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET) (Modal said: ",
				"): they are wrong, revoked or for another workspace; create a new token with `modal token new`, or fix MODAL_TOKEN_ID and MODAL_TOKEN_SECRET, then retry"}},
		{name: "image build failure",
			fault: func(t *testing.T, srv *modaltest.Server) {
				srv.FailImageBuilds(-1, "manifest for python:3.12-slim not found")
			},
			heal: func(t *testing.T, srv *modaltest.Server) { srv.FailImageBuilds(0, "") },
			kind: ErrImage,
			parts: []string{`Modal could not build the image "python:3.12-slim" (policy backend.modal.image; Modal said: RemoteError: Image build for `,
				"manifest for python:3.12-slim not found): check that the reference exists in a public registry and that the image provides python3"}},
		{name: "quota exhausted",
			fault: func(t *testing.T, srv *modaltest.Server) {
				srv.FailCreates(-1, status.Error(codes.ResourceExhausted, "workspace sandbox limit reached"))
			},
			heal: func(t *testing.T, srv *modaltest.Server) { srv.ClearFaults() },
			kind: ErrCapacity,
			want: "Modal refused to create a sandbox for lack of capacity or quota (Modal said: workspace sandbox limit reached): retry later, lower limits.max_concurrent or backend.modal.pool_size, or raise the workspace's limits on modal.com"},
		// Modal uses PermissionDenied for the plan too, not only for
		// credentials: both are named, and Modal's own words quoted.
		{name: "permission denied",
			fault: func(t *testing.T, srv *modaltest.Server) {
				srv.FailCreates(-1, status.Error(codes.PermissionDenied, "Sandboxes with more than 8 CPUs are not available on the Starter plan"))
			},
			heal: func(t *testing.T, srv *modaltest.Server) { srv.ClearFaults() },
			kind: ErrPermission,
			want: "Modal refused the request (Modal said: Sandboxes with more than 8 CPUs are not available on the Starter plan): either the credentials from the environment (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET) may not do this (a token for another workspace, or one whose rights were restricted or revoked), or the workspace's plan does not allow it (a resource, region or feature it lacks); Modal's words above say which: check the plan on modal.com, or create a new token with `modal token new`"},
		{name: "sandbox create failure",
			fault: func(t *testing.T, srv *modaltest.Server) {
				srv.FailCreates(-1, status.Error(codes.InvalidArgument, "invalid sandbox definition"))
			},
			heal: func(t *testing.T, srv *modaltest.Server) { srv.ClearFaults() },
			kind: ErrCreate,
			want: `Modal could not create a sandbox (Modal said: invalid sandbox definition): retry; if it persists, check the App "airlock-test" on modal.com and https://status.modal.com`},
		{name: "exec start failure",
			fault: func(t *testing.T, srv *modaltest.Server) {
				srv.FailRPC("TaskExecStart", -1, status.Error(codes.FailedPrecondition, "executable not found: python3"))
			},
			heal: func(t *testing.T, srv *modaltest.Server) { srv.ClearFaults() },
			kind: ErrExec,
			want: `Modal could not start Python in the sandbox (Modal said: executable not found: python3): check that the image "python:3.12-slim" provides python3 on its PATH, then retry`},
		{name: "environment not found",
			fault: func(t *testing.T, srv *modaltest.Server) {
				srv.FailRPC("AppGetOrCreate", -1, status.Error(codes.NotFound, "Environment 'staging' not found"))
			},
			heal: func(t *testing.T, srv *modaltest.Server) { srv.ClearFaults() },
			kind: ErrApp,
			// The SDK replaces the server's message with its own.
			want: `Modal could not open the App "airlock-test" in environment "(the profile's default)" (Modal said: NotFoundError: App 'airlock-test' not found): check backend.modal.environment names an environment of the workspace`},
		{name: "Modal unreachable",
			fault: func(t *testing.T, srv *modaltest.Server) { t.Setenv("MODAL_SERVER_URL", "http://127.0.0.1:1") },
			heal:  func(t *testing.T, srv *modaltest.Server) { srv.SetEnv(t) },
			kind:  ErrUnreachable, noRPC: true,
			parts: []string{"cannot reach Modal at http://127.0.0.1:1 (dial tcp 127.0.0.1:1: connect: connection refused): check this machine's network access to Modal and https://status.modal.com, then retry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startCP(t, modaltest.Options{})
			tt.fault(t, srv)
			b := newBackend(t, srv, baseOptions())
			_, err := b.Execute(testContext(t), sandbox.Request{Code: "print(1)", Limits: callLimits})
			if err == nil {
				t.Fatal("Execute succeeded despite the fault")
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %q is not %v", err, tt.kind)
			}
			text := err.Error()
			if tt.want != "" && text != tt.want {
				t.Errorf("error =\n%s\nwant\n%s", text, tt.want)
			}
			for _, p := range tt.parts {
				if !strings.Contains(text, p) {
					t.Errorf("error %q lacks %q", text, p)
				}
			}
			for _, bad := range []string{"rpc error", "desc =", "code =", modaltest.DefaultTokenSecret, "as-someone-else"} {
				if strings.Contains(text, bad) {
					t.Errorf("error %q contains %q", text, bad)
				}
			}
			if tt.noRPC && len(srv.Calls()) != 0 {
				t.Errorf("the control plane got %v; want no call", srv.MethodNames())
			}
			awaitGone(t, b, srv)
			// Fixed without a restart: the next call connects again.
			tt.heal(t, srv)
			res, err := b.Execute(testContext(t), sandbox.Request{Code: "print(1)", Limits: callLimits})
			if err != nil || res.Status != sandbox.StatusOK || res.Stdout != "1\n" {
				t.Errorf("after the fault was fixed: %+v, %v", res, err)
			}
		})
	}
}

// TestRevokedTokenRecoversWithNewProfile: a token revoked while the server
// runs fails calls with the authentication error; once the operator writes
// a new token to the profile, the next calls reconnect with it, without a
// restart.
func TestRevokedTokenRecoversWithNewProfile(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	config := filepath.Join(t.TempDir(), "modal.toml")
	writeProfile := func(id, secret string) {
		body := fmt.Sprintf("[default]\ntoken_id = %q\ntoken_secret = %q\nactive = true\n", id, secret)
		if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeProfile(modaltest.DefaultTokenID, modaltest.DefaultTokenSecret)
	t.Setenv("MODAL_CONFIG_PATH", config)
	t.Setenv("MODAL_TOKEN_ID", "")
	t.Setenv("MODAL_TOKEN_SECRET", "")
	b := newBackend(t, srv, baseOptions())
	run := func() error {
		_, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits})
		return err
	}
	if err := run(); err != nil {
		t.Fatalf("first call: %v", err)
	}
	awaitGone(t, b, srv) // its sandbox, with the token that is about to go
	srv.SetTokens("ak-new", "as-new-secret")
	err := run()
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), `Modal rejected the credentials from profile "default" in `+config) {
		t.Fatalf("call with the revoked token: %v", err)
	}
	writeProfile("ak-new", "as-new-secret")
	if err := run(); err != nil {
		t.Errorf("call after the profile was fixed: %v", err)
	}
}
