package modaltest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// maxSandboxTimeout is Modal's upper bound on a sandbox's lifetime.
const maxSandboxTimeout = 24 * time.Hour

// processExitGrace bounds how long terminating a sandbox waits for its
// killed processes to be reaped before removing its directory.
const processExitGrace = 5 * time.Second

// sandbox is one created sandbox and the processes exec'd in it.
type sandbox struct {
	id, taskID, appID, imageID, name string
	def                              *pb.Sandbox       // as received; never modified
	env                              map[string]string // from the create request's secret sources
	dir                              string            // host directory standing in for its filesystem
	createdAt                        float64           // unix seconds
	jwt                              string            // router access token

	mu       sync.Mutex
	tags     map[string]string
	execs    map[string]*process
	started  []*process // execs, in the order they started
	entry    *process   // the sandbox's command (entrypoint), if it has one
	running  int        // execs running: the sandbox is idle at 0
	idle     stopper    // the idle timeout's countdown, while idle
	idleSeq  uint64     // which countdown is in force
	live     bool
	lost     bool              // its router no longer answers (DropRouter)
	result   *pb.GenericResult // set once finished
	done     chan struct{}     // closed once finished and cleaned up
	lifetime stopper
}

func (sb *sandbox) isLive() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.live
}

// finished returns the result, or nil while the sandbox is live or still
// being cleaned up.
func (sb *sandbox) finished() *pb.GenericResult {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.result == nil {
		return nil
	}
	return proto.Clone(sb.result).(*pb.GenericResult)
}

func (sb *sandbox) tagList() []*pb.SandboxTag {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	keys := make([]string, 0, len(sb.tags))
	for k := range sb.tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*pb.SandboxTag, 0, len(keys))
	for _, k := range keys {
		out = append(out, pb.SandboxTag_builder{TagName: k, TagValue: sb.tags[k]}.Build())
	}
	return out
}

// createSandbox validates a SandboxCreateV2 request and creates the
// sandbox: ids, router token, directory and lifetime timer.
func (s *Server) createSandbox(req *pb.SandboxCreateV2Request) (*sandbox, error) {
	def := req.GetDefinition()
	if def == nil {
		return nil, status.Error(codes.InvalidArgument, "missing sandbox definition")
	}
	timeout := time.Duration(def.GetTimeoutSecs()) * time.Second
	if timeout <= 0 {
		timeout = 300 * time.Second
	}
	if timeout > maxSandboxTimeout {
		return nil, status.Errorf(codes.InvalidArgument, "sandbox timeout must be at most %d seconds, got %d", int(maxSandboxTimeout.Seconds()), def.GetTimeoutSecs())
	}
	if def.GetPtyInfo().GetEnabled() {
		return nil, status.Error(codes.Unimplemented, "modaltest: PTY sandboxes are not supported")
	}

	sb := &sandbox{
		id:      newSandboxID(),
		taskID:  newTaskID(),
		appID:   req.GetAppId(),
		imageID: def.GetImageId(),
		name:    def.GetName(),
		def:     proto.Clone(def).(*pb.Sandbox),
		env:     sourcesEnv(req.GetSecretSources()),
		tags:    map[string]string{},
		execs:   map[string]*process{},
		live:    true,
		done:    make(chan struct{}),
	}
	for _, t := range req.GetTags() {
		sb.tags[t.GetTagName()] = t.GetTagValue()
	}
	sb.jwt = s.routerJWT(sb)

	st := &s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, status.Error(codes.Unavailable, "modaltest server is closing")
	}
	if _, ok := st.appsByID[sb.appID]; !ok {
		return nil, status.Errorf(codes.NotFound, "App %s not found", sb.appID)
	}
	if _, ok := st.images[sb.imageID]; !ok {
		return nil, status.Errorf(codes.NotFound, "Image %s not found", sb.imageID)
	}
	if st.maxLive > 0 && st.created-st.terminated >= st.maxLive {
		return nil, status.Errorf(codes.ResourceExhausted, "modaltest: limit of %d live sandboxes reached", st.maxLive)
	}
	if sb.name != "" {
		for _, other := range st.order {
			if other.appID == sb.appID && other.name == sb.name && other.isLive() {
				return nil, status.Errorf(codes.AlreadyExists, "Sandbox with name '%s' already exists in this app", sb.name)
			}
		}
	}
	dir, err := os.MkdirTemp(s.baseDir, "sb-")
	if err != nil {
		return nil, status.Errorf(codes.Internal, "modaltest: creating sandbox directory: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		_ = os.RemoveAll(dir)
		return nil, status.Errorf(codes.Internal, "modaltest: creating sandbox tmp directory: %v", err)
	}
	sb.dir = dir
	sb.createdAt = st.nextCreatedAt()
	st.sandboxes[sb.id] = sb
	st.byTask[sb.taskID] = sb
	st.order = append(st.order, sb)
	st.created++

	sb.mu.Lock()
	sb.lifetime = s.opts.afterFunc(timeout, func() {
		s.terminate(sb, pb.GenericResult_GENERIC_STATUS_TIMEOUT, fmt.Sprintf("Sandbox timed out after %s", timeout))
	})
	s.armIdleLocked(sb)
	sb.mu.Unlock()
	return sb, nil
}

// terminate ends a sandbox, as Modal does on Terminate, on lifetime expiry
// or on shutdown: every process it started is killed (whole process group),
// its directory is removed, then the result is published. A second call
// waits for the first.
func (s *Server) terminate(sb *sandbox, st pb.GenericResult_GenericStatus, reason string) {
	s.finish(sb, pb.GenericResult_builder{Status: st, Exception: reason}.Build(), killTerminated)
}

// finish ends a sandbox as terminate says, its processes killed for kill,
// with result as its outcome.
func (s *Server) finish(sb *sandbox, result *pb.GenericResult, kill killReason) {
	sb.mu.Lock()
	if !sb.live {
		sb.mu.Unlock()
		<-sb.done
		return
	}
	sb.live = false
	if sb.lifetime != nil {
		sb.lifetime.Stop()
	}
	if sb.idle != nil {
		sb.idle.Stop()
	}
	procs := make([]*process, 0, len(sb.execs)+1)
	for _, p := range sb.execs {
		procs = append(procs, p)
	}
	if sb.entry != nil {
		procs = append(procs, sb.entry)
	}
	sb.mu.Unlock()

	s.st.mu.Lock()
	s.st.terminated++
	s.st.mu.Unlock()

	for _, p := range procs {
		p.kill(kill)
	}
	deadline := time.Now().Add(processExitGrace)
	pgids := make([]int, 0, len(procs))
	for _, p := range procs {
		p.waitExit(time.Until(deadline))
		pgids = append(pgids, p.pgid)
	}
	// The exec'd processes are reaped, but what they left in the background
	// (reparented elsewhere) may still be dying: SIGKILL is delivered, not
	// yet acted on. Modal's Terminate returns once the container is gone, so
	// wait for the groups to empty too.
	for liveInGroups(pgids) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	_ = os.RemoveAll(sb.dir)

	sb.mu.Lock()
	sb.result = result
	sb.mu.Unlock()
	close(sb.done)
	s.changes.notify()
}

// SandboxInfo describes a sandbox the server created.
type SandboxInfo struct {
	ID      string
	TaskID  string
	AppID   string
	ImageID string
	Name    string
	Tags    map[string]string
	// Definition is a copy of the sandbox definition as received: resources,
	// timeout, network access, workdir, ...
	Definition *pb.Sandbox
	CreatedAt  time.Time
	// Live is true until the sandbox is terminated (by the client, by its
	// lifetime timeout, by TerminateSandbox or by Close).
	Live bool
	// Status is GENERIC_STATUS_UNSPECIFIED until the sandbox has finished,
	// then GENERIC_STATUS_TERMINATED or GENERIC_STATUS_TIMEOUT.
	Status pb.GenericResult_GenericStatus
	// Dir is the host directory standing in for the sandbox's filesystem;
	// exec working directories are mapped under it. Removed on termination.
	Dir string
	// Timeout and IdleTimeout are its lifetime and idle timeout as
	// received (0: none given; Modal's default lifetime is 300 s).
	Timeout, IdleTimeout time.Duration
	// Command is its own command (entrypoint) as received; nil for none.
	Command []string
	// Execs counts the processes exec'd in it.
	Execs int
	// Stdout and Stderr are what its execs wrote so far, one exec after
	// the other in the order they started (stderr merged into stdout is
	// in Stdout).
	Stdout, Stderr string
}

func (sb *sandbox) info() SandboxInfo {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	in := SandboxInfo{
		ID:          sb.id,
		TaskID:      sb.taskID,
		AppID:       sb.appID,
		ImageID:     sb.imageID,
		Name:        sb.name,
		Tags:        maps.Clone(sb.tags),
		Definition:  proto.Clone(sb.def).(*pb.Sandbox),
		CreatedAt:   time.Unix(0, int64(sb.createdAt*1e9)),
		Live:        sb.live,
		Dir:         sb.dir,
		Timeout:     time.Duration(sb.def.GetTimeoutSecs()) * time.Second,
		IdleTimeout: sb.idleTimeout(),
		Command:     sb.def.GetEntrypointArgs(),
		Execs:       len(sb.execs),
	}
	for _, p := range sb.started {
		in.Stdout += p.stdout.String()
		in.Stderr += p.stderr.String()
	}
	if sb.result != nil {
		in.Status = sb.result.GetStatus()
	}
	return in
}

// Sandboxes describes every sandbox created so far, in creation order.
func (s *Server) Sandboxes() []SandboxInfo {
	all := s.st.allSandboxes()
	out := make([]SandboxInfo, len(all))
	for i, sb := range all {
		out[i] = sb.info()
	}
	return out
}

// Sandbox describes one sandbox by id.
func (s *Server) Sandbox(id string) (SandboxInfo, bool) {
	sb := s.st.lookupSandbox(id)
	if sb == nil {
		return SandboxInfo{}, false
	}
	return sb.info(), true
}

// CreatedSandboxes counts the sandboxes created since Start.
func (s *Server) CreatedSandboxes() int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.created
}

// LiveSandboxes counts the sandboxes created and not terminated.
func (s *Server) LiveSandboxes() int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.created - s.st.terminated
}

// TerminatedSandboxes counts the sandboxes terminated, for whatever reason.
func (s *Server) TerminatedSandboxes() int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.terminated
}

// TerminateSandbox terminates a sandbox from the server side, as when Modal
// stops one on its own (e.g. preemption): its processes are killed, router
// calls for it answer NotFound and SandboxWaitV2 reports
// GENERIC_STATUS_TERMINATED.
func (s *Server) TerminateSandbox(id string) error {
	sb := s.st.lookupSandbox(id)
	if sb == nil {
		return fmt.Errorf("modaltest: no sandbox %q", id)
	}
	s.terminate(sb, pb.GenericResult_GENERIC_STATUS_TERMINATED, "Sandbox terminated by modaltest")
	return nil
}
