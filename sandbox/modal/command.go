package modal

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// The harness's process inside a Modal sandbox.
const (
	// envelopeFD is the descriptor the harness writes its envelope to. A
	// Modal exec has only stdin, stdout and stderr, so the prelude makes it
	// a duplicate of stderr, and the backend splits the stream.
	envelopeFD = 3
	// workdir is the working directory of the code: it exists in every
	// image, and the code may write there.
	workdir = "/tmp"
	// maxArgvBytes is the SDK's cap on the total size of an exec's argv.
	maxArgvBytes = 1 << 16
)

// preludeFormat runs before the harness, in the same interpreter: it sets
// the policy's rlimits where the image lets it (a sandbox is a container
// of its own; the code runs as its root, so they bound accidents, not a
// determined process, and Modal's memory limit and the timeout do the
// rest) and makes the envelope descriptor a duplicate of stderr. Its
// arguments: open files, file size, CPU seconds, envelope fd.
//
// The harness runs with -S, which leaves the image's site-packages off
// sys.path (the local backend lists them instead, from its interpreter);
// the prelude adds them as the site module would (user site-packages
// excepted: -I), so the image's packages (matplotlib, numpy, ...) import.
//
// It also ends what the code leaves behind when the harness exits, as the
// local backend's sandbox does: the backend reads stdout and stderr to
// their end, and a process still holding them would hold the call. The
// harness leads a process group of its own (the code's processes join it
// unless they leave it); its exit (posix._exit, which the harness calls
// last, and os._exit in the code) first forks a helper, if the harness has
// children, which kills the group once the harness is gone. The wrapper is
// built in a namespace of its own, so the warning Python gives on a fork
// in a threaded process is not shown as the code's.
const preludeFormat = `import posix as _p
try:
    import site as _s
    _s.main()
    del _s
except Exception:
    pass
try:
    import resource as _r
    for _k, _n in ((_r.RLIMIT_CORE, 0), (_r.RLIMIT_NOFILE, %d), (_r.RLIMIT_FSIZE, %d), (_r.RLIMIT_CPU, %d)):
        _h = _r.getrlimit(_k)[1]
        if _h != _r.RLIM_INFINITY and _h < _n:
            _n = _h
        _r.setrlimit(_k, (_n, _n))
    del _r, _k, _n, _h
except Exception:
    pass
_p.dup2(2, %d)
try:
    if _p.getpgrp() != _p.getpid():
        _p.setpgid(0, 0)
except OSError:
    pass
def _exit(code, _e=_p._exit, _p=_p):
    try:
        if _p.getpgrp() == _p.getpid():
            _p.waitpid(-1, _p.WNOHANG)
            _r, _w = _p.pipe()
            if _p.fork() == 0:
                try:
                    _p.close(_w)
                    _p.read(_r, 1)
                    _p.killpg(0, 9)
                finally:
                    _e(0)
            _p.close(_r)
    except BaseException:
        pass
    _e(code)
_p._exit = type(_exit)(_exit.__code__, {"__builtins__": __builtins__, "__name__": "airlock-prelude"}, "_exit", _exit.__defaults__)
del _p, _exit
`

// harnessArgv is the exec's argv for limits: python3 running the prelude,
// then the shared harness, from -c. The code itself goes on stdin.
func harnessArgv(limits sandbox.Limits) ([]string, error) {
	cpu := int64(wholeSeconds(limits.CPUTime) / time.Second)
	return withPrelude(sandbox.HarnessArgs(0), limits, cpu)
}

// sessionHarnessArgv is the command of a session's sandbox: python3
// running the prelude, then the harness in session mode, listening at
// socket. limits bound the session's whole life; CPU time is not capped
// by an rlimit (it would count the whole session's time, not a call's).
func sessionHarnessArgv(limits sandbox.Limits, socket string) ([]string, error) {
	args, err := sandbox.SessionHarnessArgs(sandbox.SessionOptions{Control: sandbox.ControlListen(socket), Workdir: workdir})
	if err != nil {
		return nil, fmt.Errorf("modal: %w", err)
	}
	return withPrelude(args, limits, rlimInfinity)
}

// rlimInfinity is what the prelude reads as no limit.
const rlimInfinity = -1

// sessionClientArgv is the argv of one call's session client (see
// sandbox.SessionClientCallArgs), which limits the call's CPU time to cpu.
func sessionClientArgv(socket string, cpu time.Duration) []string {
	return append([]string{"python3"}, sandbox.SessionClientCallArgs(socket, cpu)...)
}

// withPrelude is python3 with args, the prelude put before the program
// that follows -c, checked against the SDK's cap on argv.
func withPrelude(args []string, limits sandbox.Limits, cpu int64) ([]string, error) {
	i := slices.Index(args, "-c")
	if i < 0 || i+1 >= len(args) {
		return nil, errors.New("modal: the harness is not started with -c as expected")
	}
	prelude := fmt.Sprintf(preludeFormat, limits.MaxOpenFiles, limits.MaxFileBytes, cpu, envelopeFD)
	argv := append([]string{"python3"}, args...)
	argv[i+2] = prelude + argv[i+2]
	total := 0
	for _, a := range argv {
		total += len(a)
	}
	if total >= maxArgvBytes {
		return nil, fmt.Errorf("modal: the harness's argv is %d bytes, over the SDK's cap of %d", total, maxArgvBytes)
	}
	return argv, nil
}
