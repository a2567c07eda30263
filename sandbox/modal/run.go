package modal

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"
	"time"

	sdk "github.com/modal-labs/modal-client/go"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

const (
	// drainGrace is how long the output may take to end once the harness
	// has exited, before the sandbox is terminated to end it (a background
	// process the code started can hold stdout or stderr open).
	drainGrace = 2 * time.Second
	// streamsTimeout is how long the output may take to end once the
	// sandbox is terminated, before the streams are closed on our side.
	streamsTimeout = 5 * time.Second
	// stdinChunk bounds the data of one stdin write (one RPC each).
	stdinChunk = 1 << 20
)

type waitResult struct {
	code int
	err  error
}

// run sends the code to the harness in bx, enforces the call's timeout and
// cancellation, reads stdout and stderr (splitting the envelope out of
// stderr), and composes the Result. The sandbox is terminated as soon as
// the code's fate is known otherwise than by its own exit.
func (b *Backend) run(ctx context.Context, bx *box, inv *sandbox.Invocation, limits sandbox.Limits) (sandbox.Result, error) {
	if bx.proc == nil {
		proc, err := b.startHarness(ctx, bx.sb, limits, limits.Timeout+execGrace, bx.creds)
		if err != nil {
			return sandbox.Result{}, err
		}
		bx.proc = proc
	}
	proc := bx.proc
	stdout := sandbox.NewOutputBuffer(limits.MaxOutputBytes)
	stderr := sandbox.NewOutputBuffer(limits.MaxOutputBytes)
	split := newSplitter(inv.Nonce, stderr, sandbox.MaxEnvelopeBytes(limits))

	start := b.clock.Now()
	// The stdin writer ends by itself once the harness has read it all or
	// the sandbox is gone; Close waits for it.
	b.goTracked(func() { writeStdin(proc.Stdin, inv.Stdin) })
	var streams sync.WaitGroup
	streams.Add(2)
	go func() {
		defer streams.Done()
		_, _ = io.Copy(stdout, proc.Stdout)
	}()
	go func() {
		defer streams.Done()
		_, _ = io.Copy(split, proc.Stderr)
		_ = split.Close()
	}()
	waitCtx, cancelWait := context.WithCancel(context.Background())
	defer cancelWait()
	waited := make(chan waitResult, 1)
	go func() {
		code, err := proc.Wait(waitCtx, nil)
		waited <- waitResult{code, err}
	}()

	timer, stopTimer := b.clock.Timer(limits.Timeout)
	defer stopTimer()
	var (
		exit     sandbox.ProcessExit
		wr       waitResult
		exited   bool
		shutdown bool
	)
	select {
	case wr = <-waited:
		exited = true
	case <-timer:
		exit.TimedOut = true
	case <-ctx.Done():
		exit.Canceled = true
	case <-b.closing:
		exit.Canceled, shutdown = true, true
	}
	exit.Duration = b.clock.Now().Sub(start)
	terminated := false
	if !exited {
		// Cancelling a context does not stop a Modal process: terminating
		// the sandbox does, and ends its output streams.
		_ = b.release(bx.sb)
		terminated = true
	}
	if !waitFor(&streams, drainGrace) {
		if !terminated {
			_ = b.release(bx.sb)
		}
		if !waitFor(&streams, streamsTimeout) {
			_ = proc.Stdout.Close()
			_ = proc.Stderr.Close()
			streams.Wait()
		}
	}

	envelope := split.Envelope()
	var lost error
	switch {
	case !exited:
	case wr.err == nil:
		exitFromCode(&exit, wr.code, envelope, inv.Nonce)
	case errors.As(wr.err, &sdk.ExecTimeoutError{}):
		exit.TimedOut = true
	default:
		lost = wr.err
		exit.Signal = syscall.Signal(9)
	}
	res := sandbox.Finalize(Name, exit, envelope, inv.Nonce, stdout, stderr, limits)
	res.SandboxID = bx.sb.SandboxID
	switch {
	case lost != nil:
		res.Error = &sandbox.ErrorInfo{
			Type:    "SandboxError",
			Message: "the Modal sandbox failed while the code ran (" + serverSaid(lost) + "); it was terminated and the output so far is kept",
		}
	case shutdown:
		res.Error.Message = "the server shut down while the code ran; the sandbox was terminated"
	}
	return res, nil
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
// harness or the sandbox is gone; the exit status tells the rest.
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

// waitFor waits for wg at most d and reports whether it is done.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
