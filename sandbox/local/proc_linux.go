//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// proc is one started sandbox: its init helper has built it and exec'd the
// interpreter, whose harness waits on stdin for the code.
type proc struct {
	// id names the sandbox in results and logs ("local-" and 16 hex digits).
	id       string
	cmd      *exec.Cmd
	stdin    *os.File
	statusR  *os.File
	stdout   *sandbox.OutputBuffer
	stderr   *sandbox.OutputBuffer
	envelope chan []byte
	// readLimit receives, from the call, how much of the envelope channel
	// to keep: its files frame and envelope (sandbox.MaxChannelBytes).
	readLimit chan int
	// envelopeFD is the envelope channel's descriptor in the interpreter,
	// which the harness's stdin names.
	envelopeFD int
	// control is the server's end of a session's control socket (nil for
	// a sandbox that serves one call); the harness writes its ready byte
	// there, then takes every call from it. The session owns it once the
	// sandbox is set up.
	control *os.File
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

	// reaped is set, under reapMu, just before pid 1 is reaped: while it
	// is false the pid names this sandbox and no other process (see
	// withPid).
	reapMu sync.Mutex
	reaped bool
	// uid is the host uid (and gid) the code runs as when the server is
	// root; 0 when rootless.
	uid int
}

// errSandboxGone: the sandbox's pid 1 has been reaped.
var errSandboxGone = errors.New("the sandbox's interpreter is gone")

// withPid runs f with the host pid of the sandbox's pid 1 while it cannot
// name another process (not yet reaped), or returns errSandboxGone.
func (p *proc) withPid(f func(pid int) error) error {
	p.reapMu.Lock()
	defer p.reapMu.Unlock()
	if p.reaped {
		return errSandboxGone
	}
	return f(p.cmd.Process.Pid)
}

// release gives the sandbox's uid back, removes its cgroups and closes its
// proxy listener, once; the sandbox must be gone.
func (p *proc) release() {
	p.releaseOnce.Do(func() {
		if p.proxyCh != nil {
			p.proxyCh.Close()
		}
		if p.control != nil {
			p.control.Close()
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

// watch starts the goroutines that follow the started sandbox: the move
// into its cgroups, the code's stderr, the envelope channel and the exit of
// its pid 1 (then untracked from b). They take over the server's ends of
// fds but the proxy channel, already p's.
func (p *proc) watch(b *Backend, fds *pipes, cg *sandboxCgroup, limits sandbox.Limits) {
	pid, moved := p.cmd.Process.Pid, make(chan struct{})
	go func() {
		defer close(moved)
		p.joined <- cg.add(pid)
	}()
	go func(stderr *os.File) {
		defer close(p.stderrCopied)
		defer stderr.Close()
		_, _ = io.Copy(p.stderr, stderr)
	}(fds.stderr)
	if fds.control != nil {
		// A session's harness says it is ready on its control socket.
		go func(control *os.File) {
			var ready [1]byte
			if n, _ := io.ReadFull(control, ready[:]); n == 1 && ready[0] == sandbox.ReadyByte {
				close(p.ready)
			}
		}(fds.control)
	}
	// The envelope channel carries the harness's ready byte, then the
	// envelope. It is drained whatever its size; only the first bytes up to
	// the bound are kept.
	go func(envelope *os.File) {
		if envelope == nil {
			return
		}
		defer envelope.Close()
		var ready [1]byte
		if n, _ := io.ReadFull(envelope, ready[:]); n == 1 && ready[0] == sandbox.ReadyByte {
			close(p.ready)
		}
		// The call says how much it keeps before it sends the code: only
		// then can the harness write its frames.
		limit := sandbox.MaxEnvelopeBytes(limits)
		select {
		case limit = <-p.readLimit:
		case <-p.done:
		}
		data, _ := sandbox.ReadEnvelope(envelope, limit)
		p.envelope <- data
	}(fds.envelope)
	go func() {
		// Unreaped, the pid cannot name another process while it is
		// being moved into the cgroups.
		<-moved
		p.cpuTime, p.cpuTimeKnown = cpuTimeAtExit(pid)
		p.reapMu.Lock()
		p.reaped = true
		p.reapMu.Unlock()
		p.waitErr = p.cmd.Wait()
		// Nothing reads the harness's stdin any more (a sandbox that never
		// ran a call is gone too).
		p.stdin.Close()
		b.untrack(p.cmd)
		close(p.done)
	}()
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
		return fmt.Errorf("local: sandbox setup: %w", ctx.Err())
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
		return fmt.Errorf("local: sandbox setup: %w", ctx.Err())
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
		return fmt.Errorf("local: sandbox setup: %w", ctx.Err())
	}
}

// kill ends the sandbox (its pid 1, and with it every process of its pid
// namespace) and waits until it is gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	p.release()
}
