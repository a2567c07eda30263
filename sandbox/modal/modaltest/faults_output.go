package modaltest

import (
	"context"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
)

// Stream names an exec's output stream, for the output faults.
type Stream int

// The output streams of an exec.
const (
	Stdout Stream = iota + 1
	Stderr
)

// outputFaults are the injected faults of the output streams; guarded by
// faults.mu.
type outputFaults struct {
	// rate, when > 0, caps each stream's delivery in bytes per second.
	rate int
	// drops end a stream with an error once it has sent so many bytes.
	drops map[Stream]outputDrop
}

type outputDrop struct {
	after uint64
	err   error
}

// ThrottleOutput makes every exec's stdout and stderr reach clients at
// most bytesPerSecond each (per read stream), as over a slow or congested
// link: the process writes at its own pace, its output arrives later. 0
// removes the throttle.
func (s *Server) ThrottleOutput(bytesPerSecond int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.output.rate = max(bytesPerSecond, 0)
}

// DropOutput makes every read of stream end with err once the stream has
// sent after bytes (counted from the start of the output), as when the
// router drops a stream mid-call; a read from further on fails at once.
// err should be a gRPC status error; the SDK retries Unavailable,
// Internal, Unknown, DeadlineExceeded and Canceled on its own, and returns
// any other code to the reader. A nil err clears the fault.
func (s *Server) DropOutput(stream Stream, after int, err error) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if s.faults.output.drops == nil {
		s.faults.output.drops = map[Stream]outputDrop{}
	}
	if err == nil {
		delete(s.faults.output.drops, stream)
		return
	}
	s.faults.output.drops[stream] = outputDrop{after: uint64(max(after, 0)), err: err}
}

// outputPlan is what the faults allow one send of a stream starting at
// offset: at most limit bytes, then a pause of pause per byte sent; or, at
// or past a drop point, failing with err.
func (f *faults) outputPlan(fd pb.TaskExecStdioFileDescriptor, offset uint64, limit int) (n int, perByte time.Duration, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stream := Stdout
	if fd == pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDERR {
		stream = Stderr
	}
	n = limit
	if d, ok := f.output.drops[stream]; ok {
		if offset >= d.after {
			return 0, 0, d.err
		}
		n = int(min(uint64(n), d.after-offset))
	}
	if rate := f.output.rate; rate > 0 {
		// Sends of a tenth of a second's worth keep the flow smooth.
		n = min(n, max(rate/10, 1))
		perByte = time.Second / time.Duration(rate)
	}
	return n, perByte, nil
}

// pace waits out the throttle for n bytes sent, or until ctx ends.
func pace(ctx context.Context, n int, perByte time.Duration) error {
	return sleepCtx(ctx, time.Duration(n)*perByte)
}
