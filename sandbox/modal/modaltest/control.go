package modaltest

import (
	"context"
	"fmt"
	"strings"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// controlService implements the control plane (modal.client.ModalClient):
// auth, apps, environments and images here; sandboxes in
// control_sandbox.go. Unimplemented methods answer Unimplemented, which the
// SDK reports at once.
type controlService struct {
	pb.UnimplementedModalClientServer
	s *Server
}

// AuthTokenGet exchanges the token id and secret (checked by the
// interceptor) for a short-lived auth token, a JWT with an exp claim.
func (c *controlService) AuthTokenGet(ctx context.Context, _ *pb.AuthTokenGetRequest) (*pb.AuthTokenGetResponse, error) {
	id, _ := c.s.st.tokens()
	now := time.Now()
	tok := c.s.mintJWT(claims{Sub: id, Aud: audControl, Iat: now.Unix(), Exp: now.Add(authTokenTTL).Unix()})
	return pb.AuthTokenGetResponse_builder{Token: tok}.Build(), nil
}

// AppGetOrCreate looks an app up by environment and name, creating it when
// asked to.
func (c *controlService) AppGetOrCreate(ctx context.Context, req *pb.AppGetOrCreateRequest) (*pb.AppGetOrCreateResponse, error) {
	name := req.GetAppName()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "App name is required")
	}
	key := appKey{env: envName(req.GetEnvironmentName()), name: name}
	st := &c.s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.apps[key]
	switch req.GetObjectCreationType() {
	case pb.ObjectCreationType_OBJECT_CREATION_TYPE_UNSPECIFIED:
		if !ok {
			return nil, status.Errorf(codes.NotFound, "App '%s' not found in environment '%s'", name, key.env)
		}
	case pb.ObjectCreationType_OBJECT_CREATION_TYPE_CREATE_IF_MISSING:
	case pb.ObjectCreationType_OBJECT_CREATION_TYPE_CREATE_FAIL_IF_EXISTS:
		if ok {
			return nil, status.Errorf(codes.AlreadyExists, "App '%s' already exists in environment '%s'", name, key.env)
		}
	default:
		return nil, status.Errorf(codes.Unimplemented, "modaltest: object creation type %v is not supported", req.GetObjectCreationType())
	}
	if !ok {
		a = &app{id: newAppID(), name: name, env: key.env}
		st.apps[key] = a
		st.appsByID[a.id] = a
	}
	return pb.AppGetOrCreateResponse_builder{AppId: a.id}.Build(), nil
}

// EnvironmentGetOrCreate reports an environment and its image builder
// version. The SDK only calls it when MODAL_IMAGE_BUILDER_VERSION is unset.
func (c *controlService) EnvironmentGetOrCreate(ctx context.Context, req *pb.EnvironmentGetOrCreateRequest) (*pb.EnvironmentGetOrCreateResponse, error) {
	name := envName(req.GetDeploymentName())
	st := &c.s.st
	st.mu.Lock()
	id, ok := st.envs[name]
	if !ok {
		id = newEnvID()
		st.envs[name] = id
	}
	st.mu.Unlock()
	return pb.EnvironmentGetOrCreateResponse_builder{
		EnvironmentId: id,
		Metadata: pb.EnvironmentMetadata_builder{
			Name:     name,
			Settings: pb.EnvironmentSettings_builder{ImageBuilderVersion: c.s.opts.ImageBuilderVersion}.Build(),
		}.Build(),
	}.Build(), nil
}

// ImageGetOrCreate "builds" an image at once: the same definition keeps
// the same image id, and the result is in the response, so the SDK needs no
// ImageJoinStreaming. FailImageBuilds makes it report a failed build.
func (c *controlService) ImageGetOrCreate(ctx context.Context, req *pb.ImageGetOrCreateRequest) (*pb.ImageGetOrCreateResponse, error) {
	img := req.GetImage()
	if img == nil || len(img.GetDockerfileCommands()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "image definition has no Dockerfile commands")
	}
	key := imageKey(req)
	st := &c.s.st
	st.mu.Lock()
	if _, ok := st.appsByID[req.GetAppId()]; !ok {
		st.mu.Unlock()
		return nil, status.Errorf(codes.NotFound, "App %s not found", req.GetAppId())
	}
	im, ok := st.imageKey[key]
	if !ok {
		im = &image{id: newImageID(), appID: req.GetAppId(), commands: append([]string(nil), img.GetDockerfileCommands()...)}
		st.imageKey[key] = im
		st.images[im.id] = im
	}
	st.mu.Unlock()

	result := pb.GenericResult_builder{Status: pb.GenericResult_GENERIC_STATUS_SUCCESS}.Build()
	if msg, fail := c.s.faults.takeImageBuildFailure(); fail {
		result = pb.GenericResult_builder{Status: pb.GenericResult_GENERIC_STATUS_FAILURE, Exception: msg}.Build()
	}
	return pb.ImageGetOrCreateResponse_builder{ImageId: im.id, Result: result}.Build(), nil
}

// imageKey identifies an image definition: Dockerfile commands, base
// images and builder version.
func imageKey(req *pb.ImageGetOrCreateRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "v=%s\n", req.GetBuilderVersion())
	for _, base := range req.GetImage().GetBaseImages() {
		fmt.Fprintf(&b, "base %s=%s\n", base.GetDockerTag(), base.GetImageId())
	}
	for _, cmd := range req.GetImage().GetDockerfileCommands() {
		fmt.Fprintf(&b, "%s\n", cmd)
	}
	return b.String()
}

// ImageRefs returns the registry references of the images built so far
// (the FROM of their first Dockerfile command), in no particular order.
func (s *Server) ImageRefs() []string {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	var refs []string
	for _, im := range s.st.images {
		if ref, ok := strings.CutPrefix(im.commands[0], "FROM "); ok {
			refs = append(refs, ref)
		}
	}
	return refs
}

func envName(name string) string {
	if name == "" {
		return DefaultEnvironment
	}
	return name
}
