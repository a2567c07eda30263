package modaltest

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Full method prefixes of the two services, and method names used in code.
const (
	controlPrefix         = "/modal.client.ModalClient/"
	routerPrefix          = "/modal.task_command_router.TaskCommandRouter/"
	methodAuthTokenGet    = controlPrefix + "AuthTokenGet"
	methodSandboxCreateV2 = "SandboxCreateV2"
)

func isControl(fullMethod string) bool { return strings.HasPrefix(fullMethod, controlPrefix) }

// unaryInterceptor records the request, authenticates control plane calls
// (router calls are authorized per task in their handlers), then applies
// injected latency, holds and failures. It counts the call in flight until
// it is answered, and tells Await of both.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s.rec.record(info.FullMethod, req)
	s.begin(info.FullMethod)
	defer s.end(info.FullMethod)
	if err := s.admit(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// streamInterceptor does the same for streaming calls; every message
// received is recorded.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	s.begin(info.FullMethod)
	defer s.end(info.FullMethod)
	if err := s.admit(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, &recordingStream{ServerStream: ss, method: info.FullMethod, s: s})
}

func (s *Server) begin(fullMethod string) {
	s.rec.begin(fullMethod)
	s.changes.notify()
}

func (s *Server) end(fullMethod string) {
	s.rec.end(fullMethod)
	s.changes.notify()
}

func (s *Server) admit(ctx context.Context, fullMethod string) error {
	if isControl(fullMethod) {
		if err := s.checkCredentials(ctx, fullMethod); err != nil {
			return err
		}
	}
	delay, held, err := s.faults.forCall(fullMethod)
	if err := sleepCtx(ctx, delay); err != nil {
		return err
	}
	if held != nil {
		select {
		case <-held:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	return err
}

// recordingStream records every message the client sends.
type recordingStream struct {
	grpc.ServerStream
	method string
	s      *Server
}

// RecvMsg receives a message and records it.
func (r *recordingStream) RecvMsg(m any) error {
	if err := r.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	r.s.rec.record(r.method, m)
	r.s.changes.notify()
	return nil
}
