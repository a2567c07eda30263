package modal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"

	sdk "github.com/modal-labs/modal-client/go"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
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
	// live holds every sandbox created and not yet confirmed terminated:
	// in a call, in the pool, being terminated, or created for a caller
	// that has gone.
	live map[*sdk.Sandbox]*liveEntry
	// ops counts goroutines and calls that may create or hold a sandbox.
	ops sync.WaitGroup

	sessions sessions
	pool     *pool
	// mounts are Options.Mounts' content, uploaded into every sandbox.
	mounts *mountSet
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
	if got, rounded := cpuRounded(opts.CPU); rounded {
		log.Warn("backend.modal.cpu is not a whole number of thousandths of a core; Modal gets the nearest one",
			zap.Float64("cpu", opts.CPU), zap.Float64("modal_cpu", got))
	}
	instance := opts.Instance
	if instance == "" {
		var raw [6]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("modal: instance id: %w", err)
		}
		instance = hex.EncodeToString(raw[:])
	}
	mounts, err := loadMounts(opts.Mounts, opts.MaxMountBytes)
	if err != nil {
		return nil, err
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
		mounts:   mounts,
	}
	if opts.PoolSize > 0 {
		b.pool = newPool(b, opts.PoolSize, opts.DefaultLimits)
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
		sess, err := b.session(ctx)
		if err == nil {
			b.sessions.put(sess)
		} else if !isClosed(err) {
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

// spawn runs f in a goroutine Close waits for, even once closed: work that
// finishes what an operation started (terminating its sandbox). The caller
// must itself be an operation (or Close, before it waits), so the count
// never rises from zero under Close's wait.
func (b *Backend) spawn(f func()) {
	b.ops.Add(1)
	go func() {
		defer b.ops.Done()
		f()
	}()
}

// Execute runs req in a fresh sandbox (from the pool when one is ready)
// and returns as soon as the code's outcome and output are known: the
// sandbox is terminated in the background, with retries, and counted in
// Sandboxes until Modal confirms it is gone (a process the code left
// behind may run until then, under the same network rules and lifetime).
// It returns an error only when no sandbox could run the code; what the
// code did, including timing out, is in the Result.
func (b *Backend) Execute(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	if err := req.Limits.Validate(); err != nil {
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
		Files:        req.Files,
		FileLimits:   req.FileLimits,
	})
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("prepare harness: %w", err)
	}
	bx, err := b.acquire(ctx, req.Limits)
	if err != nil {
		return sandbox.Result{}, err
	}
	defer b.releaseLater(bx.sb)
	return b.run(ctx, bx, inv, req.Limits)
}
