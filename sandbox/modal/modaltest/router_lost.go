package modaltest

import (
	"fmt"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errRouterLost is what every router call for a sandbox whose worker
// vanished gets: the router is not there to answer.
var errRouterLost = status.Error(codes.Unavailable, "connection error: the task's command router is unreachable")

// DropRouter makes a sandbox's worker vanish, as when the machine under it
// fails: its processes die, the control plane reports it finished
// (GENERIC_STATUS_FAILURE, so SandboxWaitV2 and the SDK's Wait and Poll
// return), and its command router stops answering: every router call for
// it, reads and waits already in flight included, fails with Unavailable,
// which the SDK retries (an exec's Wait until the exec's deadline, a read
// up to 10 times over about 10 s). Unlike TerminateSandbox, nothing on the
// router side says the sandbox is gone.
func (s *Server) DropRouter(id string) error {
	sb := s.st.lookupSandbox(id)
	if sb == nil {
		return fmt.Errorf("modaltest: no sandbox %q", id)
	}
	sb.mu.Lock()
	sb.lost = true
	sb.mu.Unlock()
	s.finish(sb, pb.GenericResult_builder{Status: pb.GenericResult_GENERIC_STATUS_FAILURE, Exception: "the sandbox's worker was lost"}.Build(), killRouterLost)
	return nil
}
