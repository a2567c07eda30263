//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/egress"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// Backend runs each execution in a fresh local sandbox.
type Backend struct {
	interp *Interpreter
	// harness is the harness's code, compiled by interp ahead of every
	// sandbox.
	harness  []byte
	rootless bool
	layout   layout
	// uidRange is the block of host uids this server claimed for its
	// sandboxes when root (nil when rootless); uids hands them out.
	uidRange *uidRange
	uids     *uidPool
	self     string
	// cgroups is nil where the host offers none to this server;
	// cgroupsMissing then says why.
	cgroups        *cgroups
	cgroupsMissing string

	mu      sync.Mutex
	closed  bool
	running map[*os.Process]struct{}
	wg      sync.WaitGroup
	// sessions are the live sessions, which Close ends.
	sessions map[*session]struct{}
	// sessionGrace is Options.SessionInterruptGrace, defaulted.
	sessionGrace time.Duration
	// raiseCPUHard: the server may raise a sandbox's hard RLIMIT_CPU (root
	// with CAP_SYS_RESOURCE), which a session's calls need for a hard
	// CPU limit per call (see armCPULimit).
	raiseCPUHard bool

	warm *warmPool

	// network is nil when sandboxes have no network; otherwise each gets
	// the Airlock proxy, configured by it.
	network *egress.Config
}

// New finds the interpreter, works out the sandbox's filesystem view and
// runs one trivial sandbox to prove this host can build it. An error wraps
// ErrUnavailable and says what is missing, a binary that does not link the
// sandbox init helper included.
func New(ctx context.Context, opts Options) (*Backend, error) {
	if !initconfig.HelperLinked() {
		return nil, fmt.Errorf("%w: this binary does not link the sandbox init helper that every sandbox starts as; add the blank import _ %q to its main package (for a test binary, to one of its test files)", ErrUnavailable, initconfig.HelperPackage)
	}
	in, err := FindInterpreter(ctx, opts.Python)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if os.Geteuid() == 0 {
		if err := in.checkSandboxAccess(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	lay, err := buildLayout(in)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if opts.Network != nil {
		lay.env = append(lay.env, proxyEnv()...)
	}
	if lay.mounts, err = checkMounts(opts.Mounts, lay); err != nil {
		return nil, err
	}
	harness, err := compileHarness(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%w: cannot find own executable for the init helper: %w", ErrUnavailable, err)
	}
	b := &Backend{
		interp:       in,
		harness:      harness,
		rootless:     os.Geteuid() != 0,
		layout:       lay,
		self:         self,
		running:      make(map[*os.Process]struct{}),
		network:      opts.Network,
		sessions:     make(map[*session]struct{}),
		sessionGrace: opts.SessionInterruptGrace,
	}
	b.raiseCPUHard = !b.rootless && hasCapability(unix.CAP_SYS_RESOURCE)
	if b.sessionGrace <= 0 {
		b.sessionGrace = sandbox.DefaultSessionInterruptGrace
	}
	if !b.rootless {
		// Before anything is named after the range: the cgroups' cleanup
		// tells a live server's from a dead one's by it.
		if b.uidRange, err = hostUIDRanges.claim(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		b.uids = newUIDPool(b.uidRange.first)
	}
	b.cgroups, b.cgroupsMissing = detectCgroups(b.rootless, b.uidRange)
	if err := b.selfTest(ctx); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("%w: interpreter %s does not start in a sandbox: %w; check that every user can read it, its standard library and its site-packages, or set backend.local.python to another", ErrUnavailable, in.Requested, err)
	}
	if opts.WarmSandboxes > 0 {
		b.warm = newWarmPool(b, opts.WarmSandboxes)
		if opts.WarmLimits != (sandbox.Limits{}) {
			b.warm.prefill(opts.WarmLimits)
		}
	}
	return b, nil
}

// Interpreter reports the interpreter the backend runs.
func (b *Backend) Interpreter() *Interpreter { return b.interp }

// Rootless reports whether sandboxes are built in a user namespace (the
// server is not root) rather than with a dedicated host uid.
func (b *Backend) Rootless() bool { return b.rootless }

// UIDRange reports the host uids this server gives its sandboxes, first to
// last, claimed for it alone until Close; ok is false when rootless.
func (b *Backend) UIDRange() (first, last int, ok bool) {
	if b.uidRange == nil {
		return 0, 0, false
	}
	return b.uidRange.first, b.uidRange.last, true
}

// Name returns "local".
func (b *Backend) Name() string { return Name }

// selfTest runs one trivial execution to prove the sandbox can be built.
func (b *Backend) selfTest(ctx context.Context) error {
	res, err := b.Execute(ctx, sandbox.Request{Code: "1", Limits: selfTestLimits})
	if err != nil {
		return err
	}
	if res.Status != sandbox.StatusOK || res.Result == nil || *res.Result != "1" {
		return fmt.Errorf("a trivial sandboxed execution did not succeed: status %s, stderr %q", res.Status, res.Stderr)
	}
	return nil
}

var selfTestLimits = sandbox.Limits{
	Timeout:        10 * time.Second,
	MemoryBytes:    256 << 20,
	CPUTime:        10 * time.Second,
	MaxProcesses:   16,
	MaxOutputBytes: 4096,
	MaxFileBytes:   1 << 20,
	MaxOpenFiles:   64,
}

// Execute runs req in a fresh sandbox and returns when every process of the
// sandbox is gone.
func (b *Backend) Execute(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	if err := req.Limits.Validate(); err != nil {
		return sandbox.Result{}, err
	}
	var p *proc
	if b.warm != nil {
		p = b.warm.take(req.Limits)
		defer b.warm.refill()
	}
	if p == nil {
		var err error
		if p, err = b.start(ctx, req.Limits); err != nil {
			return sandbox.Result{}, err
		}
	}
	inv, err := sandbox.NewInvocation(req.Code, sandbox.HarnessOptions{
		EnvelopeFD:   p.envelopeFD,
		SysPath:      b.interp.SitePackages,
		MaxReprBytes: sandbox.ReprLimit(req.Limits),
		Workdir:      initconfig.Workdir,
		Files:        req.Files,
		FileLimits:   req.FileLimits,
	})
	if err != nil {
		p.kill()
		return sandbox.Result{}, fmt.Errorf("prepare harness: %w", err)
	}
	return p.run(ctx, inv, req.Limits, b.network), nil
}

// track starts cmd and records it so Close can kill it.
func (b *Backend) track(cmd *exec.Cmd) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("local sandbox backend is closed")
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: start sandbox: %w", ErrUnavailable, err)
	}
	b.running[cmd.Process] = struct{}{}
	b.wg.Add(1)
	return nil
}

func (b *Backend) untrack(cmd *exec.Cmd) {
	b.mu.Lock()
	delete(b.running, cmd.Process)
	b.mu.Unlock()
	b.wg.Done()
}

// Close kills every sandbox, running, warm or a session's, waits for them
// to be gone, refuses further executions, and gives back the server's uid
// range.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.closeSessions()
	b.mu.Lock()
	for p := range b.running {
		_ = p.Kill()
	}
	b.mu.Unlock()
	if b.warm != nil {
		b.warm.close()
	}
	b.wg.Wait()
	if b.uidRange != nil {
		b.uidRange.release()
	}
	return nil
}

// Sandboxes reports how many sandboxes exist now: running a call, or warm
// and waiting for one.
func (b *Backend) Sandboxes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running)
}
