package modal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	sdk "github.com/modal-labs/modal-client/go"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Bounds on the backend's own waits.
const (
	// terminateTimeout bounds one termination, retries included.
	terminateTimeout = 30 * time.Second
	// closeTimeout bounds how long Close waits for creations and calls in
	// flight to finish before giving up on them (Modal's lifetime limit
	// still ends their sandboxes).
	closeTimeout = 60 * time.Second
)

// Backend runs each execution in a fresh Modal sandbox. It is safe for
// concurrent use.
type Backend struct {
	opts     Options
	clock    clock
	log      *zap.Logger
	sdkLog   *slog.Logger
	instance string

	mu      sync.Mutex
	closed  bool
	closing chan struct{} // closed by Close
	// live holds every sandbox created and not yet terminated: in a call,
	// in the pool, or created for a caller that has gone.
	live map[*sdk.Sandbox]*liveEntry
	// ops counts goroutines and calls that may create or hold a sandbox.
	ops sync.WaitGroup

	sessions sessions
	pool     *pool
}

// New returns a Modal backend for opts. It makes no network call and
// succeeds without credentials: connecting (credentials, App, image build)
// starts in the background and is retried by the next call if it fails,
// so a missing or rejected credential, an unreachable Modal or a bad image
// reaches the caller as an error of Execute, in words the operator can act
// on. The pool, if any, starts filling at once.
func New(opts Options) (*Backend, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("backend", Name))
	instance := opts.Instance
	if instance == "" {
		var raw [6]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("modal: instance id: %w", err)
		}
		instance = hex.EncodeToString(raw[:])
	}
	var clk clock = realClock{}
	if opts.clock != nil {
		clk = opts.clock
	}
	b := &Backend{
		opts:     opts,
		clock:    clk,
		log:      log,
		sdkLog:   sdkLogger(log),
		instance: instance,
		closing:  make(chan struct{}),
		live:     make(map[*sdk.Sandbox]*liveEntry),
	}
	if opts.PoolSize > 0 {
		b.pool = newPool(b, opts.PoolSize, opts.PoolLimits)
		b.pool.start()
	} else {
		b.warmUp()
	}
	return b, nil
}

// Name returns "modal".
func (b *Backend) Name() string { return Name }

// Instance is the identifier this backend tags its sandboxes with.
func (b *Backend) Instance() string { return b.instance }

// warmUp connects in the background, so the first call does not wait for
// the App and the image, and says at once when it cannot.
func (b *Backend) warmUp() {
	b.goTracked(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
		defer cancel()
		if _, err := b.session(ctx); err != nil && !isClosed(err) {
			b.log.Warn("the Modal backend cannot run sandboxes yet; calls will fail until this is fixed", zap.String("reason", err.Error()))
		}
	})
}

// begin registers an operation unless the backend is closed.
func (b *Backend) begin() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.ops.Add(1)
	return true
}

// goTracked runs f in a goroutine Close waits for, unless closed.
func (b *Backend) goTracked(f func()) {
	if !b.begin() {
		return
	}
	go func() {
		defer b.ops.Done()
		f()
	}()
}

// liveEntry is one live sandbox's termination: done once, however many
// paths (the call, the pool, Close) ask for it at the same time.
type liveEntry struct {
	once sync.Once
	err  error
}

// track records a created sandbox, or reports false when the backend has
// closed meanwhile (the caller must then terminate it itself).
func (b *Backend) track(sb *sdk.Sandbox) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.live[sb] = &liveEntry{}
	return true
}

// release terminates sb, once, and forgets it. A sandbox that could not be
// terminated stays recorded with a fresh entry, so Close tries again.
func (b *Backend) release(sb *sdk.Sandbox) error {
	b.mu.Lock()
	e, ok := b.live[sb]
	b.mu.Unlock()
	if !ok {
		return nil
	}
	e.once.Do(func() {
		e.err = b.terminate(sb)
		b.mu.Lock()
		if e.err == nil {
			delete(b.live, sb)
		} else {
			b.live[sb] = &liveEntry{}
		}
		b.mu.Unlock()
	})
	return e.err
}

// terminate stops sb with a context of its own (the caller's may be
// cancelled already: that does not stop a Modal sandbox), retrying
// transient failures. A sandbox already gone counts as terminated.
func (b *Backend) terminate(sb *sdk.Sandbox) error {
	ctx, cancel := context.WithTimeout(context.Background(), terminateTimeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
			}
		}
		if _, err = sb.Terminate(ctx, nil); err == nil || isNotFound(err) {
			_ = sb.Detach()
			return nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	b.log.Warn("could not terminate a Modal sandbox; Modal ends it when its lifetime runs out",
		zap.String("sandbox_id", sb.SandboxID), zap.String("reason", serverSaid(err)))
	return fmt.Errorf("modal: terminate sandbox %s: %w", sb.SandboxID, err)
}

// liveSandboxes returns the sandboxes not yet terminated.
func (b *Backend) liveSandboxes() []*sdk.Sandbox {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*sdk.Sandbox, 0, len(b.live))
	for sb := range b.live {
		out = append(out, sb)
	}
	return out
}

// Close terminates every sandbox, in calls and in the pool, waits (for a
// bounded time) for creations and calls in flight, and refuses further
// executions. Calls still running end with status killed. It is safe to
// call more than once; it returns an error naming sandboxes it could not
// terminate.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closing)
	b.mu.Unlock()

	if b.pool != nil {
		b.pool.close()
	}
	b.terminateAll()
	done := make(chan struct{})
	go func() {
		b.ops.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		b.log.Warn("Modal operations still in flight at shutdown; their sandboxes end with their lifetime")
	}
	// Whatever a call left behind, or could not terminate the first time.
	failed := b.terminateAll()
	b.sessions.close()
	if failed > 0 {
		return fmt.Errorf("modal: %d sandbox(es) could not be terminated; Modal ends them when their lifetime runs out", failed)
	}
	return nil
}

// terminateAll terminates every live sandbox concurrently and returns how
// many could not be.
func (b *Backend) terminateAll() int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for _, sb := range b.liveSandboxes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.release(sb) != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// Execute runs req in a fresh sandbox (from the pool when one is ready) and
// terminates the sandbox before returning, whatever happened. It returns an
// error only when no sandbox could run the code; what the code did,
// including timing out, is in the Result.
func (b *Backend) Execute(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	if err := validateLimits(req.Limits); err != nil {
		return sandbox.Result{}, err
	}
	if !b.begin() {
		return sandbox.Result{}, ErrClosed
	}
	defer b.ops.Done()
	inv, err := sandbox.NewInvocation(req.Code, sandbox.HarnessOptions{
		EnvelopeFD:   envelopeFD,
		MaxReprBytes: sandbox.ReprLimit(req.Limits),
		Workdir:      workdir,
	})
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("prepare harness: %w", err)
	}
	bx, err := b.acquire(ctx, req.Limits)
	if err != nil {
		return sandbox.Result{}, err
	}
	defer b.release(bx.sb)
	return b.run(ctx, bx, inv, req.Limits)
}

// Sandboxes reports how many Modal sandboxes exist now (in a call, pooled,
// or being terminated): the ones this server pays for.
func (b *Backend) Sandboxes() int { return len(b.liveSandboxes()) }
