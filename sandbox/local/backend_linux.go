//go:build linux

package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Name is the backend's name in results and on the command line.
const Name = "local"

// ErrUnavailable is wrapped by every error that means this host cannot run
// the local sandbox. The backend never falls back to running code
// unsandboxed.
var ErrUnavailable = errors.New("local sandbox unavailable")

// Options configure the local backend. The zero value finds python3 itself.
type Options struct {
	// Python is the interpreter to run; "" finds python3 on PATH (shims
	// resolved), then /usr/bin/python3.
	Python string
	// UIDBase is the first host uid used for sandboxes when running as
	// root; 0 means DefaultUIDBase.
	UIDBase int
}

// Backend runs each execution in a fresh local sandbox.
type Backend struct {
	interp   *Interpreter
	rootless bool
	layout   layout
	uids     *uidPool
	self     string

	mu      sync.Mutex
	closed  bool
	running map[*os.Process]struct{}
	wg      sync.WaitGroup
}

// layout is the part of the sandbox configuration that is the same for
// every execution: what to bind, which links to recreate, what to run.
type layout struct {
	binds     []string
	fileBinds []string
	symlinks  map[string]string
	env       []string
}

// New finds the interpreter, works out the sandbox's filesystem view and
// runs one trivial sandbox to prove this host can build it. An error wraps
// ErrUnavailable and says what is missing.
func New(ctx context.Context, opts Options) (*Backend, error) {
	in, err := FindInterpreter(ctx, opts.Python)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	lay, err := buildLayout(in)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%w: cannot find own executable for the init helper: %w", ErrUnavailable, err)
	}
	base := opts.UIDBase
	if base == 0 {
		base = DefaultUIDBase
	}
	b := &Backend{
		interp:   in,
		rootless: os.Geteuid() != 0,
		layout:   lay,
		uids:     newUIDPool(base),
		self:     self,
		running:  make(map[*os.Process]struct{}),
	}
	if err := b.selfTest(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return b, nil
}

// Interpreter reports the interpreter the backend runs.
func (b *Backend) Interpreter() *Interpreter { return b.interp }

// Rootless reports whether sandboxes are built in a user namespace (the
// server is not root) rather than with a dedicated host uid.
func (b *Backend) Rootless() bool { return b.rootless }

// Name returns "local".
func (b *Backend) Name() string { return Name }

func buildLayout(in *Interpreter) (layout, error) {
	binds, err := in.bindSources()
	if err != nil {
		return layout{}, err
	}
	lay := layout{symlinks: map[string]string{}}
	// Mirror the top-level merged-/usr links, or bind the directories when
	// the host keeps them separate.
	for _, top := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		st, err := os.Lstat(top)
		if err != nil {
			continue
		}
		if st.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(top)
			if err != nil {
				return layout{}, fmt.Errorf("read link %s: %w", top, err)
			}
			lay.symlinks[top] = target
		} else if st.IsDir() {
			binds = append(binds, top)
		}
	}
	lay.binds = foldNested(binds)
	// The linker cache speeds up library loading; /etc/alternatives holds
	// the links Debian uses for BLAS and friends. Neither holds secrets.
	for _, f := range []string{"/etc/ld.so.cache"} {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			lay.fileBinds = append(lay.fileBinds, f)
		}
	}
	if st, err := os.Stat("/etc/alternatives"); err == nil && st.IsDir() {
		lay.binds = append(lay.binds, "/etc/alternatives")
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		lay.symlinks["/etc/localtime"] = target
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	if dir := filepath.Dir(in.Executable); dir != "/usr/bin" && dir != "/bin" && dir != "/usr/local/bin" {
		path = dir + ":" + path
	}
	lay.env = []string{
		"PATH=" + path,
		"HOME=" + sandboxWorkdir,
		"TMPDIR=/tmp",
		"LANG=C.UTF-8",
		"USER=sandbox",
		"LOGNAME=sandbox",
	}
	return lay, nil
}

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
	if err := validateLimits(req.Limits); err != nil {
		return sandbox.Result{}, err
	}
	inv, err := sandbox.NewInvocation(req.Code, sandbox.HarnessOptions{
		EnvelopeFD:   envelopeFD,
		SysPath:      b.interp.SitePackages,
		MaxReprBytes: sandbox.ReprLimit(req.Limits),
		Workdir:      sandboxWorkdir,
	})
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("prepare harness: %w", err)
	}
	cfg := &initConfig{
		Rootless:     b.rootless,
		Binds:        b.layout.binds,
		FileBinds:    b.layout.fileBinds,
		Symlinks:     b.layout.symlinks,
		ScratchBytes: req.Limits.MaxFileBytes,
		Python:       b.interp.Executable,
		Argv:         append([]string{b.interp.Executable}, sandbox.HarnessArgs()...),
		Env:          b.layout.env,
		Rlimits: rlimits{
			AddressSpace: uint64(req.Limits.MemoryBytes),
			CPUSeconds:   uint64(max(1, (req.Limits.CPUTime+time.Second-1)/time.Second)),
			Processes:    uint64(req.Limits.MaxProcesses),
			FileSize:     uint64(req.Limits.MaxFileBytes),
			OpenFiles:    uint64(req.Limits.MaxOpenFiles),
		},
	}
	if !b.rootless {
		uid, err := b.uids.acquire()
		if err != nil {
			return sandbox.Result{}, fmt.Errorf("allocate sandbox uid: %w", err)
		}
		defer b.uids.release(uid)
		cfg.UID, cfg.GID = uid, uid
	}
	return b.run(ctx, cfg, inv, req.Limits)
}

func validateLimits(l sandbox.Limits) error {
	if l.Timeout <= 0 || l.MemoryBytes <= 0 || l.CPUTime <= 0 || l.MaxProcesses <= 0 ||
		l.MaxOutputBytes <= 0 || l.MaxFileBytes <= 0 || l.MaxOpenFiles <= 0 {
		return fmt.Errorf("local sandbox: every limit must be positive, got %+v", l)
	}
	return nil
}

// run starts the init helper in new namespaces, feeds the harness, and
// collects output, the envelope and the exit status. The wall-clock timer
// and cancellation kill the sandbox's pid 1, which takes every process in
// the pid namespace with it.
func (b *Backend) run(ctx context.Context, cfg *initConfig, inv *sandbox.Invocation, limits sandbox.Limits) (sandbox.Result, error) {
	encoded, err := cfg.encode()
	if err != nil {
		return sandbox.Result{}, err
	}
	envR, envW, err := os.Pipe()
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("envelope pipe: %w", err)
	}
	defer envR.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		envW.Close()
		return sandbox.Result{}, fmt.Errorf("setup status pipe: %w", err)
	}
	defer statusR.Close()

	stdout := sandbox.NewOutputBuffer(limits.MaxOutputBytes)
	stderr := sandbox.NewOutputBuffer(limits.MaxOutputBytes)
	cmd := &exec.Cmd{
		Path:        b.self,
		Args:        []string{initArg0},
		Env:         []string{initConfigEnv + "=" + encoded},
		Stdin:       bytes.NewReader(inv.Stdin),
		Stdout:      stdout,
		Stderr:      stderr,
		ExtraFiles:  []*os.File{envW, statusW},
		SysProcAttr: b.sysProcAttr(),
		// The pipes close when the pid namespace dies; this only guards
		// against a bug leaving Wait stuck.
		WaitDelay: 2 * time.Second,
	}

	if err := b.track(cmd); err != nil {
		envW.Close()
		statusW.Close()
		return sandbox.Result{}, err
	}
	defer b.untrack(cmd)
	start := time.Now()
	envW.Close()
	statusW.Close()

	// The envelope channel is drained whatever its size; only the first
	// bytes up to the bound are kept.
	envelope := make(chan []byte, 1)
	go func() {
		data, _ := io.ReadAll(io.LimitReader(envR, int64(sandbox.MaxEnvelopeBytes(limits))+1))
		_, _ = io.Copy(io.Discard, envR)
		envelope <- data
	}()

	// Setup succeeded when the status pipe closes empty (close-on-exec).
	setupStatus := make(chan []byte, 1)
	go func() {
		data, _ := io.ReadAll(io.LimitReader(statusR, 4096))
		setupStatus <- data
	}()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	timer := time.NewTimer(limits.Timeout - time.Since(start))
	defer timer.Stop()
	var exit sandbox.ProcessExit
	var waitErr error
	select {
	case waitErr = <-waited:
	case <-timer.C:
		exit.TimedOut = true
		_ = cmd.Process.Kill()
		waitErr = <-waited
	case <-ctx.Done():
		exit.Canceled = true
		_ = cmd.Process.Kill()
		waitErr = <-waited
	}
	exit.Duration = time.Since(start)
	data := <-envelope
	setupErr := <-setupStatus
	if len(setupErr) > 0 {
		return sandbox.Result{}, fmt.Errorf("sandbox setup failed at step %s", strings.TrimSpace(string(setupErr)))
	}
	if err := exitStatus(cmd, waitErr, &exit); err != nil {
		return sandbox.Result{}, err
	}
	return sandbox.Finalize(Name, exit, data, inv.Nonce, stdout, stderr, limits), nil
}

// exitStatus fills exit from the process state.
func exitStatus(cmd *exec.Cmd, waitErr error, exit *sandbox.ProcessExit) error {
	if cmd.ProcessState == nil {
		return fmt.Errorf("wait for sandbox: %w", waitErr)
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return fmt.Errorf("wait for sandbox: unexpected status %v", cmd.ProcessState)
	}
	switch {
	case ws.Signaled():
		exit.Signal = ws.Signal()
	case ws.Exited():
		exit.ExitCode = ws.ExitStatus()
	}
	return nil
}

func (b *Backend) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWCGROUP,
		// The sandbox dies with the server.
		Pdeathsig: syscall.SIGKILL,
	}
	if b.rootless {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	return attr
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

// Close kills every running sandbox, waits for them to be gone, and refuses
// further executions.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for p := range b.running {
		_ = p.Kill()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}
