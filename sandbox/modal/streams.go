package modal

import (
	"fmt"
	"io"
	"sync/atomic"
)

// stream is one output stream of the harness, read to its end by a
// goroutine of its own.
type stream struct {
	name string // "stdout" or "stderr", for messages
	r    io.ReadCloser
	done chan struct{} // closed once the stream has ended, either way
	cut  atomic.Bool   // stop ended it

	// Valid once done is closed.
	n   int64 // bytes read
	err error // why it ended early; nil at its end of file
}

// readStream copies r into w until the stream ends, then calls end (if
// not nil).
func readStream(name string, r io.ReadCloser, w io.Writer, end func()) *stream {
	s := &stream{name: name, r: r, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.n, s.err = io.Copy(w, r)
		if end != nil {
			end()
		}
	}()
	return s
}

// ended reports whether the stream has ended.
func (s *stream) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop ends the stream if it has not ended (the SDK cancels its read) and
// waits until it has.
func (s *stream) stop() {
	if !s.ended() {
		s.cut.Store(true)
		_ = s.r.Close()
	}
	<-s.done
}

// bothEnded is closed once both streams have ended.
func bothEnded(a, b *stream) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		<-a.done
		<-b.done
		close(done)
	}()
	return done
}

// streamLoss is a stream whose end the call did not get: it failed, or it
// was still open when the call had to stop reading it.
type streamLoss struct {
	stream string
	n      int64
	err    error  // the stream's failure; nil if it was still open
	when   string // with err nil: what stopped the reading
}

// lossAt is s's loss, if any, as of now: a failure if it has ended with
// one, or, if it is still open, still open when stopped by when ("" if
// that is no loss).
func lossAt(s *stream, when string) (streamLoss, bool) {
	switch {
	case !s.ended() && when == "":
		return streamLoss{}, false
	case !s.ended():
		return streamLoss{stream: s.name, when: when}, true
	case s.err != nil && !s.cut.Load():
		return streamLoss{stream: s.name, n: s.n, err: s.err}, true
	}
	return streamLoss{}, false
}

// String says what was lost, in one clause.
func (l streamLoss) String() string {
	if l.err != nil {
		return fmt.Sprintf("Modal's %s stream failed after %d bytes (Modal said: %s)", l.stream, l.n, serverSaid(l.err))
	}
	return fmt.Sprintf("Modal's %s stream had not finished arriving when %s", l.stream, l.when)
}
