package modaltest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// searchPath is the PATH of every exec, and where bare command names are
// looked up.
const searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// outputDrainGrace is how long, after an exec timeout kills a process group,
// its output pipes may stay open (held by a process that escaped the group)
// before they are closed regardless.
const outputDrainGrace = time.Second

// pythonName matches the names mapped to the configured interpreter:
// python, python3, python3.12, ...
var pythonName = regexp.MustCompile(`^python[0-9]*(\.[0-9]+)?$`)

// killReason says why the server killed a process, which decides how its
// end is reported.
type killReason int

const (
	killNone       killReason = iota
	killTimeout               // the exec's timeout passed: output ends in DeadlineExceeded
	killTerminated            // its sandbox was terminated: NotFound everywhere
	killRouterLost            // its sandbox's worker vanished: Unavailable everywhere (DropRouter)
)

// cutsAtOnce reports whether the end of the process's sandbox is the
// reason: its output is cut at once, with no drain.
func (r killReason) cutsAtOnce() bool { return r == killTerminated || r == killRouterLost }

// process is one exec'd command, running locally in its own process group.
type process struct {
	execID string
	pgid   int
	stdin  *stdinPipe
	stdout *outputStream
	stderr *outputStream
	exited chan struct{} // closed once the process has been reaped

	mu      sync.Mutex
	state   *os.ProcessState
	killed  killReason
	readers []*os.File // read ends of the output pipes
	timer   stopper
}

// execSpec is a resolved TaskExecStartRequest.
type execSpec struct {
	path    string
	args    []string
	dir     string
	env     []string
	stdout  bool // pipe stdout (else /dev/null)
	stderr  bool // pipe stderr (else /dev/null, unless merged)
	merge   bool // stderr goes to stdout's pipe
	timeout time.Duration
}

// startProcess starts spec in a new process group and the goroutines that
// serve it: one per output pipe, the stdin feeder and the reaper.
func (s *Server) startProcess(execID string, spec execSpec) (*process, error) {
	var parentEnds, childEnds []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			_ = f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("creating pipe: %w", err)
		}
		return r, w, nil
	}

	stdinR, stdinW, err := pipe()
	if err != nil {
		return nil, err
	}
	parentEnds, childEnds = append(parentEnds, stdinW), append(childEnds, stdinR)
	cmd := &exec.Cmd{
		Path:        spec.path,
		Args:        spec.args,
		Dir:         spec.dir,
		Env:         spec.env,
		Stdin:       stdinR,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	p := &process{
		execID: execID,
		stdout: newClosedOutputStream(),
		stderr: newClosedOutputStream(),
		exited: make(chan struct{}),
	}
	var outR, errR *os.File
	if spec.stdout {
		var w *os.File
		if outR, w, err = pipe(); err != nil {
			closeAll(parentEnds)
			closeAll(childEnds)
			return nil, err
		}
		parentEnds, childEnds = append(parentEnds, outR), append(childEnds, w)
		cmd.Stdout, p.stdout = w, newOutputStream()
	}
	switch {
	case spec.merge && spec.stdout:
		cmd.Stderr = cmd.Stdout
	case spec.stderr:
		var w *os.File
		if errR, w, err = pipe(); err != nil {
			closeAll(parentEnds)
			closeAll(childEnds)
			return nil, err
		}
		parentEnds, childEnds = append(parentEnds, errR), append(childEnds, w)
		cmd.Stderr, p.stderr = w, newOutputStream()
	}

	err = cmd.Start()
	closeAll(childEnds) // the child has its copies
	if err != nil {
		closeAll(parentEnds)
		return nil, fmt.Errorf("starting %s: %w", spec.path, err)
	}
	p.pgid = cmd.Process.Pid
	s.st.addPgid(p.pgid)
	p.stdin = newStdinPipe(stdinW)

	if outR != nil {
		p.readers = append(p.readers, outR)
		s.goBackground(func() { pump(outR, p.stdout, s.changes.notify) })
	}
	if errR != nil {
		p.readers = append(p.readers, errR)
		s.goBackground(func() { pump(errR, p.stderr, s.changes.notify) })
	}
	s.goBackground(p.stdin.run)
	s.goBackground(func() {
		_ = cmd.Wait() // the exit status is in ProcessState
		p.mu.Lock()
		p.state = cmd.ProcessState
		if p.timer != nil {
			p.timer.Stop()
		}
		p.mu.Unlock()
		close(p.exited)
		s.changes.notify()
	})
	if spec.timeout > 0 {
		p.mu.Lock()
		if p.state == nil {
			p.timer = s.opts.afterFunc(spec.timeout, func() { p.kill(killTimeout) })
		}
		p.mu.Unlock()
	}
	return p, nil
}

// kill kills the process's whole group with SIGKILL. For a timeout this
// only happens if the process is still running, and its output may drain
// for outputDrainGrace; for a terminated sandbox everything is cut at once.
func (p *process) kill(reason killReason) {
	p.mu.Lock()
	switch {
	case reason.cutsAtOnce():
		p.killed = reason
	case p.state != nil || p.killed != killNone:
		p.mu.Unlock()
		return
	default:
		p.killed = reason
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()

	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	p.stdin.stop()
	if reason.cutsAtOnce() {
		p.closeReaders()
	} else {
		time.AfterFunc(outputDrainGrace, p.closeReaders)
	}
}

func (p *process) closeReaders() {
	for _, r := range p.readers {
		_ = r.Close()
	}
}

// waitExit waits up to d for the process to be reaped.
func (p *process) waitExit(d time.Duration) {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
	}
}

// exitStatus is the TaskExecWait/TaskExecPoll answer for a process that
// has exited: its exit code or the signal that killed it. An exec killed by
// its timeout reports SIGKILL, so a Wait already in flight returns 137 from
// the SDK (a Wait issued after the deadline never reaches the server: the
// SDK returns modal.ExecTimeoutError itself). A process killed because its
// sandbox was terminated reports NotFound, as a task that is gone.
func (p *process) exitStatus() (code, signal *int32, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.killed {
	case killTerminated:
		return nil, nil, status.Errorf(codes.NotFound, "exec %s not found: its sandbox was terminated", p.execID)
	case killRouterLost:
		return nil, nil, errRouterLost
	}
	ws, ok := p.state.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		sig := int32(ws.Signal())
		return nil, &sig, nil
	default:
		c := int32(p.state.ExitCode())
		return &c, nil, nil
	}
}

// endOfOutput is what a stdio reader gets once it has read all of a
// finished stream: nil (end of stream), DeadlineExceeded if the exec's
// timeout killed the process (the SDK's reader turns it into
// modal.ExecTimeoutError, never mistaking cut output for complete output),
// NotFound if its sandbox was terminated.
func (p *process) endOfOutput() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.killed {
	case killTimeout:
		return status.Errorf(codes.DeadlineExceeded, "exec %s timed out", p.execID)
	case killTerminated:
		return status.Errorf(codes.NotFound, "exec %s not found: its sandbox was terminated", p.execID)
	case killRouterLost:
		return errRouterLost
	}
	return nil
}

// resolveCommand maps an exec's argv to a local executable: python names
// to the configured interpreter, sh to /bin/sh, bare names looked up in
// searchPath, absolute paths as they are.
func (s *Server) resolveCommand(argv []string) (string, []string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", nil, status.Error(codes.InvalidArgument, "empty command")
	}
	name := argv[0]
	args := append([]string(nil), argv...)
	base := filepath.Base(name)
	switch {
	case pythonName.MatchString(base) && (name == base || filepath.IsAbs(name)):
		args[0] = s.opts.Python
		return s.opts.Python, args, nil
	case name == "sh" || name == "/bin/sh":
		args[0] = "/bin/sh"
		return "/bin/sh", args, nil
	case filepath.IsAbs(name):
		if isExecutable(name) {
			return name, args, nil
		}
	case !strings.Contains(name, "/"):
		for _, dir := range filepath.SplitList(searchPath) {
			if p := filepath.Join(dir, name); isExecutable(p) {
				return p, args, nil
			}
		}
	}
	return "", nil, status.Errorf(codes.InvalidArgument, "exec failed: %q: executable file not found in $PATH", name)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// hostDir maps a sandbox working directory to a directory under the
// sandbox's host directory, creating it. An empty workdir means the
// sandbox's own workdir, else "/".
func (sb *sandbox) hostDir(workdir string) (string, error) {
	if workdir == "" {
		workdir = sb.def.GetWorkdir()
	}
	if workdir == "" {
		workdir = "/"
	}
	if !filepath.IsAbs(workdir) {
		return "", status.Errorf(codes.InvalidArgument, "workdir must be an absolute path, got: %q", workdir)
	}
	dir := filepath.Join(sb.dir, filepath.Clean(workdir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", status.Errorf(codes.Internal, "modaltest: creating workdir: %v", err)
	}
	return dir, nil
}

// processEnv is the environment of an exec: a minimal base (never this
// process's environment), then the sandbox's env, then the exec's own.
func (sb *sandbox) processEnv(execEnv ...map[string]string) []string {
	env := map[string]string{
		"PATH":   searchPath,
		"HOME":   sb.dir,
		"TMPDIR": filepath.Join(sb.dir, "tmp"),
		"LANG":   "C.UTF-8",
	}
	for _, m := range append([]map[string]string{sb.env}, execEnv...) {
		for k, v := range m {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// sourcesEnv flattens the inline env of secret sources, later sources
// winning. Named secrets (secret ids) are not resolved.
func sourcesEnv(sources []*pb.SecretSource) map[string]string {
	env := map[string]string{}
	for _, src := range sources {
		for k, v := range src.GetEnv().GetContents() {
			env[k] = v
		}
	}
	return env
}
