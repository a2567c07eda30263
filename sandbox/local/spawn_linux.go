//go:build linux

package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// start builds a sandbox for limits (Timeout aside, which only the caller's
// timer enforces) and returns once the interpreter runs, or with the step
// of the setup that failed.
func (b *Backend) start(ctx context.Context, limits sandbox.Limits) (*proc, error) {
	return b.startSandbox(ctx, limits, false)
}

// startSandbox is start for a sandbox that serves one call, or, with
// session, a session's sandbox, whose harness takes its calls on a control
// socket.
func (b *Backend) startSandbox(ctx context.Context, limits sandbox.Limits, session bool) (*proc, error) {
	cfg := b.helperConfig(limits, session)
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
	p, err := b.spawn(cfg, limits, cg, session)
	if err != nil {
		release()
		return nil, err
	}
	p.cgroup, p.uid = cg, uid
	p.cleanup = release
	if err := p.awaitSetup(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// helperConfig is the init helper's configuration for a sandbox built for
// limits; spawn adds the descriptors and the interpreter's argv, start the
// uid. A session keeps the hard CPU limit the helper inherits, unless the
// server may raise hard limits, so that the server can move the soft one
// before each call (see armCPULimit).
func (b *Backend) helperConfig(limits sandbox.Limits, session bool) *initconfig.Config {
	cfg := &initconfig.Config{
		Rootless:     b.rootless,
		Binds:        b.layout.binds,
		FileBinds:    b.layout.fileBinds,
		Symlinks:     b.layout.symlinks,
		Mounts:       b.layout.mounts,
		ScratchBytes: limits.MaxFileBytes,
		Python:       b.interp.Executable,
		Env:          b.layout.env,
		// Without a memory cgroup nothing bounds memfd and System V IPC memory.
		DenyUnaccountedMemory: b.cgroups == nil,
		Rlimits: initconfig.Rlimits{
			AddressSpace: uint64(limits.MemoryBytes),
			CPUSeconds:   uint64(max(1, (limits.CPUTime+time.Second-1)/time.Second)),
			Processes:    uint64(limits.MaxProcesses),
			FileSize:     uint64(limits.MaxFileBytes),
			OpenFiles:    uint64(limits.MaxOpenFiles),
			KeepCPUHard:  session && !b.raiseCPUHard,
		},
	}
	if b.network != nil {
		cfg.ProxyPort = ProxyPort
	}
	return cfg
}

// spawn starts the init helper in new namespaces with its pipes wired.
//
// With cgroups, the parent moves the sandbox into them while it sets itself
// up and the interpreter starts (a move waits for an RCU grace period, up
// to several milliseconds, which is then off the critical path).
// awaitSetup waits for the move too, so no code reaches a sandbox outside
// its cgroups: before its code arrives the harness runs nothing, and it has
// started no process.
func (b *Backend) spawn(cfg *initconfig.Config, limits sandbox.Limits, cg *sandboxCgroup, session bool) (*proc, error) {
	fds, err := openPipes(cfg, session)
	if err != nil {
		return nil, err
	}
	defer fds.closeChildEnds()
	p, err := b.startHelper(cfg, fds, limits)
	if err != nil {
		fds.closeParentEnds()
		return nil, err
	}
	p.watch(b, fds, cg, limits)
	return p, nil
}

// startHelper starts the helper process for cfg, whose descriptors fds
// holds, and records it so Close can kill it. On error nothing was
// started, and fds is left to the caller.
func (b *Backend) startHelper(cfg *initconfig.Config, fds *pipes, limits sandbox.Limits) (*proc, error) {
	args := sandbox.PrecompiledHarnessArgs(b.harness, cfg.EnvelopeFD)
	if cfg.ControlFD != 0 {
		var err error
		args, err = sandbox.PrecompiledSessionHarnessArgs(b.harness, sandbox.SessionOptions{
			Control: sandbox.ControlFD(cfg.ControlFD),
			SysPath: b.interp.SitePackages,
			Workdir: initconfig.Workdir,
		})
		if err != nil {
			return nil, err
		}
	}
	cfg.Argv = append([]string{b.interp.Executable}, args...)
	encoded, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	p := &proc{
		id:           newSandboxID(),
		stdin:        fds.stdin,
		statusR:      fds.status,
		stdout:       sandbox.NewOutputBuffer(limits.MaxOutputBytes),
		stderr:       sandbox.NewOutputBuffer(limits.MaxOutputBytes),
		envelope:     make(chan []byte, 1),
		readLimit:    make(chan int, 1),
		envelopeFD:   cfg.EnvelopeFD,
		control:      fds.control,
		ready:        make(chan struct{}),
		joined:       make(chan error, 1),
		done:         make(chan struct{}),
		stderrCopied: make(chan struct{}),
		proxyCh:      fds.proxy,
		cleanup:      func() {},
	}
	p.cmd = &exec.Cmd{
		Path: b.self,
		Args: []string{initconfig.Arg0},
		Env:  []string{initconfig.ConfigEnv + "=" + encoded, "GOGC=off", "GOMAXPROCS=1"},
		// The helper's own stderr is the setup status pipe; the code's
		// stderr goes in as cfg.CodeStderrFD and is moved to fd 2 just
		// before exec.
		Stdin:       fds.stdinR,
		Stdout:      p.stdout,
		Stderr:      fds.statusW,
		ExtraFiles:  fds.child,
		SysProcAttr: b.sysProcAttr(),
		// The pipes close when the pid namespace dies; this only guards
		// against a bug leaving Wait stuck.
		WaitDelay: 2 * time.Second,
	}
	if err := b.track(p.cmd); err != nil {
		return nil, err
	}
	return p, nil
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

// newSandboxID returns a fresh random sandbox id.
func newSandboxID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux
	return "local-" + hex.EncodeToString(b[:])
}
