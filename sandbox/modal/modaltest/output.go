package modaltest

import (
	"fmt"
	"os"
	"sync"
)

// outputStream is everything a process wrote to stdout or stderr, kept so
// that readers can start (or resume) at any offset, as the router's
// TaskExecStdioRead allows.
type outputStream struct {
	mu      sync.Mutex
	data    []byte
	done    bool          // the pipe reached end of file (or was closed)
	changed chan struct{} // closed and replaced whenever data or done changes
}

func newOutputStream() *outputStream {
	return &outputStream{changed: make(chan struct{})}
}

// newClosedOutputStream is the stream of a descriptor sent to /dev/null.
func newClosedOutputStream() *outputStream {
	o := newOutputStream()
	o.finish()
	return o
}

func (o *outputStream) append(p []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.data = append(o.data, p...)
	o.notifyLocked()
}

func (o *outputStream) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done {
		o.done = true
		o.notifyLocked()
	}
}

func (o *outputStream) notifyLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// read returns up to limit bytes from offset. ended is true when offset is
// at the end of a finished stream. When there is nothing to return yet,
// changed is closed as soon as there may be. The chunk aliases the buffer,
// which is only ever appended to.
func (o *outputStream) read(offset uint64, limit int) (chunk []byte, ended bool, changed <-chan struct{}, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if offset > uint64(len(o.data)) {
		return nil, false, nil, fmt.Errorf("offset %d is past the %d bytes written", offset, len(o.data))
	}
	rest := o.data[offset:]
	if len(rest) > limit {
		rest = rest[:limit]
	}
	if len(rest) > 0 {
		return rest, false, nil, nil
	}
	return nil, o.done, o.changed, nil
}

// String returns everything written so far.
func (o *outputStream) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.data)
}

// pump copies a pipe into a stream until the pipe ends or is closed,
// calling changed after each chunk and at the end.
func pump(r *os.File, out *outputStream, changed func()) {
	defer changed()
	defer out.finish()
	defer r.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out.append(buf[:n])
			changed()
		}
		if err != nil {
			return
		}
	}
}
