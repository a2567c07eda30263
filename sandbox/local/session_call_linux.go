//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/egress"
)

// Execute runs req.Code in the session's interpreter: it gives the
// interpreter the call's CPU time, sends the call with three fresh pipes
// (stdout, stderr, the envelope channel), and returns once the harness has
// reported (its frame carrying the call's nonce), or the interpreter is
// gone. At the timeout, or when ctx ends, the interpreter is interrupted
// (SIGINT: KeyboardInterrupt in the code) and has the session's grace to
// report; past it the sandbox is killed and the session ends.
func (s *session) Execute(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	if err := req.Limits.Validate(); err != nil {
		return sandbox.Result{}, err
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	select {
	case <-s.done:
		return sandbox.Result{}, fmt.Errorf("%w: %s", sandbox.ErrSessionEnded, s.Reason())
	default:
	}
	if err := ctx.Err(); err != nil {
		return sandbox.Result{}, fmt.Errorf("local: session call: %w", err)
	}
	msg, err := sandbox.NewSessionCall(req.Code, sandbox.ReprLimit(req.Limits), req.Files, req.FileLimits)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("prepare the session call: %w", err)
	}
	cpu, err := s.p.armCPULimit(req.Limits.CPUTime, s.b.raiseCPUHard)
	if errors.Is(err, errSandboxGone) {
		<-s.done
		return sandbox.Result{}, fmt.Errorf("%w: %s", sandbox.ErrSessionEnded, s.Reason())
	}
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("local: session call: %w", err)
	}
	s.mu.Lock()
	s.callCPU, s.callLimits = cpu, req.Limits
	s.mu.Unlock()
	c, err := s.openCall(msg, req.Limits)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("local: session call: %w", err)
	}
	return s.run(ctx, c, req.Limits), nil
}

// sessionCall is one call in flight: the server's ends of its pipes and
// what has been read from them.
type sessionCall struct {
	msg              *sandbox.SessionCall
	number           int
	stdout, stderr   *sandbox.OutputBuffer
	envelope         *sandbox.SessionEnvelope
	reported         chan struct{} // closed when the harness's frame has arrived
	out, errs, env   *callPipe
	outW, errW, envW *os.File // the harness's ends, until sent
}

// openCall makes the call's pipes and starts reading them.
func (s *session) openCall(msg *sandbox.SessionCall, limits sandbox.Limits) (*sessionCall, error) {
	c := &sessionCall{
		msg:      msg,
		number:   s.Calls() + 1,
		stdout:   sandbox.NewOutputBuffer(limits.MaxOutputBytes),
		stderr:   sandbox.NewOutputBuffer(limits.MaxOutputBytes),
		envelope: sandbox.NewSessionChannel(msg.Nonce, limits, msg.FileLimits),
		reported: make(chan struct{}),
	}
	var opened []*os.File
	fail := func(err error) (*sessionCall, error) {
		for _, f := range opened {
			f.Close()
		}
		return nil, err
	}
	var reads [3]*os.File
	for i, w := range []**os.File{&c.outW, &c.errW, &c.envW} {
		r, pw, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("pipe: %w", err))
		}
		reads[i], *w = r, pw
		opened = append(opened, r, pw)
	}
	sinks := []io.Writer{c.stdout, c.stderr, &reportWatch{env: c.envelope, reported: c.reported}}
	pipes := []**callPipe{&c.out, &c.errs, &c.env}
	for i, r := range reads {
		cp, err := newCallPipe(r, sinks[i])
		if err != nil {
			for _, started := range pipes[:i] {
				(*started).finish()
			}
			return fail(err)
		}
		*pipes[i] = cp
	}
	return c, nil
}

// reportWatch feeds the envelope channel's bytes to the envelope and
// closes reported once the harness's frame is whole.
type reportWatch struct {
	env      *sandbox.SessionEnvelope
	reported chan struct{}
	once     sync.Once
}

func (w *reportWatch) Write(p []byte) (int, error) {
	n, _ := w.env.Write(p)
	if w.env.Complete() {
		w.once.Do(func() { close(w.reported) })
	}
	return n, nil
}

// run sends the call and waits for its end, then composes the result.
func (s *session) run(ctx context.Context, c *sessionCall, limits sandbox.Limits) sandbox.Result {
	var proxy *egress.Session
	if s.relay != nil {
		proxy = egress.Serve(s.relay.attach(), *s.b.network)
	}
	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		err := c.msg.Send(s.conn, c.outW, c.errW, c.envW)
		c.outW.Close()
		c.errW.Close()
		c.envW.Close()
		sent <- err
	}()
	end := s.wait(ctx, c, sent, limits)
	end.exit.Duration = time.Since(start)
	for _, p := range []*callPipe{c.out, c.errs, c.env} {
		p.finish()
	}
	if end.delivered {
		s.calls.Store(int64(c.number))
	}
	envelope, files := sandbox.SplitFiles(c.envelope.Bytes(), c.msg.Nonce)
	var res sandbox.Result
	if end.dead {
		s.mu.Lock()
		dead, _ := s.callExitLocked()
		s.mu.Unlock()
		dead.TimedOut, dead.Canceled, dead.Shutdown, dead.Duration = end.exit.TimedOut, end.exit.Canceled, end.exit.Shutdown, end.exit.Duration
		res = sandbox.Finalize(Name, dead, envelope, c.msg.Nonce, c.stdout, c.stderr, limits)
		noteSessionLost(&res, end.graceKilled, s.grace)
	} else {
		end.exit.Running, end.exit.Call = true, c.number
		res = sandbox.Finalize(Name, end.exit, envelope, c.msg.Nonce, c.stdout, c.stderr, limits)
	}
	sandbox.AddFiles(&res, files, c.msg.FileLimits)
	res.SandboxID = s.p.id
	if proxy != nil {
		res.Network = proxyLedger(proxy.Close())
	}
	return res
}

// callEnd is how a call ended.
type callEnd struct {
	exit sandbox.ProcessExit // TimedOut, Canceled, Shutdown
	// delivered: the harness took the call's message.
	delivered bool
	// dead: the interpreter ended before it reported; graceKilled: the
	// server killed it when the grace after the interrupt had passed.
	dead, graceKilled bool
}

// wait returns once the harness has reported the call and taken all of
// its message, or the interpreter is gone. It interrupts the code at the
// timeout or when ctx ends, and kills the sandbox when the interpreter
// has not reported within the grace after that. A message that could not
// be delivered, or an envelope channel closed by all its holders without
// the frame, means the interpreter is going (os._exit, a crash, the CPU
// limit), or that the code closed the harness's channels: wait then waits
// for the interpreter's end, or for the timeout.
func (s *session) wait(ctx context.Context, c *sessionCall, sent <-chan error, limits sandbox.Limits) (end callEnd) {
	timer := time.NewTimer(limits.Timeout)
	defer timer.Stop()
	var graceTimer *time.Timer
	var grace <-chan time.Time
	defer func() {
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()
	interrupt := func() {
		if graceTimer == nil {
			_ = s.p.cmd.Process.Signal(syscall.SIGINT)
			graceTimer = time.NewTimer(s.grace)
			grace = graceTimer.C
		}
	}
	reported, ended, ctxDone, pending := c.reported, c.env.ended(), ctx.Done(), sent
	// failed: the message was not delivered; silent: the envelope
	// channel ended without the harness's frame. Either way the
	// interpreter is going, or the code broke the protocol: only its end,
	// or the timeout and the grace after it, can end the call.
	failed, silent := false, false
	for reported != nil || pending != nil || failed || silent {
		select {
		case <-reported:
			reported, ended = nil, nil
		case <-ended: // every holder closed the channel: nothing more can come
			// The frame and the end of file come in this order from one
			// reader, so a frame that came is seen complete here.
			silent = !c.envelope.Complete()
			reported, ended = nil, nil
		case err := <-pending:
			pending, end.delivered, failed = nil, err == nil, err != nil
		case <-s.done:
			end.dead = true
			return end
		case <-timer.C:
			end.exit.TimedOut = true
			interrupt()
		case <-ctxDone:
			ctxDone = nil
			end.exit.Canceled, end.exit.Shutdown = true, sandbox.StoppedByShutdown(ctx)
			interrupt()
		case <-grace:
			end.dead, end.graceKilled = true, true
			s.endWith(fmt.Sprintf("killed after the interrupt: the interpreter did not regain control within %s", s.grace))
			<-s.done
			return end
		}
	}
	return end
}

// noteSessionLost adds to the result of a call during which the session's
// interpreter ended that its state is lost.
func noteSessionLost(res *sandbox.Result, graceKilled bool, grace time.Duration) {
	note := "the session's interpreter is gone, so its state is lost: the next call in this session starts a fresh one"
	if graceKilled {
		note = fmt.Sprintf("the interpreter did not regain control within %s of the interrupt, so the session's state is lost: the next call in this session starts a fresh one", grace)
	}
	if res.Error == nil {
		res.Status = sandbox.StatusError
		res.Error = &sandbox.ErrorInfo{Type: "SessionEnded", Message: note}
		return
	}
	res.Error.Message += "; " + note
}
