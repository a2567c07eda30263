//go:build linux

package syscallfilter

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
	// namespaces and mounts, the new mount API and its mount listing included
	"unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr",
	"listmount", "statmount",
	// tracing and other processes' memory
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
	// kernel surfaces with a history of exploits
	"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"keyctl", "add_key", "request_key",
	// kernel and host state
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"open_by_handle_at", "name_to_handle_at",
	"swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd",
	"syslog", "vhangup", "lookup_dcookie",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
}

// legacySyscalls are denied like deniedSyscalls where the architecture has
// them (x86-64); newer ones (arm64) never had them, and go-seccomp-bpf
// refuses to assemble a name its table for the architecture lacks.
var legacySyscalls = []string{"uselib", "iopl", "ioperm"}

// absentSyscalls fail with ENOSYS, as on a kernel without them, so that
// libraries take their fallback: clone3, whose flags live in memory a
// filter cannot read (glibc then uses clone, whose flags the filter
// checks), and memfd_secret, which takes pages out of the kernel's direct
// map and which nothing in Python uses.
var absentSyscalls = []string{"clone3", "memfd_secret"}

// allowedSocketFamilies are the only address families socket(2) and
// socketpair(2) may ask for: UNIX sockets, IPv4 and IPv6, which in the
// sandbox's network namespace reach only its own loopback (and, with egress
// allowed, the Airlock proxy on it). Every other family fails with
// EAFNOSUPPORT, which libraries read as "not available here": AF_VSOCK
// above all (the hypervisor's sockets, which no network namespace
// isolates), and AF_NETLINK, AF_PACKET, AF_ALG, AF_BLUETOOTH, AF_KEY and
// the rest of the kernel's protocol families. Without AF_NETLINK, glibc's
// getaddrinfo assumes both IPv4 and IPv6 are configured (it cannot ask), and
// if_nameindex and getifaddrs fail; nothing else sandboxed Python does
// needs it.
var allowedSocketFamilies = []uint64{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6}

// unaccountedMemorySyscalls make memory that no rlimit counts: a memfd's
// pages while no process maps them, and System V shared memory segments,
// message queues and semaphore sets, which live in the IPC namespace, not
// in any address space. With a memory cgroup those pages are charged to
// the sandbox and the calls stay allowed; without one they are refused
// (initconfig.Config.DenyUnaccountedMemory) with ENOSYS, as on a kernel
// built without them, so libraries fall back to files: POSIX shared memory
// in /dev/shm (multiprocessing.shared_memory) lies in the scratch tmpfs,
// whose size is capped. shmdt and the rest are refused with their creators, so that no
// part of System V IPC is half there.
var unaccountedMemorySyscalls = []string{
	"memfd_create",
	"shmget", "shmat", "shmctl", "shmdt",
	"msgget", "msgsnd", "msgrcv", "msgctl",
	"semget", "semop", "semtimedop", "semctl",
}

// namespaceCloneFlags are the clone(2) flags that create namespaces; a
// clone asking for any of them fails with EPERM like unshare does.
const namespaceCloneFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// deviceNodeBit is set in the mode of character (S_IFCHR) and block
// (S_IFBLK) devices, and in no other file type: mknod of a device fails
// with EPERM, mkfifo and socket files still work.
const deviceNodeBit = unix.S_IFCHR

// Program is an assembled filter, ready to load without allocating.
type Program struct {
	filters []unix.SockFilter
	prog    unix.SockFprog
}

// errno is the action failing a system call with e.
func errno(e unix.Errno) seccomp.Action {
	return seccomp.Action(unix.SECCOMP_RET_ERRNO | uint32(e))
}

// seccompFilter assembles the sandbox's filter with go-seccomp-bpf:
// deniedSyscalls, and legacySyscalls where the architecture has them, fail
// with EPERM, clone with namespace flags and mknod of device nodes too;
// absentSyscalls answer ENOSYS; socket and socketpair of any family but
// allowedSocketFamilies answer EAFNOSUPPORT; and, when
// denyUnaccountedMemory, unaccountedMemorySyscalls answer ENOSYS.
// System calls of another ABI (32-bit int 0x80 on x86-64) fail with
// ENOSYS: go-seccomp-bpf lets them through to its default action, which
// here is allow, so the check comes first.
func seccompFilter(denyUnaccountedMemory bool) ([]bpf.Instruction, error) {
	native, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("syscallfilter: this architecture: %w", err)
	}
	// The family is an int, but the filter sees the whole 64-bit register
	// while the kernel reads only its low half: a family is allowed only
	// when all 64 bits equal an allowed one, so a value with junk in the
	// high half is refused rather than read as its low half.
	var otherFamily seccomp.ArgumentConditions
	for _, f := range allowedSocketFamilies {
		otherFamily = append(otherFamily, seccomp.Condition{Argument: 0, Operation: seccomp.NotEqual, Value: f})
	}
	conditional := []seccomp.NameWithConditions{
		{Name: "clone", Conditions: seccomp.ArgumentConditions{
			{Argument: 0, Operation: seccomp.BitsSet, Value: namespaceCloneFlags},
		}},
		// Device nodes, not FIFOs or sockets.
		{Name: "mknodat", Conditions: seccomp.ArgumentConditions{
			{Argument: 2, Operation: seccomp.BitsSet, Value: deviceNodeBit},
		}},
	}
	if _, ok := native.SyscallNames["mknod"]; ok { // x86-64; arm64 has only mknodat
		conditional = append(conditional, seccomp.NameWithConditions{Name: "mknod", Conditions: seccomp.ArgumentConditions{
			{Argument: 1, Operation: seccomp.BitsSet, Value: deviceNodeBit},
		}})
	}
	groups := []seccomp.SyscallGroup{
		{Action: errno(unix.EPERM), Names: append(onArch(native, legacySyscalls), deniedSyscalls...)},
		{Action: errno(unix.EPERM), NamesWithCondtions: conditional},
		{Action: errno(unix.EAFNOSUPPORT), NamesWithCondtions: []seccomp.NameWithConditions{
			{Name: "socket", Conditions: otherFamily},
			{Name: "socketpair", Conditions: otherFamily},
		}},
		{Action: errno(unix.ENOSYS), Names: absentSyscalls},
	}
	if denyUnaccountedMemory {
		groups = append(groups, seccomp.SyscallGroup{Action: errno(unix.ENOSYS), Names: unaccountedMemorySyscalls})
	}
	policy := seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: groups}
	body, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("syscallfilter: assemble: %w", err)
	}
	const archOffset = 4 // offsetof(struct seccomp_data, arch)
	return append([]bpf.Instruction{
		bpf.LoadAbsolute{Off: archOffset, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(native.ID), SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}, body...), nil
}

// onArch returns the names of syscalls the architecture has.
func onArch(native *arch.Info, names []string) []string {
	var have []string
	for _, n := range names {
		if _, ok := native.SyscallNames[n]; ok {
			have = append(have, n)
		}
	}
	return have
}

// Build assembles seccompFilter into a program ready to load.
func Build(denyUnaccountedMemory bool) (*Program, error) {
	insts, err := seccompFilter(denyUnaccountedMemory)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("syscallfilter: assemble BPF: %w", err)
	}
	p := &Program{filters: make([]unix.SockFilter, len(raw))}
	for i, r := range raw {
		p.filters[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	p.prog = unix.SockFprog{Len: uint16(len(p.filters)), Filter: &p.filters[0]}
	return p, nil
}

// Load installs the filter on the calling thread (no_new_privs must be set)
// with one raw system call: it runs after the address-space limit, when the
// helper must not allocate.
func (p *Program) Load() unix.Errno {
	_, _, errno := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&p.prog)))
	return errno
}

// DeniedCount is how many system calls the filter refuses by name
// in every sandbox (with EPERM or ENOSYS), for doctor's report.
func DeniedCount() int {
	n := len(deniedSyscalls) + len(absentSyscalls)
	if native, err := arch.GetInfo(""); err == nil {
		n += len(onArch(native, legacySyscalls))
	}
	return n
}

// UnaccountedMemoryCount is how many more system calls it refuses
// where no memory cgroup bounds the sandbox, for doctor's report.
func UnaccountedMemoryCount() int { return len(unaccountedMemorySyscalls) }
