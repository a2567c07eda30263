package modal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	sdk "github.com/modal-labs/modal-client/go"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

const (
	// killedDrainTimeout bounds how long a call stopped before the code
	// ended (timeout, cancellation, shutdown, a dead sandbox) keeps reading
	// the output Modal had sent, once the sandbox's termination is asked
	// for: a termination normally ends the streams at once; a slow or hung
	// one must not hold the answer.
	killedDrainTimeout = 2 * time.Second
	// stdinChunk bounds the data of one stdin write (one RPC each).
	stdinChunk = 1 << 20
)

type waitResult struct {
	code int
	err  error
}

// ending is how a call's run ended, as far as the backend saw it.
type ending struct {
	exit sandbox.ProcessExit
	// exited: the harness exited on its own, with code.
	exited bool
	code   int
	// failure, when not "", is the sandbox failing under the code: the
	// result is a SandboxError saying so.
	failure string
	// stopped, when not "", says what stopped the reading of output still
	// arriving after the harness exited.
	stopped string
}

// run sends the code to the harness in bx, enforces the call's timeout and
// cancellation, watches the sandbox, reads stdout and stderr (splitting
// the envelope out of stderr) and composes the Result. When the harness
// exits, its output is read to its end, however slowly it arrives, within
// the call's own deadline. The caller terminates the sandbox: run only
// asks for it early, when the code must be stopped.
func (b *Backend) run(ctx context.Context, bx *box, inv *sandbox.Invocation, limits sandbox.Limits) (sandbox.Result, error) {
	if bx.proc == nil {
		proc, err := b.startHarness(ctx, bx.sb, limits, limits.Timeout+execGrace, bx.creds)
		if err != nil {
			return sandbox.Result{}, err
		}
		bx.proc = proc
	}
	proc := bx.proc
	stdoutBuf := sandbox.NewOutputBuffer(limits.MaxOutputBytes)
	stderrBuf := sandbox.NewOutputBuffer(limits.MaxOutputBytes)
	split := newFilesSplitter(inv.Nonce, stderrBuf, limits, inv.FileLimits)

	start := b.clock.Now()
	go writeStdin(proc.Stdin, inv.Stdin)
	stdout := readStream("stdout", proc.Stdout, stdoutBuf, nil)
	stderr := readStream("stderr", proc.Stderr, split, func() { _ = split.Close() })
	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	waited := make(chan waitResult, 1)
	go func() {
		code, err := proc.Wait(watchCtx, nil)
		waited <- waitResult{code, err}
	}()
	died := watch(watchCtx, bx.sb)
	timer, stopTimer := b.clock.Timer(limits.Timeout)
	defer stopTimer()

	var e ending
	select {
	case wr := <-waited:
		switch {
		case wr.err == nil:
			e.exited, e.code = true, wr.code
		case errors.As(wr.err, &sdk.ExecTimeoutError{}):
			e.exit.TimedOut = true
		default:
			e.failure = serverSaid(wr.err)
		}
	case <-timer:
		e.exit.TimedOut = true
	case <-ctx.Done():
		e.exit.Canceled, e.exit.Shutdown = true, sandbox.StoppedByShutdown(ctx)
	case <-b.closing:
		e.exit.Canceled, e.exit.Shutdown = true, true
	case code := <-died:
		e.failure = stoppedSaying(code)
	}
	e.exit.Duration = b.clock.Now().Sub(start)
	if e.failure != "" {
		b.preferStop(ctx, &e) // our own shutdown or the client, not a failure
	}
	var losses []streamLoss
	if e.exited {
		// All the output the code wrote is on its way: read it to its end.
		select {
		case <-bothEnded(stdout, stderr):
		case <-timer:
			e.stopped = fmt.Sprintf("the call's time limit of %s s ran out", seconds(limits.Timeout))
		case <-ctx.Done():
			e.exit.Canceled, e.exit.Shutdown = true, sandbox.StoppedByShutdown(ctx)
		case <-b.closing:
			e.exit.Canceled, e.exit.Shutdown = true, true
		case <-died:
			e.stopped = "the sandbox stopped"
		}
	}
	if e.failure == "" { // a failing sandbox takes its streams with it
		for _, s := range []*stream{stdout, stderr} {
			if l, ok := lossAt(s, e.stopped); ok {
				losses = append(losses, l)
			}
		}
	}
	if !(stdout.ended() && stderr.ended()) {
		b.drainKilled(bx.sb, stdout, stderr)
	}

	envelope, files := sandbox.SplitFiles(split.Envelope(), inv.Nonce)
	if e.exited {
		exitFromCode(&e.exit, e.code, envelope, inv.Nonce)
	} else if e.failure != "" {
		e.exit.Signal = syscall.SIGKILL
	}
	res := sandbox.Finalize(Name, e.exit, envelope, inv.Nonce, stdoutBuf, stderrBuf, limits)
	sandbox.AddFiles(&res, files, inv.FileLimits)
	res.SandboxID = bx.sb.SandboxID
	if e.failure != "" {
		res.Error = &sandbox.ErrorInfo{
			Type:    "SandboxError",
			Message: "the Modal sandbox failed while the code ran (" + e.failure + "); it was terminated and the output so far is kept",
		}
	}
	_, envErr := sandbox.ParseEnvelope(envelope, inv.Nonce)
	b.noteLostOutput(&res, envErr == nil, losses)
	return res, nil
}

// preferStop turns a sandbox failure seen while the server shuts down, or
// after the client cancelled, into that: terminating the sandbox is then
// what ended it.
func (b *Backend) preferStop(ctx context.Context, e *ending) {
	select {
	case <-b.closing:
		e.exit.Canceled, e.exit.Shutdown = true, true
	case <-ctx.Done():
		e.exit.Canceled, e.exit.Shutdown = true, sandbox.StoppedByShutdown(ctx)
	default:
		return
	}
	e.failure = ""
}

// drainKilled stops the code, whose output did not end by itself: it asks
// for the sandbox's termination (which ends the streams, after what Modal
// had sent) and keeps reading until the streams end, the termination
// fails, or killedDrainTimeout passes; then it stops reading.
func (b *Backend) drainKilled(sb *sdk.Sandbox, streams ...*stream) {
	released := b.releaseAsync(sb)
	timer, stop := b.clock.Timer(killedDrainTimeout)
	defer stop()
	ended := bothEnded(streams[0], streams[1])
	select {
	case <-ended:
	case <-timer:
	case err := <-released:
		if err == nil {
			select {
			case <-ended:
			case <-timer:
			}
		}
	}
	for _, s := range streams {
		s.stop()
	}
}

// watch delivers the sandbox's exit code once Modal says it has stopped:
// when the machine under a sandbox fails, its exec's own wait retries
// without end, while the control plane knows at once. It gives up quietly
// when ctx ends or Modal cannot say.
func watch(ctx context.Context, sb *sdk.Sandbox) <-chan int {
	stopped := make(chan int, 1)
	go func() {
		if code, err := sb.Wait(ctx, nil); err == nil {
			stopped <- code
		}
	}()
	return stopped
}

// stoppedSaying explains a sandbox's exit code as Modal reports it.
func stoppedSaying(code int) string {
	switch code {
	case 124:
		return "Modal ended it when its lifetime ran out"
	case 137:
		return "Modal terminated it"
	default:
		return fmt.Sprintf("Modal reports it stopped, with exit code %d", code)
	}
}

// exitFromCode fills exit from the exit code Modal reports, which folds a
// death by signal N into 128+N. A code in that range is the process's own
// only when the harness reported it in a valid envelope.
func exitFromCode(exit *sandbox.ProcessExit, code int, envelope []byte, nonce string) {
	if code > 128 && code <= 128+64 {
		env, err := sandbox.ParseEnvelope(envelope, nonce)
		if err != nil || env.ExitCode != code {
			exit.Signal = syscall.Signal(code - 128)
			return
		}
	}
	exit.ExitCode = code
}

// writeStdin sends data in chunks, then end of file. An error means the
// harness or the sandbox is gone; the exit status tells the rest. Nothing
// waits for it: the SDK's stdin writes take no context, so a write Modal
// never answers cannot be cancelled, and is left to end with its
// connection rather than hold the call or Close.
func writeStdin(w io.WriteCloser, data []byte) {
	for len(data) > 0 {
		n := min(len(data), stdinChunk)
		if _, err := w.Write(data[:n]); err != nil {
			return
		}
		data = data[n:]
	}
	_ = w.Close()
}

// seconds formats d in seconds without trailing zeros.
func seconds(d time.Duration) string {
	return fmt.Sprint(d.Seconds())
}
