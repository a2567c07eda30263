package modaltest

import (
	"context"
	"errors"
	"io"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// stdioChunk bounds one TaskExecStdioRead message.
const stdioChunk = 256 << 10

// routerService implements the task command router: exec, stdin,
// stdout/stderr and exit status. Every call carries the task's JWT as a
// bearer token; calls for a finished sandbox answer NotFound.
// Unimplemented methods answer Unimplemented.
type routerService struct {
	pb.UnimplementedTaskCommandRouterServer
	s *Server
}

// TaskExecStart starts argv as a local process. Starting an exec id that
// already exists is a no-op (the SDK may retry).
func (r *routerService) TaskExecStart(ctx context.Context, req *pb.TaskExecStartRequest) (*pb.TaskExecStartResponse, error) {
	sb, err := r.s.authorizeTask(ctx, req.GetTaskId())
	if err != nil {
		return nil, err
	}
	switch {
	case req.GetExecId() == "":
		return nil, status.Error(codes.InvalidArgument, "missing exec_id")
	case req.GetPtyInfo().GetEnabled():
		return nil, status.Error(codes.Unimplemented, "modaltest: PTY execs are not supported")
	case req.GetContainerId() != "":
		return nil, status.Error(codes.Unimplemented, "modaltest: sidecar containers are not supported")
	}
	path, args, err := r.s.resolveCommand(req.GetCommandArgs())
	if err != nil {
		return nil, err
	}

	sb.mu.Lock()
	defer sb.mu.Unlock()
	if !sb.live {
		return nil, status.Errorf(codes.NotFound, "task %s not found: sandbox %s has finished", sb.taskID, sb.id)
	}
	if _, ok := sb.execs[req.GetExecId()]; ok {
		return &pb.TaskExecStartResponse{}, nil
	}
	dir, err := sb.hostDir(req.GetWorkdir())
	if err != nil {
		return nil, err
	}
	spec := execSpec{
		path:    path,
		args:    args,
		dir:     dir,
		env:     sb.processEnv(req.GetEnv(), sourcesEnv(req.GetSecretSources())),
		stdout:  req.GetStdoutConfig() == pb.TaskExecStdoutConfig_TASK_EXEC_STDOUT_CONFIG_PIPE,
		stderr:  req.GetStderrConfig() == pb.TaskExecStderrConfig_TASK_EXEC_STDERR_CONFIG_PIPE,
		merge:   req.GetStderrConfig() == pb.TaskExecStderrConfig_TASK_EXEC_STDERR_CONFIG_STDOUT,
		timeout: time.Duration(req.GetTimeoutSecs()) * time.Second,
	}
	p, err := r.s.startProcess(req.GetExecId(), spec)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "modaltest: %v", err)
	}
	sb.execs[req.GetExecId()] = p
	sb.started = append(sb.started, p)
	r.s.execStartedLocked(sb, p)
	return &pb.TaskExecStartResponse{}, nil
}

// exec finds an exec of an authorized task.
func (r *routerService) exec(ctx context.Context, taskID, execID string) (*process, error) {
	sb, err := r.s.authorizeTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	p, ok := sb.execs[execID]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "exec %s not found", execID)
	}
	return p, nil
}

// TaskExecStdinWrite writes to an exec's stdin at an offset, then closes
// it if eof is set.
func (r *routerService) TaskExecStdinWrite(ctx context.Context, req *pb.TaskExecStdinWriteRequest) (*pb.TaskExecStdinWriteResponse, error) {
	p, err := r.exec(ctx, req.GetTaskId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	if err := p.stdin.write(req.GetOffset(), req.GetData(), req.GetEof()); err != nil {
		return nil, err
	}
	return &pb.TaskExecStdinWriteResponse{}, nil
}

// TaskExecStdinWriteStream is the streaming form of TaskExecStdinWrite: a
// Start message, Data messages, then End, which closes stdin.
func (r *routerService) TaskExecStdinWriteStream(stream grpc.ClientStreamingServer[pb.TaskExecStdinWriteStreamRequest, pb.TaskExecStdinWriteStreamResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return status.Error(codes.InvalidArgument, "the first message must be start")
	}
	p, err := r.exec(stream.Context(), start.GetTaskId(), start.GetExecId())
	if err != nil {
		return err
	}
	offset := start.GetOffset()
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "stdin stream ended without end")
		}
		if err != nil {
			return err
		}
		end := msg.GetEnd() != nil
		if err := p.stdin.write(offset, msg.GetData(), end); err != nil {
			return err
		}
		offset += uint64(len(msg.GetData()))
		if end {
			return stream.SendAndClose(&pb.TaskExecStdinWriteStreamResponse{})
		}
	}
}

// TaskExecStdinStatus reports how much stdin was accepted and whether it
// was closed.
func (r *routerService) TaskExecStdinStatus(ctx context.Context, req *pb.TaskExecStdinStatusRequest) (*pb.TaskExecStdinStatusResponse, error) {
	p, err := r.exec(ctx, req.GetTaskId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	n, closed := p.stdin.status()
	return pb.TaskExecStdinStatusResponse_builder{NumBytesWritten: n, Closed: closed}.Build(), nil
}

// TaskExecStdioRead streams an exec's stdout or stderr from an offset. The
// stream ends (EOF) only when the process's stream really ends: every
// holder of the pipe has closed it. If the server killed the process, the
// output so far is sent and then the stream fails: DeadlineExceeded after an
// exec timeout (the SDK reports modal.ExecTimeoutError), NotFound after the
// sandbox was terminated.
func (r *routerService) TaskExecStdioRead(req *pb.TaskExecStdioReadRequest, stream grpc.ServerStreamingServer[pb.TaskExecStdioReadResponse]) error {
	ctx := stream.Context()
	p, err := r.exec(ctx, req.GetTaskId(), req.GetExecId())
	if err != nil {
		return err
	}
	var out *outputStream
	switch req.GetFileDescriptor() {
	case pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDOUT:
		out = p.stdout
	case pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDERR:
		out = p.stderr
	default:
		return status.Errorf(codes.InvalidArgument, "unsupported file descriptor %v", req.GetFileDescriptor())
	}
	offset := req.GetOffset()
	for {
		limit, perByte, err := r.s.faults.outputPlan(req.GetFileDescriptor(), offset, stdioChunk)
		if err != nil {
			return err // an injected drop (DropOutput)
		}
		chunk, ended, changed, err := out.read(offset, limit)
		if err != nil {
			return status.Error(codes.OutOfRange, err.Error())
		}
		if len(chunk) > 0 {
			if err := stream.Send(pb.TaskExecStdioReadResponse_builder{Data: chunk}.Build()); err != nil {
				return err
			}
			offset += uint64(len(chunk))
			if err := pace(ctx, len(chunk), perByte); err != nil { // ThrottleOutput
				return err
			}
			continue
		}
		if ended {
			return p.endOfOutput()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// TaskExecWait waits for an exec to exit and returns its exit code or the
// signal that killed it: SIGKILL for an exec killed by its timeout (the SDK
// returns 137 to a Wait already in flight), NotFound for one killed because
// its sandbox was terminated.
func (r *routerService) TaskExecWait(ctx context.Context, req *pb.TaskExecWaitRequest) (*pb.TaskExecWaitResponse, error) {
	p, err := r.exec(ctx, req.GetTaskId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	code, sig, err := p.exitStatus()
	if err != nil {
		return nil, err
	}
	return pb.TaskExecWaitResponse_builder{Code: code, Signal: sig}.Build(), nil
}

// TaskExecPoll is TaskExecWait without waiting: no exit status while the
// exec is running.
func (r *routerService) TaskExecPoll(ctx context.Context, req *pb.TaskExecPollRequest) (*pb.TaskExecPollResponse, error) {
	p, err := r.exec(ctx, req.GetTaskId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	select {
	case <-p.exited:
	default:
		return &pb.TaskExecPollResponse{}, nil
	}
	code, sig, err := p.exitStatus()
	if err != nil {
		return nil, err
	}
	return pb.TaskExecPollResponse_builder{Code: code, Signal: sig}.Build(), nil
}
