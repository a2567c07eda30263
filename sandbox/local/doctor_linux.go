//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/syscallfilter"
)

// Diagnose checks, for a person, everything the local backend needs and
// every protection it applies on this host. ok is false when the backend
// cannot run.
func Diagnose(ctx context.Context, opts Options) (checks []Check, ok bool) {
	ok = true
	add := func(name string, state CheckState, detail string) {
		checks = append(checks, Check{Name: name, State: state, Detail: detail})
		if state == CheckFailed {
			ok = false
		}
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	add("platform", CheckOK, fmt.Sprintf("linux %s/%s, kernel %s", runtime.GOARCH, unix.ByteSliceToString(uts.Machine[:]), unix.ByteSliceToString(uts.Release[:])))

	in, err := FindInterpreter(ctx, opts.Python)
	if err != nil {
		add("interpreter", CheckFailed, err.Error())
		return checks, ok
	}
	add("interpreter", CheckOK, fmt.Sprintf("Python %s at %s (requested %s)", in.Version, in.Executable, in.Requested))

	rootless := os.Geteuid() != 0
	if rootless {
		if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
			add("user namespaces", CheckFailed, "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0); enable them or run the server as root")
		} else {
			add("user namespaces", CheckOK, fmt.Sprintf("not root (uid %d): sandboxes run as root of a user namespace mapped to uid %d, with every capability dropped", os.Geteuid(), os.Geteuid()))
		}
	}

	b, err := New(ctx, opts)
	if err != nil {
		add("sandbox", CheckFailed, hint(err))
		return checks, ok
	}
	defer b.Close()
	add("sandbox", CheckOK, "a trivial execution succeeded in a fresh sandbox")
	if v, err := b.probePython(ctx); err != nil {
		add("python sys.path", CheckFailed, err.Error())
	} else {
		for _, c := range pythonChecks(v) {
			add(c.Name, c.State, c.Detail)
		}
	}
	if first, last, ok := b.UIDRange(); ok {
		add("sandbox uid", CheckOK, fmt.Sprintf("running as root: each server claims its own block of %d host uids (lock files in %s), each sandbox one uid of it; this check got %d–%d",
			last-first+1, hostUIDRanges.dir(), first, last))
	}
	add("namespaces", CheckOK, "pid, mount, network, ipc, uts, cgroup"+map[bool]string{true: ", user", false: ""}[rootless])
	add("filesystem", CheckOK, fmt.Sprintf("read-only view of %s; private tmpfs for /tmp, %s and /dev/shm", strings.Join(b.layout.binds, ", "), initconfig.Workdir))
	if opts.Network == nil {
		add("network", CheckOK, "none: an empty network namespace with only loopback")
	} else if err := b.probeProxy(ctx); err != nil {
		add("network", CheckFailed, "the Airlock proxy did not answer inside a sandbox: "+err.Error())
	} else {
		add("network", CheckOK, fmt.Sprintf("Airlock proxy: a network namespace with only loopback, whose one way out is the proxy on 127.0.0.1:%d (answered inside a sandbox); each connection is decided by the network policy", ProxyPort))
	}
	add("environment", CheckOK, "scrubbed: the server's environment never reaches the code")
	prot, err := b.probeProtections(ctx)
	if err != nil {
		add("protections", CheckFailed, err.Error())
		return checks, ok
	}
	if prot.noCaps && prot.noNewPrivs {
		add("privileges", CheckOK, "no capabilities, empty bounding set, no_new_privs (checked inside a sandbox)")
	} else {
		add("privileges", CheckFailed, fmt.Sprintf("a sandbox kept privileges: %+v", prot))
	}
	if prot.seccomp {
		add("seccomp", CheckOK, fmt.Sprintf("%d system calls denied (namespaces, mounts, ptrace, bpf, io_uring, keyrings, modules, ...), namespace-creating clone denied, clone3 and memfd_secret answered ENOSYS, 32-bit system calls refused", syscallfilter.DeniedCount()))
	} else {
		add("seccomp", CheckFailed, "no seccomp filter is in force inside the sandbox")
	}
	if surf, err := b.probeKernelSurfaces(ctx); err != nil {
		add("socket families", CheckFailed, err.Error())
	} else {
		addKernelSurfaceChecks(add, surf, b.cgroups != nil)
	}
	if abi, err := llsyscall.LandlockGetABIVersion(); err != nil || abi < 1 || !prot.landlock {
		add("landlock", CheckUnavailable, "the kernel has no Landlock (or it is not enabled at boot); the read-only mounts still hold")
	} else if abi < 6 {
		add("landlock", CheckDegraded, fmt.Sprintf("kernel ABI %d: filesystem rules enforced, signal and abstract-socket scoping need ABI 6", abi))
	} else {
		add("landlock", CheckOK, fmt.Sprintf("kernel ABI %d: writes only to /tmp, /work, /dev/shm; signals and abstract sockets scoped to the sandbox", abi))
	}
	add("rlimits", CheckOK, "address space (memory), CPU time, processes, file size, open files, no core dumps")
	if rootless {
		add("process limit", CheckOK, "counted per sandbox (per user namespace)")
	} else {
		add("process limit", CheckOK, "counted per sandbox (one host uid each)")
	}
	if b.cgroups != nil {
		add("cgroups", CheckOK, "cgroup v1 memory and pids per sandbox: memory bounded for the whole sandbox, OOM kills reported as the memory limit")
	} else {
		add("cgroups", CheckDegraded, b.cgroupsMissing)
	}
	add("wall-clock timeout", CheckOK, "kills the sandbox's pid namespace: nothing the code started survives; sandboxes die with the server")
	return checks, ok
}

// hint turns a setup error into advice a person can act on.
func hint(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, unix.EPERM) || strings.Contains(msg, "operation not permitted"):
		return msg + " — namespaces were refused: inside a container, allow user namespaces (or run privileged); on a host, check kernel.unprivileged_userns_clone and AppArmor's userns restrictions"
	case strings.Contains(msg, "function not implemented") || strings.Contains(msg, "invalid argument"):
		return msg + " — the kernel lacks a feature the sandbox needs (Linux 5.12 or newer is required for mount_setattr)"
	}
	return msg
}

// kernelSurfaces is what a sandbox answers when it asks for an AF_VSOCK
// socket and a memfd: "allowed" or the errno's name.
type kernelSurfaces struct {
	vsock, memfd string
}

const probeKernelSurfacesScript = `import errno, os, socket
def answer(make, close):
    try:
        close(make())
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "allowed"
print(answer(lambda: socket.socket(40, socket.SOCK_STREAM), lambda s: s.close()),
      answer(lambda: os.memfd_create("probe"), os.close))`

func (b *Backend) probeKernelSurfaces(ctx context.Context) (kernelSurfaces, error) {
	res, err := b.Execute(ctx, sandbox.Request{Code: probeKernelSurfacesScript, Limits: selfTestLimits})
	if err != nil {
		return kernelSurfaces{}, err
	}
	f := strings.Fields(res.Stdout)
	if res.Status != sandbox.StatusOK || len(f) != 2 {
		return kernelSurfaces{}, fmt.Errorf("the socket and memfd probe failed inside a sandbox: %s %q %q", res.Status, res.Stdout, res.Stderr)
	}
	return kernelSurfaces{vsock: f[0], memfd: f[1]}, nil
}

// addKernelSurfaceChecks reports the socket families a sandbox may use and
// what it may do with memory no rlimit counts, from what a sandbox
// answered.
func addKernelSurfaceChecks(add func(string, CheckState, string), surf kernelSurfaces, memoryCgroup bool) {
	if surf.vsock == "EAFNOSUPPORT" {
		add("socket families", CheckOK, "AF_UNIX, AF_INET and AF_INET6 only: every other family (AF_VSOCK, AF_NETLINK, AF_PACKET, AF_ALG, ...) is answered EAFNOSUPPORT (AF_VSOCK checked inside a sandbox)")
	} else {
		add("socket families", CheckFailed, "a sandbox asking for an AF_VSOCK socket got "+surf.vsock+", not EAFNOSUPPORT: the seccomp filter is not the one this build installs")
	}
	switch {
	case memoryCgroup && surf.memfd == "allowed":
		add("memfd and System V IPC", CheckOK, "allowed: their pages are charged to each sandbox's memory cgroup")
	case !memoryCgroup && surf.memfd == "ENOSYS":
		add("memfd and System V IPC", CheckOK, fmt.Sprintf("refused (%d system calls answered ENOSYS, memfd checked inside a sandbox): without a memory cgroup nothing would bound their memory; POSIX shared memory in /dev/shm works, within the scratch space's cap", syscallfilter.UnaccountedMemoryCount()))
	case memoryCgroup:
		add("memfd and System V IPC", CheckDegraded, "a sandbox asking for a memfd got "+surf.memfd+", though its memory cgroup would bound it")
	default:
		add("memfd and System V IPC", CheckFailed, "a sandbox asking for a memfd got "+surf.memfd+", not ENOSYS, and no memory cgroup bounds its pages: the seccomp filter is not the one this build installs")
	}
}
