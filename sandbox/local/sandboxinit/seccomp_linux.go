//go:build linux

package sandboxinit

import (
	"fmt"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// deniedSyscalls are the system calls sandboxed Python has no business
// making: they reach the kernel's larger attack surfaces (new namespaces,
// mounts, tracing, BPF, keyrings, io_uring, module loading, raw handles on
// files) or the host's state (swap, reboot, accounting, quotas). They fail
// with EPERM. Normal Python — threads, subprocess, multiprocessing, ctypes,
// numpy — needs none of them.
var deniedSyscalls = []string{
	// namespaces and mounts
	"unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	// tracing and other processes' memory
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
	// kernel surfaces with a history of exploits
	"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"keyctl", "add_key", "request_key",
	// kernel and host state
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"open_by_handle_at", "name_to_handle_at",
	"swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd",
	"syslog", "uselib", "vhangup", "iopl", "ioperm", "lookup_dcookie",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
}

// namespaceCloneFlags are the clone(2) flags that create namespaces; a
// clone asking for any of them fails with EPERM like unshare does.
const namespaceCloneFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// deviceNodeBit is set in the mode of character (S_IFCHR) and block
// (S_IFBLK) devices, and in no other file type: mknod of a device fails
// with EPERM, mkfifo and socket files still work.
const deviceNodeBit = unix.S_IFCHR

// seccompProgram is an assembled filter, ready to load without allocating.
type seccompProgram struct {
	filters []unix.SockFilter
	prog    unix.SockFprog
}

// buildSeccompProgram assembles the sandbox's filter with go-seccomp-bpf:
// deny the calls above with EPERM, deny clone with namespace flags and
// mknod of device nodes with EPERM, and answer clone3 with ENOSYS (its flags live in memory a filter
// cannot read; glibc then falls back to clone, which the filter checks).
// System calls of another ABI (32-bit int 0x80 on x86-64) fail with
// ENOSYS: go-seccomp-bpf lets them through to its default action, which
// here is allow, so the check comes first.
func buildSeccompProgram() (*seccompProgram, error) {
	native, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	policy := seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionErrno, Names: deniedSyscalls},
			{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "clone", Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.BitsSet, Value: namespaceCloneFlags},
				}},
				// Device nodes, not FIFOs or sockets.
				{Name: "mknod", Conditions: seccomp.ArgumentConditions{
					{Argument: 1, Operation: seccomp.BitsSet, Value: deviceNodeBit},
				}},
				{Name: "mknodat", Conditions: seccomp.ArgumentConditions{
					{Argument: 2, Operation: seccomp.BitsSet, Value: deviceNodeBit},
				}},
			}},
			{Action: seccomp.Action(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)), Names: []string{"clone3"}},
		},
	}
	body, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble: %w", err)
	}
	const archOffset = 4 // offsetof(struct seccomp_data, arch)
	insts := append([]bpf.Instruction{
		bpf.LoadAbsolute{Off: archOffset, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(native.ID), SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}, body...)
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble BPF: %w", err)
	}
	p := &seccompProgram{filters: make([]unix.SockFilter, len(raw))}
	for i, r := range raw {
		p.filters[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	p.prog = unix.SockFprog{Len: uint16(len(p.filters)), Filter: &p.filters[0]}
	return p, nil
}

// load installs the filter on the calling thread (no_new_privs must be set)
// with one raw system call: it runs after the address-space limit, when the
// helper must not allocate.
func (p *seccompProgram) load() unix.Errno {
	_, _, errno := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&p.prog)))
	return errno
}

// DeniedSyscallCount is how many system calls the filter denies by name,
// for doctor's report.
func DeniedSyscallCount() int { return len(deniedSyscalls) }
