package modaltest

import (
	"fmt"
	"syscall"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A sandbox's own command and its idle timeout, as Modal runs them: the
// command (SandboxCreateParams.Command, the definition's entrypoint_args)
// starts with the sandbox, in its working directory, and the sandbox
// finishes when it exits, with its exit code; the sandbox is idle while no
// exec runs (the command's own work is not activity), and an idle timeout
// (idle_timeout_secs) ends it after that long idle.

// startEntrypoint starts sb's command, if its definition has one, and the
// goroutine that finishes sb when the command exits. A command that cannot
// start fails the creation, as an image without it would.
func (s *Server) startEntrypoint(sb *sandbox) error {
	argv := sb.def.GetEntrypointArgs()
	if len(argv) == 0 {
		return nil
	}
	path, args, err := s.resolveCommand(argv)
	if err != nil {
		return err
	}
	dir, err := sb.hostDir("")
	if err != nil {
		return err
	}
	sb.mu.Lock()
	if !sb.live {
		sb.mu.Unlock()
		return status.Errorf(codes.NotFound, "sandbox %s has finished", sb.id)
	}
	p, err := s.startProcess("entrypoint", execSpec{path: path, args: args, dir: dir, env: sb.processEnv(), stdout: true, stderr: true})
	if err != nil {
		sb.mu.Unlock()
		return status.Errorf(codes.InvalidArgument, "modaltest: the sandbox's command: %v", err)
	}
	sb.entry = p
	sb.mu.Unlock()
	s.goBackground(func() {
		select {
		case <-p.exited:
		case <-sb.done:
			return
		}
		code := entrypointExitCode(p)
		st := pb.GenericResult_GENERIC_STATUS_SUCCESS
		if code != 0 {
			st = pb.GenericResult_GENERIC_STATUS_FAILURE
		}
		s.finish(sb, pb.GenericResult_builder{Status: st, Exitcode: int32(code),
			Exception: fmt.Sprintf("the sandbox's command exited with code %d", code)}.Build(), killTerminated)
	})
	return nil
}

// entrypointExitCode is the exit code Modal reports for the command: its
// own, or 128+N for a death by signal N.
func entrypointExitCode(p *process) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return p.state.ExitCode()
}

// idleTimeout is sb's idle timeout; 0 for none.
func (sb *sandbox) idleTimeout() time.Duration {
	return time.Duration(sb.def.GetIdleTimeoutSecs()) * time.Second
}

// armIdleLocked starts sb's idle countdown if it has an idle timeout, is live
// and runs no exec. Caller holds sb.mu.
func (s *Server) armIdleLocked(sb *sandbox) {
	d := sb.idleTimeout()
	if d <= 0 || !sb.live || sb.running > 0 {
		return
	}
	if sb.idle != nil {
		sb.idle.Stop()
	}
	sb.idleSeq++
	seq := sb.idleSeq
	sb.idle = s.opts.afterFunc(d, func() {
		sb.mu.Lock()
		idle := sb.live && sb.running == 0 && sb.idleSeq == seq // not a countdown since replaced
		sb.mu.Unlock()
		if idle {
			s.finish(sb, pb.GenericResult_builder{Status: pb.GenericResult_GENERIC_STATUS_IDLE_TIMEOUT,
				Exception: fmt.Sprintf("Sandbox idle for %s", d)}.Build(), killTerminated)
		}
	})
}

// execStartedLocked counts an exec of sb as running, which stops its idle
// countdown, until the exec exits. Caller holds sb.mu.
func (s *Server) execStartedLocked(sb *sandbox, p *process) {
	sb.running++
	sb.idleSeq++
	if sb.idle != nil {
		sb.idle.Stop()
		sb.idle = nil
	}
	s.goBackground(func() {
		select {
		case <-p.exited:
		case <-sb.done:
			return
		}
		sb.mu.Lock()
		sb.running--
		s.armIdleLocked(sb)
		sb.mu.Unlock()
	})
}
