package modaltest

import (
	"context"
	"sort"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// maxWait caps how long SandboxWaitV2 holds a call, as Modal's long polls do.
const maxWait = 55 * time.Second

// listPageSize is how many sandboxes SandboxListV2 returns per page.
const listPageSize = 100

// SandboxCreateV2 creates a sandbox and returns, with its ids, the router
// access (JWT and https URL) the SDK uses for exec without another call.
func (c *controlService) SandboxCreateV2(ctx context.Context, req *pb.SandboxCreateV2Request) (*pb.SandboxCreateV2Response, error) {
	sb, err := c.s.createSandbox(req)
	if err != nil {
		return nil, err
	}
	if err := c.s.startEntrypoint(sb); err != nil {
		c.s.terminate(sb, pb.GenericResult_GENERIC_STATUS_FAILURE, "the sandbox's command could not start")
		return nil, err
	}
	return pb.SandboxCreateV2Response_builder{
		SandboxId:           sb.id,
		TaskId:              sb.taskID,
		CommandRouterAccess: pb.CommandRouterAccess_builder{Jwt: sb.jwt, Url: c.s.RouterURL()}.Build(),
		Metadata:            pb.SandboxHandleMetadata_builder{AppId: sb.appID}.Build(),
	}.Build(), nil
}

func (c *controlService) sandbox(id string) (*sandbox, error) {
	sb := c.s.st.lookupSandbox(id)
	if sb == nil {
		return nil, status.Errorf(codes.NotFound, "Sandbox %s not found", id)
	}
	return sb, nil
}

// SandboxGetTaskIdV2 returns the task of a live sandbox, or the result of
// a finished one (which the SDK reports as a ConflictError). Used by
// handles from Sandboxes.FromID before their first exec.
func (c *controlService) SandboxGetTaskIdV2(ctx context.Context, req *pb.SandboxGetTaskIdRequest) (*pb.SandboxGetTaskIdResponse, error) {
	sb, err := c.sandbox(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	if sb.isLive() {
		return pb.SandboxGetTaskIdResponse_builder{TaskId: &sb.taskID}.Build(), nil
	}
	select {
	case <-sb.done:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return pb.SandboxGetTaskIdResponse_builder{TaskResult: sb.finished()}.Build(), nil
}

// SandboxGetCommandRouterAccess returns a fresh router JWT and the router
// URL, for handles from Sandboxes.FromID and for the SDK's JWT refresh.
func (c *controlService) SandboxGetCommandRouterAccess(ctx context.Context, req *pb.SandboxGetCommandRouterAccessRequest) (*pb.SandboxGetCommandRouterAccessResponse, error) {
	var sb *sandbox
	switch {
	case req.HasSandboxId():
		sb = c.s.st.lookupSandbox(req.GetSandboxId())
	case req.HasTaskId():
		sb = c.s.st.lookupTask(req.GetTaskId())
	}
	if sb == nil {
		return nil, status.Error(codes.NotFound, "Sandbox not found")
	}
	if !sb.isLive() {
		return nil, status.Errorf(codes.FailedPrecondition, "Sandbox %s has already finished", sb.id)
	}
	return pb.SandboxGetCommandRouterAccessResponse_builder{
		Jwt: c.s.routerJWT(sb),
		Url: c.s.RouterURL(),
	}.Build(), nil
}

// SandboxWaitV2 waits up to the request's timeout (capped at 55 s) for the
// sandbox to finish. The result stays unset while it runs; once finished it
// is GENERIC_STATUS_TERMINATED (the SDK's Wait returns 137) or
// GENERIC_STATUS_TIMEOUT for an expired lifetime (Wait returns 124). A
// sandbox only counts as finished once its processes are dead and its
// directory removed.
func (c *controlService) SandboxWaitV2(ctx context.Context, req *pb.SandboxWaitRequest) (*pb.SandboxWaitResponse, error) {
	sb, err := c.sandbox(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	wait := min(time.Duration(float64(req.GetTimeout())*float64(time.Second)), maxWait)
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-sb.done:
		case <-t.C:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	result := sb.finished()
	return pb.SandboxWaitResponse_builder{
		Result:   result,
		Metadata: pb.SandboxHandleMetadata_builder{AppId: sb.appID, Result: result}.Build(),
	}.Build(), nil
}

// SandboxTerminateV2 terminates a sandbox and returns once its processes
// are killed and its directory removed. For a sandbox already finished it
// returns the existing result.
func (c *controlService) SandboxTerminateV2(ctx context.Context, req *pb.SandboxTerminateRequest) (*pb.SandboxTerminateResponse, error) {
	sb, err := c.sandbox(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	if !sb.isLive() {
		select {
		case <-sb.done:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return pb.SandboxTerminateResponse_builder{ExistingResult: sb.finished()}.Build(), nil
	}
	c.s.terminate(sb, pb.GenericResult_GENERIC_STATUS_TERMINATED, "Sandbox terminated by client")
	return &pb.SandboxTerminateResponse{}, nil
}

// SandboxListV2 lists sandboxes, newest first, filtered by app (or
// environment), by tags (all must match) and, unless include_finished, to
// live ones; paginated by before_timestamp.
func (c *controlService) SandboxListV2(ctx context.Context, req *pb.SandboxListRequest) (*pb.SandboxListResponse, error) {
	want := map[string]string{}
	for _, t := range req.GetTags() {
		want[t.GetTagName()] = t.GetTagValue()
	}
	st := &c.s.st
	st.mu.Lock()
	var envApps map[string]bool
	if req.GetAppId() == "" {
		env := envName(req.GetEnvironmentName())
		envApps = map[string]bool{}
		for _, a := range st.apps {
			if a.env == env {
				envApps[a.id] = true
			}
		}
	}
	all := append([]*sandbox(nil), st.order...)
	st.mu.Unlock()

	sort.Slice(all, func(i, j int) bool { return all[i].createdAt > all[j].createdAt })
	var out []*pb.SandboxInfo
	for _, sb := range all {
		switch {
		case len(out) == listPageSize:
		case req.GetBeforeTimestamp() > 0 && sb.createdAt >= req.GetBeforeTimestamp():
		case req.GetAppId() != "" && sb.appID != req.GetAppId():
		case envApps != nil && !envApps[sb.appID]:
		case !req.GetIncludeFinished() && !sb.isLive():
		case !hasTags(sb, want):
		default:
			out = append(out, pb.SandboxInfo_builder{
				Id:          sb.id,
				CreatedAt:   sb.createdAt,
				AppId:       sb.appID,
				Tags:        sb.tagList(),
				Name:        sb.name,
				ImageId:     sb.imageID,
				TimeoutSecs: sb.def.GetTimeoutSecs(),
			}.Build())
		}
	}
	return pb.SandboxListResponse_builder{Sandboxes: out}.Build(), nil
}

func hasTags(sb *sandbox, want map[string]string) bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	for k, v := range want {
		if got, ok := sb.tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// SandboxTagsGetV2 returns a sandbox's tags.
func (c *controlService) SandboxTagsGetV2(ctx context.Context, req *pb.SandboxTagsGetRequest) (*pb.SandboxTagsGetResponse, error) {
	sb, err := c.sandbox(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	return pb.SandboxTagsGetResponse_builder{Tags: sb.tagList()}.Build(), nil
}

// SandboxTagsSetV2 replaces a sandbox's tags.
func (c *controlService) SandboxTagsSetV2(ctx context.Context, req *pb.SandboxTagsSetRequest) (*emptypb.Empty, error) {
	sb, err := c.sandbox(req.GetSandboxId())
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range req.GetTags() {
		tags[t.GetTagName()] = t.GetTagValue()
	}
	sb.mu.Lock()
	sb.tags = tags
	sb.mu.Unlock()
	return &emptypb.Empty{}, nil
}
