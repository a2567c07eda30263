//go:build linux

package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// callPipe is the server's end of one of a session call's pipes (stdout,
// stderr, the envelope channel), read into sink while the call runs.
//
// A session's interpreter outlives the call, and processes the code left
// running may hold the write end for as long as they like, so the call
// cannot wait for end of file. Once the harness's envelope has arrived,
// everything the interpreter wrote during the call is already in the pipe
// (it flushes its streams before reporting), so finish stops the reader
// and takes exactly what the pipe holds at that moment with non-blocking
// reads, never more: a process that keeps writing cannot hold the call
// open, and what it writes later meets a closed pipe (EPIPE).
type callPipe struct {
	f    *os.File
	rc   syscall.RawConn
	sink io.Writer
	buf  []byte
	// eof is closed when the reader has stopped: at end of file (every
	// writer closed) or because finish woke it.
	eof chan struct{}
}

// newCallPipe starts reading r, the read end of a pipe made by os.Pipe
// (non-blocking, in Go's poller), into sink.
func newCallPipe(r *os.File, sink io.Writer) (*callPipe, error) {
	rc, err := r.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("read a call's pipe: %w", err)
	}
	c := &callPipe{f: r, rc: rc, sink: sink, buf: make([]byte, 32<<10), eof: make(chan struct{})}
	go c.read()
	return c, nil
}

// read copies what arrives until end of file or until finish wakes it.
func (c *callPipe) read() {
	defer close(c.eof)
	_ = c.rc.Read(func(fd uintptr) bool {
		return c.drain(fd, -1)
	})
}

// drain reads fd into the sink until it would block (false) or reaches end
// of file or an error (true); with limit >= 0, it stops after limit bytes
// (true).
func (c *callPipe) drain(fd uintptr, limit int) bool {
	for limit != 0 {
		p := c.buf
		if limit > 0 && limit < len(p) {
			p = p[:limit]
		}
		n, err := unix.Read(int(fd), p)
		switch {
		case n > 0:
			_, _ = c.sink.Write(p[:n])
			if limit > 0 {
				limit -= n
			}
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return false
		default: // end of file, or an error no later read would mend
			return true
		}
	}
	return true
}

// finish stops the reader, reads what the pipe holds now without blocking,
// and closes the server's end.
func (c *callPipe) finish() {
	// A past deadline only wakes a reader parked in the poller; it never
	// stands in for reading: what is left is read below, in full.
	_ = c.f.SetReadDeadline(time.Unix(1, 0))
	<-c.eof
	_ = c.rc.Control(func(fd uintptr) {
		// TIOCINQ is FIONREAD: the bytes a pipe holds.
		if n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil && n > 0 {
			c.drain(fd, n)
		}
	})
	c.f.Close()
}

// ended returns a channel closed once the pipe has reached end of file
// (or finish has run).
func (c *callPipe) ended() <-chan struct{} { return c.eof }
