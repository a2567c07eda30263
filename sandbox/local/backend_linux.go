//go:build linux

package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/egress"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit"
)

// Backend runs each execution in a fresh local sandbox.
type Backend struct {
	interp *Interpreter
	// argv starts the harness in a sandbox, with its code precompiled.
	argv     []string
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

	warm *warmPool

	// network is nil when sandboxes have no network; otherwise each gets
	// the Airlock proxy, configured by it.
	network *egress.Config
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
	if opts.Network != nil {
		lay.env = append(lay.env, proxyEnv()...)
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
		interp:   in,
		argv:     append([]string{in.Executable}, sandbox.PrecompiledHarnessArgs(harness, sandboxinit.EnvelopeFD)...),
		rootless: os.Geteuid() != 0,
		layout:   lay,
		self:     self,
		running:  make(map[*os.Process]struct{}),
		network:  opts.Network,
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
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
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
		"HOME=" + sandboxinit.Workdir,
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
		EnvelopeFD:   sandboxinit.EnvelopeFD,
		SysPath:      b.interp.SitePackages,
		MaxReprBytes: sandbox.ReprLimit(req.Limits),
		Workdir:      sandboxinit.Workdir,
	})
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("prepare harness: %w", err)
	}
	var p *proc
	if b.warm != nil {
		p = b.warm.take(req.Limits)
		defer b.warm.refill()
	}
	if p == nil {
		if p, err = b.start(ctx, req.Limits); err != nil {
			return sandbox.Result{}, err
		}
	}
	return p.run(ctx, inv, req.Limits, b.network), nil
}

func validateLimits(l sandbox.Limits) error {
	if l.Timeout <= 0 || l.MemoryBytes <= 0 || l.CPUTime <= 0 || l.MaxProcesses <= 0 ||
		l.MaxOutputBytes <= 0 || l.MaxFileBytes <= 0 || l.MaxOpenFiles <= 0 {
		return fmt.Errorf("local sandbox: every limit must be positive, got %+v", l)
	}
	return nil
}

// proc is one started sandbox: its init helper has built it and exec'd the
// interpreter, whose harness waits on stdin for the code.
type proc struct {
	// id names the sandbox in results and logs ("local-" and 16 hex digits).
	id       string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	statusR  *os.File
	stdout   *sandbox.OutputBuffer
	stderr   *sandbox.OutputBuffer
	envelope chan []byte
	// ready is closed when the harness waits for its code.
	ready chan struct{}
	// joined receives the outcome of moving the sandbox into its cgroups
	// (nil at once without cgroups).
	joined chan error
	// done is closed once the sandbox's pid 1 is reaped; waitErr, and the
	// CPU time it was charged against its CPU limit, are then set.
	done         chan struct{}
	waitErr      error
	cpuTime      time.Duration
	cpuTimeKnown bool
	// stderrCopied is closed when the code's stderr reaches EOF.
	stderrCopied chan struct{}
	// proxyCh receives the proxy listener from the helper; proxyLn is that
	// listener, inside the sandbox's network namespace. Both nil when the
	// sandbox has no network.
	proxyCh *os.File
	proxyLn net.Listener

	cgroup      *sandboxCgroup
	releaseOnce sync.Once
	cleanup     func()
}

// release gives the sandbox's uid back, removes its cgroups and closes its
// proxy listener, once; the sandbox must be gone.
func (p *proc) release() {
	p.releaseOnce.Do(func() {
		for _, f := range p.proxyFiles(nil) {
			f.Close()
		}
		if p.proxyLn != nil {
			p.proxyLn.Close()
		}
		p.cleanup()
	})
}

// exited reports whether the sandbox is already gone.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start builds a sandbox for limits (Timeout aside, which only the caller's
// timer enforces) and returns once the interpreter runs, or with the step
// of the setup that failed.
func (b *Backend) start(ctx context.Context, limits sandbox.Limits) (*proc, error) {
	cfg := &sandboxinit.Config{
		Rootless:     b.rootless,
		Binds:        b.layout.binds,
		FileBinds:    b.layout.fileBinds,
		Symlinks:     b.layout.symlinks,
		ScratchBytes: limits.MaxFileBytes,
		Python:       b.interp.Executable,
		Argv:         b.argv,
		Env:          b.layout.env,
		// Without a memory cgroup nothing bounds memfd and System V IPC memory.
		DenyUnaccountedMemory: b.cgroups == nil,
		Rlimits: sandboxinit.Rlimits{
			AddressSpace: uint64(limits.MemoryBytes),
			CPUSeconds:   uint64(max(1, (limits.CPUTime+time.Second-1)/time.Second)),
			Processes:    uint64(limits.MaxProcesses),
			FileSize:     uint64(limits.MaxFileBytes),
			OpenFiles:    uint64(limits.MaxOpenFiles),
		},
	}
	if b.network != nil {
		cfg.ProxyPort = ProxyPort
	}
	var uid int
	if !b.rootless {
		var err error
		if uid, err = b.uids.acquire(); err != nil {
			return nil, fmt.Errorf("allocate sandbox uid: %w", err)
		}
		cfg.UID, cfg.GID = uid, uid
	}
	cg, err := b.cgroups.create(limits)
	if err != nil {
		if !b.rootless {
			b.uids.release(uid)
		}
		return nil, err
	}
	// Runs once the sandbox is gone: its uid and cgroups are free again.
	release := func() {
		cg.remove()
		if !b.rootless {
			b.uids.release(uid)
		}
	}
	p, err := b.spawn(cfg, limits, cg)
	if err != nil {
		release()
		return nil, err
	}
	p.cgroup = cg
	p.cleanup = release
	if err := p.awaitSetup(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// spawn starts the init helper in new namespaces with its pipes wired.
//
// With cgroups, the parent moves the sandbox into them while it sets itself
// up and the interpreter starts (a move waits for an RCU grace period, up
// to several milliseconds, which is then off the critical path).
// awaitSetup waits for the move too, so no code reaches a sandbox outside
// its cgroups: before its code arrives the harness runs nothing, and it has
// started no process.
func (b *Backend) spawn(cfg *sandboxinit.Config, limits sandbox.Limits, cg *sandboxCgroup) (*proc, error) {
	encoded, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	envR, envW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("envelope pipe: %w", err)
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		envR.Close()
		envW.Close()
		return nil, fmt.Errorf("setup status pipe: %w", err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		envR.Close()
		envW.Close()
		statusR.Close()
		statusW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	closeAll := func(files ...*os.File) {
		for _, f := range files {
			f.Close()
		}
	}
	extra := []*os.File{envW, statusW, stderrW}
	var proxyParent, proxyChild *os.File
	if cfg.ProxyPort != 0 {
		if proxyParent, proxyChild, err = socketPair(); err != nil {
			closeAll(envR, envW, statusR, statusW, stderrR, stderrW)
			return nil, fmt.Errorf("proxy channel: %w", err)
		}
		extra = append(extra, proxyChild)
	}
	p := &proc{
		statusR:  statusR,
		stdout:   sandbox.NewOutputBuffer(limits.MaxOutputBytes),
		stderr:   sandbox.NewOutputBuffer(limits.MaxOutputBytes),
		envelope: make(chan []byte, 1),
		ready:    make(chan struct{}),
		joined:   make(chan error, 1),
		done:     make(chan struct{}),
		id:       newSandboxID(),
		cleanup:  func() {},
		proxyCh:  proxyParent,
	}
	p.cmd = &exec.Cmd{
		Path:   b.self,
		Args:   []string{sandboxinit.Arg0},
		Env:    []string{sandboxinit.ConfigEnv + "=" + encoded, "GOGC=off", "GOMAXPROCS=1"},
		Stdout: p.stdout,
		// The helper's own stderr is the status pipe; the code's stderr
		// goes in as fd 5 and is moved to fd 2 just before exec.
		Stderr:      statusW,
		ExtraFiles:  extra,
		SysProcAttr: b.sysProcAttr(),
		// The pipes close when the pid namespace dies; this only guards
		// against a bug leaving Wait stuck.
		WaitDelay: 2 * time.Second,
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		closeAll(envR, envW, statusR, statusW, stderrR, stderrW)
		closeAll(p.proxyFiles(proxyChild)...)
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	err = b.track(p.cmd)
	closeAll(envW, statusW, stderrW)
	if proxyChild != nil {
		proxyChild.Close()
	}
	if err != nil {
		closeAll(envR, statusR, stderrR)
		closeAll(p.proxyFiles(nil)...)
		return nil, err
	}
	pid, moved := p.cmd.Process.Pid, make(chan struct{})
	go func() {
		defer close(moved)
		p.joined <- cg.add(pid)
	}()
	p.stderrCopied = make(chan struct{})
	go func() {
		defer close(p.stderrCopied)
		defer stderrR.Close()
		_, _ = io.Copy(p.stderr, stderrR)
	}()
	// The envelope channel carries the harness's ready byte, then the
	// envelope. It is drained whatever its size; only the first bytes up to
	// the bound are kept.
	go func() {
		defer envR.Close()
		var ready [1]byte
		if n, _ := io.ReadFull(envR, ready[:]); n == 1 && ready[0] == sandbox.ReadyByte {
			close(p.ready)
		}
		data, _ := sandbox.ReadEnvelope(envR, sandbox.MaxEnvelopeBytes(limits))
		p.envelope <- data
	}()
	go func() {
		// Unreaped, the pid cannot name another process while it is
		// being moved into the cgroups.
		<-moved
		p.cpuTime, p.cpuTimeKnown = cpuTimeAtExit(pid)
		p.waitErr = p.cmd.Wait()
		b.untrack(p.cmd)
		close(p.done)
	}()
	return p, nil
}

// awaitSetup returns when the harness waits for its code, or with why it
// never will: a failed setup step (the helper writes it to the setup status
// pipe, which a successful exec closes empty), an interpreter that died
// before it was ready, or ctx.
func (p *proc) awaitSetup(ctx context.Context) error {
	status := make(chan []byte, 1)
	go func() {
		defer p.statusR.Close()
		data, _ := io.ReadAll(io.LimitReader(p.statusR, 4096))
		status <- data
	}()
	select {
	case data := <-status:
		if len(data) > 0 {
			p.kill()
			return fmt.Errorf("%w: sandbox setup failed at step %s", ErrUnavailable, strings.TrimSpace(string(data)))
		}
	case <-ctx.Done():
		p.kill()
		return fmt.Errorf("sandbox setup: %w", ctx.Err())
	}
	select {
	case <-p.ready:
		if err := p.awaitCgroups(ctx); err != nil {
			p.kill()
			return err
		}
		if err := p.receiveProxyListener(); err != nil {
			p.kill()
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil
	case <-p.done:
		p.release()
		return fmt.Errorf("%w: the interpreter exited before it was ready: %s", ErrUnavailable, strings.TrimSpace(p.stderr.String()))
	case <-ctx.Done():
		p.kill()
		return fmt.Errorf("sandbox setup: %w", ctx.Err())
	}
}

// awaitCgroups waits until the sandbox is in its cgroups.
func (p *proc) awaitCgroups(ctx context.Context) error {
	select {
	case err := <-p.joined:
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox setup: %w", ctx.Err())
	}
}

// kill ends the sandbox (its pid 1, and with it every process of its pid
// namespace) and waits until it is gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	p.release()
}

// run sends the code, enforces the call's wall-clock timeout and
// cancellation, and composes the result once every process of the sandbox
// is gone. limits are the call's (the sandbox was built with the same ones,
// the timeout aside).
func (p *proc) run(ctx context.Context, inv *sandbox.Invocation, limits sandbox.Limits, network *egress.Config) sandbox.Result {
	defer p.release()
	var proxy *egress.Session
	if p.proxyLn != nil && network != nil {
		proxy = egress.Serve(p.proxyLn, *network)
	}
	start := time.Now()
	go func() {
		// An error means the harness died before reading it all; the exit
		// status tells the rest.
		_, _ = p.stdin.Write(inv.Stdin)
		_ = p.stdin.Close()
	}()
	timer := time.NewTimer(limits.Timeout)
	defer timer.Stop()
	var exit sandbox.ProcessExit
	select {
	case <-p.done:
	case <-timer.C:
		exit.TimedOut = true
		_ = p.cmd.Process.Kill()
		<-p.done
	case <-ctx.Done():
		exit.Canceled = true
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	exit.Duration = time.Since(start)
	data := <-p.envelope
	<-p.stderrCopied
	exitStatus(p.cmd, &exit)
	exit.CPUTime, exit.CPUTimeKnown = p.cpuTime, p.cpuTimeKnown
	exit.OOMKilled = p.cgroup.oomKilled()
	res := sandbox.Finalize(Name, exit, data, inv.Nonce, p.stdout, p.stderr, limits)
	res.SandboxID = p.id
	if proxy != nil {
		res.Network = proxyLedger(proxy.Close())
	}
	return res
}

// exitStatus fills exit from the process state. A process that was never
// reaped (impossible after Wait) reads as killed.
func exitStatus(cmd *exec.Cmd, exit *sandbox.ProcessExit) {
	ps := cmd.ProcessState
	if ps == nil {
		exit.Signal = syscall.SIGKILL
		return
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		exit.Signal = syscall.SIGKILL
		return
	}
	switch {
	case ws.Signaled():
		exit.Signal = ws.Signal()
	case ws.Exited():
		exit.ExitCode = ws.ExitStatus()
	}
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

// Close kills every sandbox, running or warm, waits for them to be gone,
// refuses further executions, and gives back the server's uid range.
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
	if b.warm != nil {
		b.warm.close()
	}
	b.wg.Wait()
	if b.uidRange != nil {
		b.uidRange.release()
	}
	return nil
}

// newSandboxID returns a fresh random sandbox id.
func newSandboxID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux
	return "local-" + hex.EncodeToString(b[:])
}

// Sandboxes reports how many sandboxes exist now: running a call, or warm
// and waiting for one.
func (b *Backend) Sandboxes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running)
}
