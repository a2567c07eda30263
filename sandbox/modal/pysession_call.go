package modal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	sdk "github.com/modal-labs/modal-client/go"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Execute runs req.Code in the session's interpreter: an exec of the
// session client carries the call, and the call's output and envelope
// come back on the client's streams, split as a fresh call's are. It
// returns once the client has exited (the harness has closed the call)
// and the output has ended, or sessionDrainTimeout after the client
// exited when processes the code left running hold the streams. At the
// timeout, or when ctx ends or the backend closes, it closes the client's
// stdin, which interrupts the code (SIGINT, KeyboardInterrupt); an
// interpreter that has not ended the call within the grace after that has
// its sandbox terminated, and the session ends.
func (s *pySession) Execute(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	if err := req.Limits.Validate(); err != nil {
		return sandbox.Result{}, err
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()
	if err := s.endedError(); err != nil {
		return sandbox.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return sandbox.Result{}, fmt.Errorf("modal: session call: %w", err)
	}
	msg, err := sandbox.NewSessionCall(req.Code, sandbox.ReprLimit(req.Limits), req.Files, req.FileLimits)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("modal: prepare the session call: %w", err)
	}
	if !s.b.begin() {
		return sandbox.Result{}, ErrClosed
	}
	defer s.b.ops.Done()
	proc, err := s.sb.Exec(ctx, sessionClientArgv(s.socket, req.Limits.CPUTime), &sdk.SandboxExecParams{
		Timeout: wholeSeconds(req.Limits.Timeout + s.grace + execGrace),
		Workdir: workdir,
	})
	if err != nil {
		if s.stoppedNow() {
			return sandbox.Result{}, s.endedError()
		}
		return sandbox.Result{}, s.b.describe(stageExec, err, s.creds)
	}
	return s.run(ctx, proc, msg, req.Limits)
}

// endedError is the error of a call that comes once the session has
// ended; nil while it lives.
func (s *pySession) endedError() error {
	select {
	case <-s.done:
		return fmt.Errorf("%w: %s", sandbox.ErrSessionEnded, s.Reason())
	default:
		return nil
	}
}

// stoppedNow asks Modal, once, whether the sandbox has stopped, and ends
// the session if so.
func (s *pySession) stoppedNow() bool {
	ctx, cancel := context.WithTimeout(context.Background(), terminateAttemptTimeout)
	defer cancel()
	code, err := s.sb.Poll(ctx, nil)
	switch {
	case err == nil && code != nil:
		s.ended(*code)
	case err != nil && isNotFound(err):
		s.end("Modal no longer knows the session's sandbox")
	default:
		return false
	}
	return true
}

// sessionCallEnd is how a session call ended.
type sessionCallEnd struct {
	exit sandbox.ProcessExit // TimedOut, Canceled, Shutdown
	// dead: the interpreter is gone; graceKilled: the backend terminated
	// the sandbox when the grace after the interrupt had passed.
	dead, graceKilled bool
	// err, when not nil, is the backend failing: the call's result is
	// unknown.
	err error
}

// run feeds the call to the client and waits for its end.
func (s *pySession) run(ctx context.Context, proc *sdk.ContainerProcess, msg *sandbox.SessionCall, limits sandbox.Limits) (sandbox.Result, error) {
	stdoutBuf := sandbox.NewOutputBuffer(limits.MaxOutputBytes)
	stderrBuf := sandbox.NewOutputBuffer(limits.MaxOutputBytes)
	split := newFilesSplitter(msg.Nonce, stderrBuf, limits, msg.FileLimits)
	enveloped := make(chan struct{})
	var envelopeOnce sync.Once
	split.onEnvelope = func() { envelopeOnce.Do(func() { close(enveloped) }) }
	interrupt, finished := make(chan struct{}), make(chan struct{})
	defer close(finished)
	go feedClient(proc.Stdin, msg.Message, interrupt, finished)
	stdout := readStream("stdout", proc.Stdout, stdoutBuf, nil)
	stderr := readStream("stderr", proc.Stderr, split, func() { _ = split.Close() })
	waitCtx, stopWaiting := context.WithCancel(context.Background())
	defer stopWaiting()
	waited := make(chan waitResult, 1)
	go func() {
		code, err := proc.Wait(waitCtx, nil)
		waited <- waitResult{code, err}
	}()

	start := s.b.clock.Now()
	end := s.await(ctx, limits, waited, bothEnded(stdout, stderr), enveloped, interrupt)
	end.exit.Duration = s.b.clock.Now().Sub(start)
	for _, st := range []*stream{stdout, stderr} {
		st.stop()
	}
	if end.err != nil {
		return sandbox.Result{}, end.err
	}
	envelope, files := sandbox.SplitFiles(split.Envelope(), msg.Nonce)
	env, envErr := sandbox.ParseEnvelope(envelope, msg.Nonce)
	var res sandbox.Result
	if end.dead {
		exit := end.exit
		s.deathExit(&exit, end.graceKilled, envelope, msg.Nonce)
		res = sandbox.Finalize(Name, exit, envelope, msg.Nonce, stdoutBuf, stderrBuf, limits)
		noteSessionLost(&res, s.Reason())
	} else {
		number := s.Calls() + 1
		if envErr == nil && env.Call > s.Calls() {
			number = env.Call // a session found again, or served by a replica meanwhile
		}
		s.calls.Store(int64(number))
		end.exit.Running, end.exit.Call = true, number
		res = sandbox.Finalize(Name, end.exit, envelope, msg.Nonce, stdoutBuf, stderrBuf, limits)
	}
	sandbox.AddFiles(&res, files, msg.FileLimits)
	res.SandboxID = s.sb.SandboxID
	var losses []streamLoss
	for _, st := range []*stream{stdout, stderr} {
		if l, ok := lossAt(st, ""); ok && !end.dead {
			losses = append(losses, l)
		}
	}
	s.b.noteLostOutput(&res, envErr == nil, losses)
	return res, nil
}

// await waits for the call to end: the client exited and the output
// ended (or sessionDrainTimeout passed since the client exited), or the
// interpreter is gone.
func (s *pySession) await(ctx context.Context, limits sandbox.Limits, waited <-chan waitResult, streamsEnded, enveloped <-chan struct{}, interrupt chan struct{}) (end sessionCallEnd) {
	clk := s.b.clock
	timer, stopTimer := clk.Timer(limits.Timeout)
	defer stopTimer()
	var grace, drain, envelopeBound <-chan time.Time
	var awaitEnvelope <-chan struct{} // set once the drain has passed without the envelope
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	after := func(d time.Duration) <-chan time.Time {
		c, stop := clk.Timer(d)
		stops = append(stops, stop)
		return c
	}
	interruptNow := func() {
		if grace == nil {
			close(interrupt)
			grace = after(s.grace)
		}
	}
	ctxDone, closing := ctx.Done(), s.b.closing
	var client *waitResult // the client's exit, once known
	for {
		select {
		case wr := <-waited:
			client, waited = &wr, nil
			timer, ctxDone, closing, grace = nil, nil, nil, nil // the call is over, one way or another
			drain = after(sessionDrainTimeout)
			switch {
			case wr.err == nil && wr.code == sandbox.SessionClientServed:
			case wr.err == nil && wr.code == sandbox.SessionClientUnreachable:
				s.endWith("the session's interpreter could not be reached (it ended, or its socket was removed)")
				end.err = s.endedError()
				return end
			case wr.err == nil && wr.code == sandbox.SessionClientNoCPULimit:
				end.err = errors.New("modal: the session's CPU time limit could not be set for this call, so it did not run; end the session (end_session) and start it again")
				return end
			case wr.err == nil && wr.code != sandbox.SessionClientEnded:
				end.err = fmt.Errorf("modal: the session client failed with exit code %d; the session's image must provide python3", wr.code)
				return end
			}
		case <-streamsEnded:
			streamsEnded = nil
		case <-timer:
			timer = nil
			end.exit.TimedOut = true
			interruptNow()
		case <-ctxDone:
			ctxDone = nil
			end.exit.Canceled, end.exit.Shutdown = true, sandbox.StoppedByShutdown(ctx)
			interruptNow()
		case <-closing:
			closing = nil
			end.exit.Canceled, end.exit.Shutdown = true, true
			interruptNow()
		case <-grace:
			end.dead, end.graceKilled = true, true
			s.endWith(fmt.Sprintf("killed after the interrupt: the interpreter did not regain control within %s", s.grace))
			return end
		case <-awaitEnvelope:
			return end
		case <-envelopeBound:
			return end
		case <-s.done:
			end.dead = true
			return end
		case <-drain:
			drain = nil
			if client.err == nil && client.code == sandbox.SessionClientServed {
				select {
				case <-enveloped:
					return end // processes the code left running hold the streams
				default:
					// The envelope is still on its way (Modal streams
					// stdout and stderr apart): wait for it, bounded by
					// the call's own timeout.
					awaitEnvelope, envelopeBound = enveloped, after(limits.Timeout)
					continue
				}
			}
			// The interpreter ended under the call, or Modal lost the
			// client, and the sandbox has not been seen to stop.
			end.dead = true
			if !s.stoppedNow() {
				why := "the session's interpreter ended during the call"
				if client.err != nil {
					why = "Modal lost the session's call (" + serverSaid(client.err) + ")"
				}
				s.endWith(why)
			}
			return end
		}
		if client != nil && client.err == nil && client.code == sandbox.SessionClientServed && streamsEnded == nil {
			return end
		}
	}
}

// feedClient writes the call's message on the client's stdin and keeps
// stdin open until interrupt is closed, when it closes it (the client
// then interrupts the code), or the call is finished. Nothing waits for
// it (see writeStdin).
func feedClient(w io.WriteCloser, message []byte, interrupt, finished <-chan struct{}) {
	for len(message) > 0 {
		n := min(len(message), stdinChunk)
		if _, err := w.Write(message[:n]); err != nil {
			return
		}
		message = message[n:]
	}
	select {
	case <-interrupt:
		_ = w.Close()
	case <-finished:
	}
}

// deathExit fills exit with what is known of the interpreter's end: the
// sandbox's exit code when Modal reported it, else a kill.
func (s *pySession) deathExit(exit *sandbox.ProcessExit, graceKilled bool, envelope []byte, nonce string) {
	code, known := s.exit()
	switch {
	case graceKilled || !known || code == 137 || code == 124:
		exit.Signal = syscall.SIGKILL
	default:
		exitFromCode(exit, code, envelope, nonce)
	}
}

// noteSessionLost adds to the result of a call during which the session
// ended that its state is lost, and why.
func noteSessionLost(res *sandbox.Result, reason string) {
	note := "the session's interpreter is gone (" + reason + "), so its state is lost: the next call in this session starts a fresh one"
	if res.Error == nil {
		res.Status = sandbox.StatusError
		res.Error = &sandbox.ErrorInfo{Type: "SessionEnded", Message: note}
		return
	}
	info := *res.Error
	info.Message += "; " + note
	res.Error = &info
}

// exitRecord is the sandbox's exit code as Modal reported it.
type exitRecord struct {
	mu    sync.Mutex
	code  int
	known bool
}

// ended ends the session for the sandbox's exit code.
func (s *pySession) ended(code int) {
	s.exitCodes.mu.Lock()
	if !s.exitCodes.known {
		s.exitCodes.code, s.exitCodes.known = code, true
	}
	s.exitCodes.mu.Unlock()
	s.end(s.stoppedReason(code))
}

// exit is the sandbox's exit code, if Modal reported it.
func (s *pySession) exit() (int, bool) {
	s.exitCodes.mu.Lock()
	defer s.exitCodes.mu.Unlock()
	return s.exitCodes.code, s.exitCodes.known
}
