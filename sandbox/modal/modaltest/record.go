package modaltest

import (
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
)

// Call is one recorded request.
type Call struct {
	// Method is the full gRPC method, e.g. "/modal.client.ModalClient/SandboxCreateV2"
	// or "/modal.task_command_router.TaskCommandRouter/TaskExecStart".
	Method string
	// Request is a copy of the request message (for streaming calls, one Call
	// per message received).
	Request proto.Message
	// Time is when the server received it.
	Time time.Time
}

// Name is the method's short name, e.g. "SandboxCreateV2".
func (c Call) Name() string { return shortName(c.Method) }

// recorder keeps every request the server received, in arrival order,
// including ones that were then refused.
type recorder struct {
	mu       sync.Mutex
	calls    []Call
	inFlight map[string]int // by full method: calls received, not yet answered
}

// begin counts a call of method as in flight; end as answered.
func (r *recorder) begin(method string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inFlight == nil {
		r.inFlight = map[string]int{}
	}
	r.inFlight[method]++
}

func (r *recorder) end(method string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inFlight[method]--; r.inFlight[method] == 0 {
		delete(r.inFlight, method)
	}
}

func (r *recorder) record(method string, req any) {
	msg, ok := req.(proto.Message)
	if !ok {
		return
	}
	c := Call{Method: method, Request: proto.Clone(msg), Time: time.Now()}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// Calls returns every request received since Start (or the last
// ResetRequests), in arrival order. The messages are copies.
func (s *Server) Calls() []Call {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	out := make([]Call, len(s.rec.calls))
	for i, c := range s.rec.calls {
		c.Request = proto.Clone(c.Request)
		out[i] = c
	}
	return out
}

// Requests returns copies of the requests received for one method, in
// arrival order. method is a short name ("SandboxCreateV2", "TaskExecStart")
// or a full one ("/modal.client.ModalClient/SandboxCreateV2"); a short name
// matches in both services. Type-assert the result to the request type, e.g.
// *modal_proto.SandboxCreateV2Request.
func (s *Server) Requests(method string) []proto.Message {
	var out []proto.Message
	for _, c := range s.Calls() {
		if methodMatches(method, c.Method) {
			out = append(out, c.Request)
		}
	}
	return out
}

// MethodNames returns the short names of the methods called, in arrival
// order, one entry per request.
func (s *Server) MethodNames() []string {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	out := make([]string, len(s.rec.calls))
	for i, c := range s.rec.calls {
		out[i] = c.Name()
	}
	return out
}

// ResetRequests forgets every recorded request.
func (s *Server) ResetRequests() {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.calls = nil
}

func shortName(fullMethod string) string {
	return fullMethod[strings.LastIndex(fullMethod, "/")+1:]
}

// methodMatches reports whether a method given by a user (short or full
// name) designates fullMethod.
func methodMatches(method, fullMethod string) bool {
	if strings.HasPrefix(method, "/") {
		return method == fullMethod
	}
	return method == shortName(fullMethod)
}
