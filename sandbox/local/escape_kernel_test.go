//go:build linux

package local_test

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// kernelEscapeCases attack the kernel surfaces the seccomp filter closes:
// socket families other than UNIX, IPv4 and IPv6; new namespaces, mounts
// and the new mount API; tracing; the kernel's larger surfaces; device
// nodes; the 32-bit ABI; and memory that no rlimit counts. cgroups says
// whether the backend bounds each sandbox's memory with a cgroup.
func kernelEscapeCases(cgroups bool) []escapeCase {
	nr := func(n uintptr) string { return fmt.Sprint(n) }
	return []escapeCase{
		{name: "socket families other than UNIX, IPv4 and IPv6", code: fmt.Sprintf(`
def family_refused(what, make):
    try:
        s = make()
    except OSError as e:
        print("BLOCKED" if e.errno == errno.EAFNOSUPPORT else "ESCAPED", what, e)
        return
    s.close()
    print("ESCAPED", what, s)
for what, family, kind, proto in %s:
    family_refused(what, lambda: socket.socket(family, kind, proto))
family_refused("socketpair AF_VSOCK", lambda: socket.socketpair(%d, socket.SOCK_STREAM)[0])
# The family is an int: the kernel reads the low half of the register, the
# filter must not let junk in the high half turn a refused family into one
# it reads as allowed.
r = libc.syscall(%d, ctypes.c_long((1 << 32) | %d), ctypes.c_long(socket.SOCK_STREAM), ctypes.c_long(0))
e = ctypes.get_errno()
print("BLOCKED" if r == -1 and e == errno.EAFNOSUPPORT else "ESCAPED", "AF_VSOCK with junk in the high half", r, errno.errorcode.get(e, e))`,
			pyFamilies(), unix.AF_VSOCK, unix.SYS_SOCKET, unix.AF_VSOCK)},
		{name: "new namespaces", code: fmt.Sprintf(`
syscall_denied("unshare(CLONE_NEWUSER)", %s, 0x10000000)
syscall_denied("clone(CLONE_NEWUSER)", %s, 0x10000000 | 17, 0, 0, 0, 0)
syscall_denied("clone3", %s, 0, 0)
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
syscall_denied("setns", %s, fd, 0)`, nr(unix.SYS_UNSHARE), nr(unix.SYS_CLONE), nr(unix.SYS_CLONE3), nr(unix.SYS_SETNS))},
		{name: "mounts, root changes and the new mount API", code: fmt.Sprintf(`
syscall_denied("mount", %s, 0, 0, 0, 0, 0)
syscall_denied("umount2", %s, 0, 0)
syscall_denied("pivot_root", %s, 0, 0)
syscall_denied("chroot", %s, 0)
syscall_denied("open_tree", %s, -100, 0, 0)
for name, n in %s:
    syscall_denied(name, n, 0, 0, 0, 0, 0)`, nr(unix.SYS_MOUNT), nr(unix.SYS_UMOUNT2), nr(unix.SYS_PIVOT_ROOT), nr(unix.SYS_CHROOT),
			nr(unix.SYS_OPEN_TREE), pyCalls(map[string]uintptr{
				"fsopen": unix.SYS_FSOPEN, "fsconfig": unix.SYS_FSCONFIG, "fsmount": unix.SYS_FSMOUNT, "fspick": unix.SYS_FSPICK,
				"move_mount": unix.SYS_MOVE_MOUNT, "mount_setattr": unix.SYS_MOUNT_SETATTR,
				"open_tree_attr": unix.SYS_OPEN_TREE_ATTR, "listmount": unix.SYS_LISTMOUNT, "statmount": unix.SYS_STATMOUNT,
			}))},
		{name: "tracing and other processes' memory", code: fmt.Sprintf(`
import subprocess
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
syscall_denied("ptrace(PTRACE_ATTACH)", %s, 16, child.pid, 0, 0)
syscall_denied("process_vm_readv", %s, child.pid, 0, 0, 0, 0, 0)
syscall_denied("pidfd_getfd", %s, 0, 0, 0)
child.kill()`, nr(unix.SYS_PTRACE), nr(unix.SYS_PROCESS_VM_READV), nr(unix.SYS_PIDFD_GETFD))},
		{name: "kernel attack surface", code: fmt.Sprintf(`
for name, n in %s:
    syscall_denied(name, n, 0, 0, 0, 0, 0)`, pyCalls(map[string]uintptr{
			"bpf": unix.SYS_BPF, "perf_event_open": unix.SYS_PERF_EVENT_OPEN, "userfaultfd": unix.SYS_USERFAULTFD,
			"io_uring_setup": unix.SYS_IO_URING_SETUP, "keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY,
			"request_key": unix.SYS_REQUEST_KEY, "kexec_load": unix.SYS_KEXEC_LOAD, "init_module": unix.SYS_INIT_MODULE,
			"finit_module": unix.SYS_FINIT_MODULE, "delete_module": unix.SYS_DELETE_MODULE,
			"open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT, "name_to_handle_at": unix.SYS_NAME_TO_HANDLE_AT,
			"swapon": unix.SYS_SWAPON, "reboot": unix.SYS_REBOOT, "acct": unix.SYS_ACCT, "quotactl": unix.SYS_QUOTACTL,
			"memfd_secret": unix.SYS_MEMFD_SECRET,
		}))},
		{name: "device nodes", code: `blocked("mknod /dev/mem", lambda: os.mknod("/tmp/mem", 0o020600, os.makedev(1, 1)))`},
		{name: "32-bit system calls", amd64Only: true, code: `
import mmap, signal
# mov eax, 20 (getpid in the i386 table); int 0x80; ret. In a child: on a
# kernel without the 32-bit entry (IA-32 emulation off) int 0x80 faults.
pid = os.fork()
if pid == 0:
    buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3]))
    r = ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))()
    os._exit(0 if r == -errno.ENOSYS else 1)
_, st = os.waitpid(pid, 0)
if os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGSEGV:
    print("BLOCKED int 0x80 faults: this kernel has no 32-bit entry")
else:
    print("BLOCKED" if os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0 else "ESCAPED", "int 0x80 getpid, wait status", st)`},

		// Memory no rlimit counts: a memfd's pages while nothing maps
		// them, System V IPC objects. A memory cgroup charges them to the
		// sandbox; without one, the calls are refused.
		{name: "memfd pages past the memory limit", code: `
held = 0
def fill():
    global held
    fds = []
    while held < (256 << 20):
        fds.append(os.memfd_create("hold"))
        for _ in range(8):  # 8 MiB a memfd: under the file size limit
            os.write(fds[-1], b"x" * (1 << 20)); held += 1 << 20
blocked("memfds past the 128 MiB limit", fill)
print("ESCAPED" if held >= (256 << 20) else "BLOCKED", held >> 20, "MiB held in memfds")`,
			limits: func(l *sandbox.Limits) { l.MemoryBytes = 128 << 20 },
			check:  memoryBoundCheck(cgroups, "128 MiB")},
		{name: "System V shared memory past the memory limit", code: `
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
held = 0
def fill():
    global held
    while held < (256 << 20):
        seg = libc.shmget(0, 8 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
        if seg < 0:
            raise OSError(ctypes.get_errno(), "shmget: " + os.strerror(ctypes.get_errno()))
        addr = libc.shmat(seg, None, 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            raise OSError(ctypes.get_errno(), "shmat: " + os.strerror(ctypes.get_errno()))
        ctypes.memset(addr, 1, 8 << 20)
        libc.shmdt(ctypes.c_void_p(addr))  # the segment and its pages stay
        held += 8 << 20
blocked("System V segments past the 128 MiB limit", fill)
print("ESCAPED" if held >= (256 << 20) else "BLOCKED", held >> 20, "MiB held in segments")`,
			limits: func(l *sandbox.Limits) { l.MemoryBytes = 128 << 20 },
			check:  memoryBoundCheck(cgroups, "128 MiB")},
		{name: "memfd and System V IPC without a memory cgroup", withoutCgroupsOnly: true, code: fmt.Sprintf(`
blocked("os.memfd_create", lambda: os.memfd_create("x"))
for name, n, args in %s:
    syscall_denied(name, n, *args)`, pyCallsWithArgs([]pyCall{
			{"memfd_create", unix.SYS_MEMFD_CREATE, []int{0, 0}},
			{"shmget", unix.SYS_SHMGET, []int{0, 1 << 20, 0o1600}},
			{"shmat", unix.SYS_SHMAT, []int{0, 0, 0}},
			{"shmctl", unix.SYS_SHMCTL, []int{0, 0, 0}},
			{"msgget", unix.SYS_MSGGET, []int{0, 0o1600}},
			{"msgsnd", unix.SYS_MSGSND, []int{0, 0, 0, 0}},
			{"semget", unix.SYS_SEMGET, []int{0, 32000, 0o1600}},
			{"semop", unix.SYS_SEMOP, []int{0, 0, 0}},
		}))},
	}
}

// memoryBoundCheck passes an attack on memory that either ran to its end
// refused (BLOCKED) or, with a memory cgroup, was killed by it (the result
// says the sandbox exceeded its memory limit).
func memoryBoundCheck(cgroups bool, limit string) func(*testing.T, sandbox.Result) {
	return func(t *testing.T, res sandbox.Result) {
		t.Helper()
		if res.Status == sandbox.StatusKilled && cgroups {
			if res.Error == nil || !strings.Contains(res.Error.Message, "exceeded its memory limit of "+limit) {
				t.Errorf("killed, but not by the memory cgroup: %+v", res.Error)
			}
			return
		}
		defaultEscapeCheck(t, res)
	}
}

// pyFamilies renders the refused socket families to try as a Python list
// of (name, family, type, protocol).
func pyFamilies() string {
	families := []struct {
		name                   string
		family, kind, protocol int
	}{
		{"AF_VSOCK", unix.AF_VSOCK, unix.SOCK_STREAM, 0},
		{"AF_NETLINK", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE},
		{"AF_NETLINK uevents", unix.AF_NETLINK, unix.SOCK_DGRAM, unix.NETLINK_KOBJECT_UEVENT},
		{"AF_PACKET", unix.AF_PACKET, unix.SOCK_RAW, 0},
		{"AF_ALG", unix.AF_ALG, unix.SOCK_SEQPACKET, 0},
		{"AF_BLUETOOTH", unix.AF_BLUETOOTH, unix.SOCK_STREAM, 3}, // RFCOMM
		{"AF_KEY", unix.AF_KEY, unix.SOCK_RAW, 2},                // PF_KEY_V2
	}
	var parts []string
	for _, f := range families {
		parts = append(parts, fmt.Sprintf("(%q, %d, %d, %d)", f.name, f.family, f.kind, f.protocol))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// pyCall is a system call to try with its arguments.
type pyCall struct {
	name string
	nr   uintptr
	args []int
}

// pyCallsWithArgs renders calls as a Python list of (name, number, args).
func pyCallsWithArgs(calls []pyCall) string {
	var parts []string
	for _, c := range calls {
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = fmt.Sprint(a)
		}
		parts = append(parts, fmt.Sprintf("(%q, %d, [%s])", c.name, c.nr, strings.Join(args, ", ")))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// TestKernelFeaturesPythonNeeds: what the filter leaves allowed keeps
// working, as root and rootless: UNIX, IPv4 and IPv6 sockets and name
// resolution of localhost (glibc without netlink), POSIX shared memory in
// /dev/shm across processes, ctypes callbacks (libffi closures), and —
// where a memory cgroup bounds the sandbox — memfd and System V shared
// memory.
func TestKernelFeaturesPythonNeeds(t *testing.T) {
	tests := []struct {
		name         string
		code         string
		want         string
		needsCgroups bool
	}{
		{name: "UNIX, IPv4 and IPv6 sockets", want: "(b'uxxd', True)", code: `import socket
a, b = socket.socketpair()
a.sendall(b"u"); got = b.recv(1)
for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    srv = socket.create_server((host, 0), family=family)
    c = socket.create_connection(srv.getsockname()[:2], timeout=30)
    s, _ = srv.accept(); c.sendall(b"x"); got += s.recv(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0)); u.sendto(b"d", u.getsockname()); got += u.recv(1)
got, ("127.0.0.1", 80) in [ai[4] for ai in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)]`},
		{name: "POSIX shared memory across processes", want: "(b'hello', True)", code: `import multiprocessing as mp, os
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(create=True, size=1 << 20)
def child(): shm.buf[:5] = b"hello"
p = mp.get_context("fork").Process(target=child); p.start(); p.join()
got = bytes(shm.buf[:5]), os.path.exists("/dev/shm/" + shm.name.lstrip("/"))
shm.close(); shm.unlink()
got`},
		{name: "ctypes callbacks", want: "[1, 2, 3, 4, 5]", code: `import ctypes
libc = ctypes.CDLL(None)
cmp = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))(lambda x, y: x[0] - y[0])
a = (ctypes.c_int * 5)(5, 1, 4, 2, 3)
libc.qsort(a, 5, ctypes.sizeof(ctypes.c_int), cmp)
list(a)`},
		{name: "memfd with a memory cgroup", needsCgroups: true, want: "b'abc'", code: `import os
fd = os.memfd_create("x"); os.write(fd, b"abc")
os.pread(fd, 3, 0)`},
		{name: "System V shared memory with a memory cgroup", needsCgroups: true, want: "b'abc'", code: `import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
seg = libc.shmget(0, 4096, 0o1600)
addr = libc.shmat(seg, None, 0)
ctypes.memmove(addr, b"abc", 3)
got = ctypes.string_at(addr, 3)
libc.shmctl(seg, 0, None)  # IPC_RMID
got`},
	}
	b := newBackend(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsCgroups && !b.CgroupsActive() {
				t.Skip("no memory cgroup bounds the sandbox (rootless): memfd and System V IPC are refused")
			}
			res := run(t, tc.code)
			if res.Status != sandbox.StatusOK || resultString(res) != tc.want {
				t.Errorf("got %s %s, want ok %s; error %+v\nstdout %s\nstderr %s", res.Status, resultString(res), tc.want, res.Error, res.Stdout, res.Stderr)
			}
		})
	}
}
