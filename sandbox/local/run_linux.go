//go:build linux

package local

import (
	"context"
	"os/exec"
	"syscall"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/egress"
)

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
	p.readLimit <- sandbox.MaxChannelBytes(limits, inv.FileLimits)
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
		exit.Canceled, exit.Shutdown = true, sandbox.StoppedByShutdown(ctx)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	exit.Duration = time.Since(start)
	data := <-p.envelope
	<-p.stderrCopied
	exitStatus(p.cmd, &exit)
	exit.CPUTime, exit.CPUTimeKnown = p.cpuTime, p.cpuTimeKnown
	exit.OOMKilled = p.cgroup.oomKilled()
	data, files := sandbox.SplitFiles(data, inv.Nonce)
	res := sandbox.Finalize(Name, exit, data, inv.Nonce, p.stdout, p.stderr, limits)
	sandbox.AddFiles(&res, files, inv.FileLimits)
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
