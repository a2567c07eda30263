package modal

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestDroppedSessionsCloseTheirClients: every call after Modal starts
// rejecting the credentials connects again (to read them afresh) and
// drops that session when rejected; each dropped session's client is
// closed then, not at shutdown, so ten such calls leave no connection
// open.
func TestDroppedSessionsCloseTheirClients(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	srv.FailCreates(-1, status.Error(codes.Unauthenticated, "token revoked"))
	for i := range 10 {
		if _, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits}); !errors.Is(err, ErrAuth) {
			t.Fatalf("call %d after the credentials were rejected: %v, want ErrAuth", i, err)
		}
	}
	await(t, srv, "every dropped session's connection to close", func() bool { return srv.OpenConnections() == 0 })
	if n := len(srv.Requests("AuthTokenGet")); n < 10 {
		t.Errorf("%d connections made for 10 calls; each should connect afresh", n)
	}
}

// TestDroppedSessionOutlivesItsSandboxes: a session dropped while a call
// runs in one of its sandboxes keeps its client until that sandbox is
// terminated, then closes it.
func TestDroppedSessionOutlivesItsSandboxes(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	running := executeAsync(ctx, b, sandbox.Request{Code: sleepCode, Limits: callLimits})
	awaitStdout(t, srv, "running\n")
	inUse := srv.OpenConnections() // the session's, to the control plane and to the sandbox's router
	srv.FailCreates(1, status.Error(codes.Unauthenticated, "token revoked"))
	if _, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits}); !errors.Is(err, ErrAuth) {
		t.Fatalf("a call rejected meanwhile: %v, want ErrAuth", err)
	}
	// The session both calls used is dropped, but stays open for the
	// running call.
	if n := srv.OpenConnections(); n != inUse {
		t.Errorf("%d connections once the session was dropped, want the %d the running call uses", n, inUse)
	}
	cancel()
	within(t, running, "the cancelled call")
	awaitGone(t, b, srv)
	await(t, srv, "the dropped session's connections to close", func() bool { return srv.OpenConnections() == 0 })
}
