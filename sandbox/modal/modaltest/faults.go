package modaltest

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/status"
)

// faults holds the injected failures and latencies, by method as the user
// named it (short or full name).
type faults struct {
	mu          sync.Mutex
	failures    map[string]*failure
	delays      map[string]time.Duration
	holds       map[string]*hold
	imageBuilds failure // failing ImageGetOrCreate results (not statuses)
	output      outputFaults
}

// hold keeps the calls of a method waiting until it is released.
type hold struct {
	released chan struct{}
	once     sync.Once
}

func (h *hold) release() { h.once.Do(func() { close(h.released) }) }

// failure fails the next remaining calls; remaining < 0 means every call.
type failure struct {
	remaining int
	err       error
	message   string
}

// take consumes one failure if one is pending.
func (f *failure) take() bool {
	switch {
	case f == nil || f.remaining == 0:
		return false
	case f.remaining > 0:
		f.remaining--
	}
	return true
}

func (f *faults) init() {
	f.failures = map[string]*failure{}
	f.delays = map[string]time.Duration{}
	f.holds = map[string]*hold{}
}

// forCall returns the latency to inject into a call, the channel it must
// wait for if it is held (nil if not), and the error to fail it with, if
// any, consuming one pending failure.
func (f *faults) forCall(fullMethod string) (time.Duration, <-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var delay time.Duration
	for m, d := range f.delays {
		if methodMatches(m, fullMethod) {
			delay = max(delay, d)
		}
	}
	var held <-chan struct{}
	for m, h := range f.holds {
		if methodMatches(m, fullMethod) {
			held = h.released
		}
	}
	for m, fl := range f.failures {
		if methodMatches(m, fullMethod) && fl.take() {
			return delay, held, fl.err
		}
	}
	return delay, held, nil
}

// takeImageBuildFailure returns the exception message of a pending image
// build failure, consuming it.
func (f *faults) takeImageBuildFailure() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.imageBuilds.take() {
		return f.imageBuilds.message, true
	}
	return "", false
}

// FailRPC makes the next n calls of method fail with err before reaching
// the handler (after any delay set with SetDelay). method is a short name
// ("SandboxCreateV2", "TaskExecStart", ...) or a full one. err should be a
// gRPC status error, e.g. status.Error(codes.ResourceExhausted, "..."); any
// other error reaches the client as codes.Unknown. n < 0 fails every call
// until cleared; n == 0 clears.
//
// n counts RPCs, not SDK calls: the SDK retries Unavailable, Internal,
// Unknown, DeadlineExceeded and Canceled up to 3 more times on the control
// plane (and up to 10 times on the router), so a single such failure is
// usually invisible to the caller.
func (s *Server) FailRPC(method string, n int, err error) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if n == 0 || err == nil {
		delete(s.faults.failures, method)
		return
	}
	s.faults.failures[method] = &failure{remaining: n, err: err}
}

// FailCreates makes the next n SandboxCreateV2 calls fail with err, e.g.
// status.Error(codes.ResourceExhausted, "quota exceeded") or
// status.Error(codes.InvalidArgument, "..."). The SDK returns such errors as
// raw gRPC status errors (AlreadyExists becomes modal.AlreadyExistsError).
// Same n semantics as FailRPC.
func (s *Server) FailCreates(n int, err error) {
	s.FailRPC(methodSandboxCreateV2, n, err)
}

// FailCreate makes every SandboxCreateV2 fail with err until ClearFaults or
// FailCreates(0, nil).
func (s *Server) FailCreate(err error) {
	s.FailCreates(-1, err)
}

// FailImageBuilds makes the next n ImageGetOrCreate calls report a failed
// build with the given exception text, which the SDK turns into a
// modal.RemoteError ("Image build for im-... failed with the exception:\n" +
// message). n < 0 fails every build; n == 0 clears. To fail the RPC itself
// instead, use FailRPC("ImageGetOrCreate", ...).
func (s *Server) FailImageBuilds(n int, message string) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.imageBuilds = failure{remaining: n, message: message}
}

// SetDelay injects latency d into every call of method (short or full
// name) before it is handled; d == 0 clears. A call whose client gives up
// during the delay is not handled at all.
func (s *Server) SetDelay(method string, d time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if d <= 0 {
		delete(s.faults.delays, method)
		return
	}
	s.faults.delays[method] = d
}

// Hold makes every call of method (short or full name) wait, after any
// delay set with SetDelay and before it is handled or failed, until release
// is called; a call whose client gives up meanwhile is not handled. A test
// holds a call to keep it in flight for as long as it needs, and learns
// that it arrived with Await and Requests or InFlight. release may be
// called more than once; ClearFaults releases every hold. A second Hold of
// the same method replaces the first, which stays in force for the calls
// already waiting on it until released.
func (s *Server) Hold(method string) (release func()) {
	h := &hold{released: make(chan struct{})}
	s.faults.mu.Lock()
	s.faults.holds[method] = h
	s.faults.mu.Unlock()
	return func() {
		s.faults.mu.Lock()
		if s.faults.holds[method] == h {
			delete(s.faults.holds, method)
		}
		s.faults.mu.Unlock()
		h.release()
	}
}

// SetCreateDelay injects latency into every sandbox creation (SandboxCreateV2),
// e.g. to benchmark a warm pool against Modal's multi-second creates. A
// create whose client gives up during the delay creates nothing.
func (s *Server) SetCreateDelay(d time.Duration) {
	s.SetDelay(methodSandboxCreateV2, d)
}

// SetMaxLiveSandboxes makes SandboxCreateV2 fail with ResourceExhausted
// while n sandboxes are live; n <= 0 removes the limit.
func (s *Server) SetMaxLiveSandboxes(n int) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.maxLive = max(n, 0)
}

// ClearFaults removes every injected failure and delay (output faults
// included), releases every hold, and removes the live sandbox limit.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.failures = map[string]*failure{}
	s.faults.delays = map[string]time.Duration{}
	for _, h := range s.faults.holds {
		h.release()
	}
	s.faults.holds = map[string]*hold{}
	s.faults.imageBuilds = failure{}
	s.faults.output = outputFaults{}
	s.faults.mu.Unlock()
	s.SetMaxLiveSandboxes(0)
}

// sleepCtx waits d or until ctx is done, returning the context's status.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}
