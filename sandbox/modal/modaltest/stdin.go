package modaltest

import (
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// stdinPipe feeds a process's stdin from TaskExecStdinWrite calls. Like the
// real router it buffers: a write is accepted at once and delivered by a
// feeder goroutine, so a client never blocks on a process that is not
// reading. Writes carry offsets; a retried write is deduplicated by them.
// Data for a process that no longer reads its stdin is discarded.
type stdinPipe struct {
	w *os.File

	mu       sync.Mutex
	queue    [][]byte
	accepted uint64 // bytes accepted so far: the offset of the next write
	eof      bool   // the client closed stdin
	stopped  bool   // nothing will be delivered any more
	wake     chan struct{}
}

func newStdinPipe(w *os.File) *stdinPipe {
	return &stdinPipe{w: w, wake: make(chan struct{}, 1)}
}

// write accepts data at offset, then closes stdin if eof is set.
func (sp *stdinPipe) write(offset uint64, data []byte, eof bool) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if offset > sp.accepted {
		return status.Errorf(codes.InvalidArgument, "stdin write at offset %d, but only %d bytes have been written", offset, sp.accepted)
	}
	if skip := sp.accepted - offset; skip >= uint64(len(data)) {
		data = nil // a retry of data already accepted
	} else {
		data = data[skip:]
	}
	if len(data) > 0 {
		if sp.eof {
			return status.Error(codes.FailedPrecondition, "stdin is already closed")
		}
		if !sp.stopped {
			sp.queue = append(sp.queue, append([]byte(nil), data...))
		}
		sp.accepted += uint64(len(data))
	}
	if eof {
		sp.eof = true
	}
	sp.signal()
	return nil
}

// status reports the bytes accepted and whether stdin was closed.
func (sp *stdinPipe) status() (uint64, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.accepted, sp.eof
}

func (sp *stdinPipe) signal() {
	select {
	case sp.wake <- struct{}{}:
	default:
	}
}

// run delivers accepted data to the pipe until stdin is closed, the process
// stops reading, or stop is called; then it closes the pipe.
func (sp *stdinPipe) run() {
	defer sp.w.Close()
	for {
		sp.mu.Lock()
		for len(sp.queue) == 0 && !sp.eof && !sp.stopped {
			sp.mu.Unlock()
			<-sp.wake
			sp.mu.Lock()
		}
		if sp.stopped || len(sp.queue) == 0 {
			sp.queue = nil
			sp.mu.Unlock()
			return
		}
		chunk := sp.queue[0]
		sp.queue = sp.queue[1:]
		sp.mu.Unlock()

		if _, err := sp.w.Write(chunk); err != nil {
			// EPIPE (nobody reads any more) or stopped: drop the rest.
			sp.mu.Lock()
			sp.stopped = true
			sp.queue = nil
			sp.mu.Unlock()
			return
		}
	}
}

// stop makes run return promptly, even from a write blocked on a full pipe.
func (sp *stdinPipe) stop() {
	sp.mu.Lock()
	sp.stopped = true
	sp.queue = nil
	sp.mu.Unlock()
	_ = sp.w.SetWriteDeadline(time.Now())
	sp.signal()
}
