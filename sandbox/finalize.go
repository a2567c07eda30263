package sandbox

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcessExit is what the backend observed of the sandbox process. It is
// the ground truth Finalize weighs the harness's envelope against.
type ProcessExit struct {
	// ExitCode is the process's exit status; valid when Signal == 0.
	ExitCode int
	// Signal is non-zero when the process was killed by a signal. It is a
	// Linux signal number: the sandbox runs Linux whatever the host.
	Signal syscall.Signal
	// TimedOut: the backend killed it at the wall-clock limit.
	TimedOut bool
	// Canceled: the call was cancelled (the MCP request, or a shutdown).
	Canceled bool
	// Shutdown, with Canceled: the server cancelled the call because it is
	// shutting down (see ErrShutdown), not the client.
	Shutdown bool
	// Duration is the wall-clock time of the execution.
	Duration time.Duration
	// CPUTime is the CPU time of the sandbox's main process in the currency
	// its CPU time limit is enforced in: on Linux its CPUCLOCK_PROF clock
	// (user and system time as the scheduler's ticks count them), read
	// after it died. The kernel sends the hard limit's SIGKILL when exactly
	// this clock reaches the limit, so CPUTime at or past Limits.CPUTime
	// means that SIGKILL was the CPU limit's, with no tolerance. (The times
	// wait4 reports are rescaled to the precise run time and can read
	// several percent lower.) Valid when CPUTimeKnown.
	CPUTime time.Duration
	// CPUTimeKnown: the backend read CPUTime.
	CPUTimeKnown bool
	// OOMKilled: the backend knows the sandbox hit its memory limit and the
	// kernel killed a process of it (a cgroup OOM kill).
	OOMKilled bool
	// Running: the process outlived the execution, a call in a session
	// whose interpreter regained control (after an interrupt, with
	// TimedOut or Canceled). There is no exit status to weigh the envelope
	// against: its exit code stands as reported, and it must carry Call.
	Running bool
	// Call, with Running, is the call's number in its session (see
	// Envelope.Call).
	Call int
}

// Linux signal numbers (the same on amd64 and arm64) that Finalize explains.
const (
	sigKILL syscall.Signal = 9
	sigSEGV syscall.Signal = 11
	sigXCPU syscall.Signal = 24
	sigXFSZ syscall.Signal = 25
)

// linuxSignalNames names Linux signals 1-31, independently of the host OS.
var linuxSignalNames = [...]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP",
	6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1",
	11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
	16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
	21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
	26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR",
	31: "SIGSYS",
}

func signalName(s syscall.Signal) string {
	if s > 0 && int(s) < len(linuxSignalNames) {
		return linuxSignalNames[s]
	}
	return "signal " + strconv.Itoa(int(s))
}

// Finalize composes the Result of one execution from what the backend
// observed (exit), the bytes read from the envelope channel, the nonce of
// the invocation and the captured output. Every backend uses it, so every
// backend reports the same outcome the same way.
//
// The process's fate outranks anything the code reported: a timeout, a
// cancellation or a signal decides the status whatever the envelope says.
// Otherwise the envelope is used only when ParseEnvelope accepts it and its
// exit code is the process's; a missing envelope is reported as such, and a
// forged or malformed one is discarded with an "EnvelopeError". For a
// session's call whose interpreter lives on (exit.Running) the envelope
// must carry the call's number instead, and a timeout or cancellation says
// the code was interrupted, not killed. Output is kept in every case.
func Finalize(backend string, exit ProcessExit, envelope []byte, nonce string, stdout, stderr *OutputBuffer, limits Limits) Result {
	res := Result{
		Backend:    backend,
		DurationMS: max(exit.Duration.Milliseconds(), 0),
		// A backend whose sandbox had network replaces this ledger.
		Network: &Network{Enforcement: EnforcementNone, Connections: []Connection{}},
	}
	for _, s := range []struct {
		buf *OutputBuffer
		out *string
	}{{stdout, &res.Stdout}, {stderr, &res.Stderr}} {
		if s.buf != nil {
			*s.out = s.buf.String()
			res.Truncated = res.Truncated || s.buf.Truncated()
		}
	}

	switch {
	case exit.Running && (exit.TimedOut || exit.Canceled):
		interrupted(&res, exit, envelope, nonce, limits)
	case exit.TimedOut:
		res.Status = StatusTimeout
		res.TimedOut = true
		res.Error = &ErrorInfo{Type: "Timeout", Message: timeoutMessage(limits.Timeout)}
	case exit.Canceled && exit.Shutdown:
		res.Status = StatusKilled
		res.Error = &ErrorInfo{Type: "Cancelled", Message: "the server is shutting down, so the call was stopped and the sandbox was killed; run the code again once the server is back"}
	case exit.Canceled:
		res.Status = StatusKilled
		res.Error = &ErrorInfo{Type: "Cancelled", Message: "the client cancelled the call; the sandbox was killed"}
	case exit.Signal != 0:
		res.Status = StatusKilled
		res.Error = &ErrorInfo{Type: "Killed", Message: signalMessage(exit, limits)}
	case exit.Running:
		fromSessionEnvelope(&res, exit.Call, envelope, nonce, limits)
	default:
		fromEnvelope(&res, exit.ExitCode, envelope, nonce, limits)
	}
	return res
}

// fromEnvelope fills res for a process that exited on its own with code.
func fromEnvelope(res *Result, code int, envelope []byte, nonce string, limits Limits) {
	res.ExitCode = &code
	env, err := ParseEnvelope(envelope, nonce)
	switch {
	case errors.Is(err, ErrNoEnvelope) && code == 0:
		res.Status = StatusOK
	case errors.Is(err, ErrNoEnvelope):
		res.Status = StatusError
		res.Error = &ErrorInfo{
			Type:    "ProcessExit",
			Message: "the process exited with code " + strconv.Itoa(code) + " before reporting a result (os._exit, or the interpreter crashed)",
		}
	case err != nil || env.ExitCode != code || env.Call != 0:
		res.Status = StatusError
		res.Error = tamperedEnvelope()
	default:
		fromTrustedEnvelope(res, env, limits)
	}
}

// tamperedEnvelope is the error of an envelope that was discarded.
func tamperedEnvelope() *ErrorInfo {
	return &ErrorInfo{
		Type: "EnvelopeError",
		Message: "the harness's result channel was tampered with (by the code or something it started), " +
			"so the reported result was discarded; stdout and stderr are kept",
	}
}

// fromTrustedEnvelope fills res from an envelope ParseEnvelope accepted and
// the backend's observations agree with.
func fromTrustedEnvelope(res *Result, env Envelope, limits Limits) {
	res.Status = env.Status
	res.Result = env.Result
	res.Error = env.Error
	switch {
	case env.Error == nil:
	case env.Error.Type == "MemoryError" && limits.MemoryBytes > 0:
		info := *env.Error
		info.Message += " (the sandbox memory limit is " + mib(limits.MemoryBytes) + " MiB)"
		res.Error = &info
	case strings.Contains(env.Error.Message, "SIGXCPU") && limits.CPUTime > 0:
		// A process the code started died at the CPU time limit
		// (subprocess's CalledProcessError names the signal).
		info := *env.Error
		info.Message += " (SIGXCPU: a process reached the sandbox's CPU time limit of " + seconds(limits.CPUTime) + " s)"
		res.Error = &info
	}
}

func timeoutMessage(limit time.Duration) string {
	if limit <= 0 {
		return "execution exceeded the wall-clock limit and was killed; output so far is kept"
	}
	return "execution exceeded the wall-clock limit of " + seconds(limit) + " s and was killed; output so far is kept"
}

// signalMessage explains a death by signal. A SIGKILL is the memory
// cgroup's when the backend saw its OOM kill, the CPU limit's when the CPU
// time the backend read reached it; without the CPU time both stay
// possible.
func signalMessage(exit ProcessExit, limits Limits) string {
	memory, cpu := "memory limit", "CPU time limit"
	if limits.MemoryBytes > 0 {
		memory += " of " + mib(limits.MemoryBytes) + " MiB"
	}
	if limits.CPUTime > 0 {
		cpu += " of " + seconds(limits.CPUTime) + " s"
	}
	switch {
	case exit.Signal == sigKILL && exit.OOMKilled:
		return "killed by SIGKILL: the sandbox exceeded its " + memory
	case exit.Signal == sigXCPU,
		exit.Signal == sigKILL && exit.CPUTimeKnown && limits.CPUTime > 0 && exit.CPUTime >= limits.CPUTime:
		return "killed by " + signalName(exit.Signal) + ": exceeded the " + cpu
	case exit.Signal == sigKILL && exit.CPUTimeKnown:
		return "killed by SIGKILL before the " + cpu + " (the " + memory + " may have been reached, or the host ran out of memory)"
	case exit.Signal == sigKILL:
		return "killed by SIGKILL (the " + memory + " or the " + cpu + " may have been reached)"
	case exit.Signal == sigSEGV:
		return "the interpreter crashed (SIGSEGV)"
	case exit.Signal == sigXFSZ && limits.MaxFileBytes > 0:
		return "killed by SIGXFSZ: exceeded the file size limit of " + strconv.FormatInt(limits.MaxFileBytes, 10) + " bytes"
	default:
		return "killed by " + signalName(exit.Signal)
	}
}

// seconds formats d in seconds without trailing zeros ("30", "1.5").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// mib formats n bytes in MiB, with one decimal when not a whole number.
func mib(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10)
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64)
}
