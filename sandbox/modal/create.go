package modal

import (
	"context"
	"fmt"
	"time"

	sdk "github.com/modal-labs/modal-client/go"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// createTimeout bounds one sandbox creation. Modal's p99 is in the tens of
// seconds; beyond this something is wrong.
const createTimeout = 5 * time.Minute

// execGrace is added to the exec timeout Modal enforces, so that the
// backend's own, exact timer is the one that fires; Modal's is a backstop.
const execGrace = 2 * time.Second

// Tag keys every sandbox carries, so an operator can find (and if need be
// terminate) airlock's sandboxes in the Modal dashboard.
const (
	TagApp      = "airlock"          // always "airlock-mcp"
	TagInstance = "airlock-instance" // the server instance (Backend.Instance)
	TagPool     = "airlock-pool"     // "true" for a sandbox created for the pool
)

// box is one sandbox a call runs in: created for it, or taken from the
// pool with its harness already started.
type box struct {
	sb   *sdk.Sandbox
	proc *sdk.ContainerProcess // the harness, nil until started
	// limits are what the harness was started with (pooled boxes).
	limits sandbox.Limits
	// retireAt is when a pooled box is too old to take (zero otherwise).
	retireAt time.Time
	// creds are the session's, for messages.
	creds Credentials
}

// createParams are the parameters of every sandbox: the policy's
// resources, network and tags, and a lifetime Modal enforces whatever
// happens to this server.
func (b *Backend) createParams(lifetime time.Duration, memoryCap int64, pooled bool) *sdk.SandboxCreateParams {
	limit := memoryMiB(memoryCap)
	p := &sdk.SandboxCreateParams{
		CPU:            sdkCPU(b.opts.CPU),
		MemoryMiB:      min(b.opts.MemoryMiB, limit),
		MemoryLimitMiB: limit,
		Timeout:        wholeSeconds(lifetime),
		Workdir:        workdir,
		Tags: map[string]string{
			TagApp:      "airlock-mcp",
			TagInstance: b.instance,
			TagPool:     fmt.Sprint(pooled),
		},
	}
	b.opts.Network.apply(p)
	return p
}

// acquire returns a box for a call with limits: a pooled one when one is
// ready and still alive, else a sandbox created now.
func (b *Backend) acquire(ctx context.Context, limits sandbox.Limits) (*box, error) {
	if b.pool != nil {
		for bx := b.pool.take(limits); bx != nil; bx = b.pool.take(limits) {
			alive, err := b.alive(ctx, bx.sb)
			if err != nil {
				b.releaseLater(bx.sb)
				return nil, err
			}
			if alive {
				return bx, nil
			}
			b.log.Info("a pooled Modal sandbox stopped while idle; the call uses another", zap.String("sandbox_id", bx.sb.SandboxID))
			b.releaseLater(bx.sb)
		}
	}
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	defer b.sessions.put(sess)
	lifetime := b.opts.Lifetime + wholeSeconds(limits.Timeout)
	sb, err := b.create(ctx, sess, b.createParams(lifetime, limits.MemoryBytes, false))
	if err != nil {
		return nil, err
	}
	return &box{sb: sb, limits: limits, creds: sess.creds}, nil
}

// alive asks Modal, in one call that does not wait, whether a pooled
// sandbox is still running: one that stopped while idle (its lifetime,
// preemption, an outage) must not fail a call that never ran. When Modal
// cannot say, the sandbox is tried; an error is only the caller giving up.
func (b *Backend) alive(ctx context.Context, sb *sdk.Sandbox) (bool, error) {
	code, err := sb.Poll(ctx, nil)
	switch {
	case ctx.Err() != nil:
		return false, fmt.Errorf("modal: checking a pooled sandbox: %w", ctx.Err())
	case err != nil:
		return !isNotFound(err), nil
	}
	return code == nil, nil
}

// create creates a sandbox and records it. The creation runs detached from
// ctx: should the caller give up (a cancelled call), the creation is left
// to finish and its sandbox terminated, rather than abandoned half-way
// where it could not be found again.
func (b *Backend) create(ctx context.Context, sess *session, params *sdk.SandboxCreateParams) (*sdk.Sandbox, error) {
	type created struct {
		sb  *sdk.Sandbox
		err error
	}
	result := make(chan created)
	gone := make(chan struct{})
	if !b.begin() {
		return nil, ErrClosed
	}
	b.sessions.hold(sess) // for the creation, which may outlive the caller
	go func() {
		defer b.ops.Done()
		defer b.sessions.put(sess)
		cctx, cancel := context.WithTimeout(context.Background(), createTimeout)
		defer cancel()
		sb, err := sess.client.Sandboxes.Create(cctx, sess.app, sess.image, params)
		switch {
		case err != nil:
			if isAuth(err) || isNotFound(err) {
				b.sessions.drop(sess)
			}
			err = b.describe(stageCreate, err, sess.creds)
		case !b.track(sb, sess): // closed meanwhile
			_ = b.terminate(sb)
			sb, err = nil, ErrClosed
		default:
			if err = b.uploadMounts(cctx, sb, sess.creds); err != nil {
				_ = b.release(sb)
				sb = nil
			}
		}
		select {
		case result <- created{sb, err}:
		case <-gone:
			if sb != nil {
				_ = b.release(sb)
			}
		}
	}()
	select {
	case r := <-result:
		return r.sb, r.err
	case <-ctx.Done():
		close(gone)
		return nil, fmt.Errorf("modal: waiting for a sandbox: %w", ctx.Err())
	}
}

// startHarness starts the harness in sb for limits, with an exec timeout
// Modal enforces as a backstop.
func (b *Backend) startHarness(ctx context.Context, sb *sdk.Sandbox, limits sandbox.Limits, timeout time.Duration, creds Credentials) (*sdk.ContainerProcess, error) {
	argv, err := harnessArgv(limits)
	if err != nil {
		return nil, err
	}
	proc, err := sb.Exec(ctx, argv, &sdk.SandboxExecParams{
		Timeout: wholeSeconds(timeout),
		Workdir: workdir,
	})
	if err != nil {
		return nil, b.describe(stageExec, err, creds)
	}
	return proc, nil
}
