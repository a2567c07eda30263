package modaltest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	modal "github.com/modal-labs/modal-client/go"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestWrongCredentials: the SDK fails at its first call, with
// Unauthenticated from AuthTokenGet, as against real Modal.
func TestWrongCredentials(t *testing.T) {
	srv := startServer(t, Options{})
	tests := []struct {
		name, id, secret, wantMsg string
	}{
		{"wrong id", "ak-wrong", DefaultTokenSecret, msgTokenInvalid},
		{"wrong secret", DefaultTokenID, "as-wrong", msgTokenInvalid},
		{"malformed id", "wrong", DefaultTokenSecret, msgTokenIDMalformed},
		{"id and secret swapped", DefaultTokenSecret, DefaultTokenID, msgTokenIDMalformed},
		{"malformed secret", "ak-other", "wrong", msgTokenSecretMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetRequests()
			mc := newClient(t, &modal.ClientParams{TokenID: tt.id, TokenSecret: tt.secret})
			_, err := mc.Apps.FromName(testContext(t), "airlock-test", &modal.AppFromNameParams{CreateIfMissing: true})
			if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want Unauthenticated %q", err, tt.wantMsg)
			}
			if got := srv.MethodNames(); len(got) == 0 || got[0] != "AuthTokenGet" {
				t.Errorf("calls = %v, want AuthTokenGet first", got)
			}
			if n := len(srv.Requests("AppGetOrCreate")); n != 0 {
				t.Errorf("AppGetOrCreate reached the server %d times", n)
			}
		})
	}
}

// TestRevokedToken: after SetTokens, a client holding the old credentials
// is refused on its next call.
func TestRevokedToken(t *testing.T) {
	f := setup(t, Options{})
	f.srv.SetTokens("ak-rotated", "as-rotated")
	_, err := f.mc.Sandboxes.Create(testContext(t), f.app, f.img, nil)
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Create with revoked credentials: %v, want Unauthenticated", err)
	}
	mc := newClient(t, &modal.ClientParams{TokenID: "ak-rotated", TokenSecret: "as-rotated"})
	if _, err := mc.Apps.FromName(testContext(t), "airlock-test", nil); err != nil {
		t.Fatalf("new credentials refused: %v", err)
	}
}

// TestCreateFaults: injected create failures reach the caller as the SDK
// reports them, and are consumed one RPC at a time.
func TestCreateFaults(t *testing.T) {
	f := setup(t, Options{})
	tests := []struct {
		name     string
		inject   func()
		wantCode codes.Code
		wantMsg  string
		rpcs     int // SandboxCreateV2 requests for one Create
	}{
		{
			name:     "quota exceeded",
			inject:   func() { f.srv.FailCreates(1, status.Error(codes.ResourceExhausted, "quota exceeded")) },
			wantCode: codes.ResourceExhausted, wantMsg: "quota exceeded", rpcs: 1,
		},
		{
			name:     "invalid argument",
			inject:   func() { f.srv.FailCreates(1, status.Error(codes.InvalidArgument, "bad cpu")) },
			wantCode: codes.InvalidArgument, wantMsg: "bad cpu", rpcs: 1,
		},
		{
			name:     "persistent failure outlasts the SDK's retries",
			inject:   func() { f.srv.FailCreate(status.Error(codes.Unavailable, "overloaded")) },
			wantCode: codes.Unavailable, wantMsg: "overloaded", rpcs: 4,
		},
		{
			name:     "one transient failure is retried by the SDK",
			inject:   func() { f.srv.FailCreates(1, status.Error(codes.Unavailable, "blip")) },
			wantCode: codes.OK, rpcs: 2,
		},
		{
			name:     "live sandbox limit",
			inject:   func() { f.srv.SetMaxLiveSandboxes(1); f.create(t, nil); f.srv.ResetRequests() },
			wantCode: codes.ResourceExhausted, wantMsg: "live sandboxes", rpcs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(f.srv.ClearFaults)
			f.srv.ResetRequests()
			before := f.srv.CreatedSandboxes()
			tt.inject()
			sb, err := f.mc.Sandboxes.Create(testContext(t), f.app, f.img, nil)
			if sb != nil {
				_, _ = sb.Terminate(testContext(t), nil)
			}
			if status.Code(err) != tt.wantCode || !strings.Contains(errString(err), tt.wantMsg) {
				t.Errorf("Create err = %v, want %v %q", err, tt.wantCode, tt.wantMsg)
			}
			if n := len(f.srv.Requests("SandboxCreateV2")); n != tt.rpcs {
				t.Errorf("%d SandboxCreateV2 requests, want %d", n, tt.rpcs)
			}
			wantCreated := 0
			if tt.wantCode == codes.OK {
				wantCreated = 1
			}
			if tt.name == "live sandbox limit" {
				before++ // the sandbox that fills the limit
			}
			if got := f.srv.CreatedSandboxes() - before; got != wantCreated {
				t.Errorf("%d sandboxes created, want %d", got, wantCreated)
			}
		})
	}
	// Once cleared, creates work again.
	f.create(t, nil)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestCreateDelay: injected latency is honoured, a caller that gives up
// during it creates nothing, and clearing it takes it away.
func TestCreateDelay(t *testing.T) {
	f := setup(t, Options{CreateDelay: time.Hour})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failed := make(chan error, 1)
	go func() {
		_, err := f.mc.Sandboxes.Create(ctx, f.app, f.img, nil)
		failed <- err
	}()
	await(t, f.srv, "the create to reach the server", func() bool { return f.srv.InFlight("SandboxCreateV2") == 1 })
	cancel()
	if err := within(t, failed, "the abandoned create to return"); err == nil {
		t.Fatal("Create succeeded although its caller gave up during the delay")
	}
	await(t, f.srv, "the server to finish the abandoned create", func() bool { return f.srv.InFlight("SandboxCreateV2") == 0 })
	if got := f.srv.CreatedSandboxes(); got != 0 {
		t.Errorf("CreatedSandboxes = %d, want 0 (the abandoned create must not create)", got)
	}

	// A create takes at least the delay: a lower bound, which no load can
	// break.
	const delay = 200 * time.Millisecond
	f.srv.SetCreateDelay(delay)
	start := time.Now()
	f.create(t, nil)
	if took := time.Since(start); took < delay {
		t.Errorf("Create took %v, want at least %v", took, delay)
	}

	// Cleared, an hour's delay is gone: the create below would otherwise
	// outlast the test's context.
	f.srv.SetCreateDelay(time.Hour)
	f.srv.SetCreateDelay(0)
	f.create(t, nil)
	if got := f.srv.CreatedSandboxes(); got != 2 {
		t.Errorf("CreatedSandboxes = %d, want 2", got)
	}
}

// TestHold: a held call waits until released, then is handled; one whose
// caller gives up while held is not handled at all.
func TestHold(t *testing.T) {
	f := setup(t, Options{})
	release := f.srv.Hold("SandboxCreateV2")
	created := make(chan error, 1)
	go func() {
		_, err := f.mc.Sandboxes.Create(testContext(t), f.app, f.img, nil)
		created <- err
	}()
	await(t, f.srv, "the create to be held", func() bool { return f.srv.InFlight("SandboxCreateV2") == 1 })
	if n := f.srv.CreatedSandboxes(); n != 0 {
		t.Fatalf("%d sandboxes created while the create is held", n)
	}
	release()
	if err := within(t, created, "the released create to return"); err != nil {
		t.Fatalf("released create: %v", err)
	}

	release = f.srv.Hold("SandboxCreateV2")
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan error, 1)
	go func() {
		_, err := f.mc.Sandboxes.Create(ctx, f.app, f.img, nil)
		failed <- err
	}()
	await(t, f.srv, "the second create to be held", func() bool { return f.srv.InFlight("SandboxCreateV2") == 1 })
	cancel()
	if err := within(t, failed, "the abandoned create to return"); err == nil {
		t.Fatal("a create whose caller gave up while held succeeded")
	}
	await(t, f.srv, "the server to finish the abandoned create", func() bool { return f.srv.InFlight("SandboxCreateV2") == 0 })
	release()
	if n := f.srv.CreatedSandboxes(); n != 1 {
		t.Errorf("%d sandboxes created, want 1 (the abandoned create must not create)", n)
	}
}

// TestImageBuildFailure: a failed build is a modal.RemoteError carrying
// the exception text.
func TestImageBuildFailure(t *testing.T) {
	f := setup(t, Options{})
	f.srv.FailImageBuilds(1, "manifest unknown")
	_, err := f.mc.Images.FromRegistry("python:3.99-nope", nil).Build(testContext(t), f.app, nil)
	var remote modal.RemoteError
	if !errors.As(err, &remote) || !strings.Contains(err.Error(), "manifest unknown") {
		t.Fatalf("Build err = %v (%T), want modal.RemoteError with the exception", err, err)
	}
	if _, err := f.mc.Images.FromRegistry("python:3.99-nope", nil).Build(testContext(t), f.app, nil); err != nil {
		t.Fatalf("second build (fault consumed): %v", err)
	}
}

// TestRouterFaultAndDelay: FailRPC and SetDelay work on router methods too.
func TestRouterFaultAndDelay(t *testing.T) {
	f := setup(t, Options{})
	sb := f.create(t, nil)

	f.srv.FailRPC("TaskExecStart", 1, status.Error(codes.FailedPrecondition, "worker draining"))
	if _, err := sb.Exec(testContext(t), []string{"true"}, nil); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Exec with an injected fault: %v, want FailedPrecondition", err)
	}

	// The exec takes at least the delay: a lower bound, which no load can
	// break.
	f.srv.SetDelay("TaskExecWait", 300*time.Millisecond)
	start := time.Now()
	if r := runExec(t, sb, []string{"true"}, "", nil); r.waitErr != nil || r.code != 0 {
		t.Fatalf("exec: %+v", r)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("exec took %v with a 300 ms delay on TaskExecWait", took)
	}
}

// TestRouterRequiresTaskToken: the router refuses calls without the task's
// JWT, or with another task's.
func TestRouterRequiresTaskToken(t *testing.T) {
	f := setup(t, Options{})
	a := f.create(t, nil)
	b := f.create(t, nil)
	infoA, _ := f.srv.Sandbox(a.SandboxID)
	tokenA := f.srv.routerJWT(f.srv.st.lookupSandbox(a.SandboxID))
	tokenB := f.srv.routerJWT(f.srv.st.lookupSandbox(b.SandboxID))

	conn, err := grpc.NewClient(f.srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	router := pb.NewTaskCommandRouterClient(conn)
	req := pb.TaskExecStartRequest_builder{TaskId: infoA.TaskID, ExecId: "x", CommandArgs: []string{"true"}}.Build()

	tests := []struct {
		name   string
		bearer string
		want   codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"forged token", "a.b.c", codes.Unauthenticated},
		{"another task's token", tokenB, codes.PermissionDenied},
		{"its own token", tokenA, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			if tt.bearer != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tt.bearer)
			}
			if _, err := router.TaskExecStart(ctx, req); status.Code(err) != tt.want {
				t.Errorf("TaskExecStart: %v, want %v", err, tt.want)
			}
		})
	}
	if info, _ := f.srv.Sandbox(a.SandboxID); info.Execs != 1 {
		t.Errorf("%d execs started, want only the one with a valid token", info.Execs)
	}
}
