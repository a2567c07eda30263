//go:build linux

package sandboxinit

// The last steps: the Landlock ruleset and the seccomp filter prepared, then
// Landlock, the rlimits and seccomp applied, in that order and without
// allocating once the limits are set, and the interpreter exec'd.

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/syscallfilter"
)

func prepareLandlockStep(st *initState) (err error) {
	st.landlock, err = prepareLandlock(st.cfg)
	return err
}

func prepareSeccompStep(st *initState) (err error) {
	st.seccomp, err = syscallfilter.Build(st.cfg.DenyUnaccountedMemory)
	return err
}

// execArgs are the interpreter's path, argv and environment as the kernel
// takes them, converted before the address-space limit is set: after it,
// the helper must not allocate (the Go runtime's reservations already
// exceed the limit, so any new mapping would fail).
type execArgs struct {
	path *byte
	argv []*byte
	env  []*byte
}

func prepareExec(cfg *initconfig.Config) (*execArgs, error) {
	path, err := syscall.BytePtrFromString(cfg.Python)
	if err != nil {
		return nil, err
	}
	argv, err := syscall.SlicePtrFromStrings(cfg.Argv)
	if err != nil {
		return nil, err
	}
	env, err := syscall.SlicePtrFromStrings(cfg.Env)
	if err != nil {
		return nil, err
	}
	return &execArgs{path: path, argv: argv, env: env}, nil
}

// execInterpreter enforces Landlock, sets the rlimits, moves the code's
// stderr into place, loads the seccomp filter and execs the interpreter, in
// that order and without allocating once the limits are set. Only a
// failure returns.
func execInterpreter(st *initState) error {
	if err := unix.Chdir(initconfig.Workdir); err != nil {
		return err
	}
	args, err := prepareExec(st.cfg)
	if err != nil {
		return fmt.Errorf("prepare exec: %w", err)
	}
	if err := st.landlock.enforce(); err != nil {
		return err
	}
	failed := []byte("exec interpreter: execve " + st.cfg.Python + " failed")
	codeStderr, status := uintptr(st.cfg.CodeStderrFD), uintptr(st.cfg.SetupStatusFD)
	lims, err := rlimitTable(st.cfg.Rlimits)
	if err != nil {
		return err
	}
	for _, l := range lims {
		if err := syscall.Setrlimit(l.res, &syscall.Rlimit{Cur: l.soft, Max: l.hard}); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	// From here on, no allocation: a failure is reported by exit code.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_DUP3, codeStderr, 2, 0); errno != 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 126, 0, 0)
	}
	if errno := st.seccomp.Load(); errno != 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 126, 0, 0)
	}
	syscall.RawSyscall(syscall.SYS_EXECVE,
		uintptr(unsafe.Pointer(args.path)),
		uintptr(unsafe.Pointer(&args.argv[0])),
		uintptr(unsafe.Pointer(&args.env[0])))
	// Still here: exec failed. Say so on the status pipe without allocating.
	syscall.RawSyscall(syscall.SYS_WRITE, status, uintptr(unsafe.Pointer(&failed[0])), uintptr(len(failed)))
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
	return nil
}

// rlimit is one resource limit.
type rlimit struct {
	name       string
	res        int
	soft, hard uint64
}

// cpuHardGraceSeconds is how far RLIMIT_CPU's hard limit lies past its
// soft limit, the CPU limit the policy sets.
const cpuHardGraceSeconds = 1

// rlimitTable lists the limits in the order they are set: the address
// space last.
//
// At the CPU limit (the soft limit) the kernel sends a process SIGXCPU,
// which ends it unless it handles the signal; a process the code started
// dies of it, and its parent learns why. The interpreter is pid 1 of its
// pid namespace, for which the kernel drops a SIGXCPU it does not handle,
// so it runs on to the hard limit a second later and gets SIGKILL, which
// the server names the CPU limit's by the CPU time the interpreter was
// charged. With soft = hard every process would get an unexplained SIGKILL.
//
// With KeepCPUHard (a rootless session) the hard CPU limit stays as
// inherited and the soft one is at most it: the server moves the soft
// limit before each call, and only a privileged process could raise a
// hard one.
func rlimitTable(r initconfig.Rlimits) ([]rlimit, error) {
	cpuSoft, cpuHard := r.CPUSeconds, r.CPUSeconds+cpuHardGraceSeconds
	if r.KeepCPUHard {
		var inherited unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_CPU, &inherited); err != nil {
			return nil, fmt.Errorf("RLIMIT_CPU: %w", err)
		}
		cpuSoft, cpuHard = min(cpuSoft, inherited.Max), inherited.Max
	}
	return []rlimit{
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0, 0},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, r.OpenFiles, r.OpenFiles},
		{"RLIMIT_NPROC", unix.RLIMIT_NPROC, r.Processes, r.Processes},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, r.FileSize, r.FileSize},
		{"RLIMIT_CPU", unix.RLIMIT_CPU, cpuSoft, cpuHard},
		{"RLIMIT_AS", unix.RLIMIT_AS, r.AddressSpace, r.AddressSpace},
	}, nil
}
