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

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit"
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
	} else {
		add("sandbox uid", CheckOK, fmt.Sprintf("running as root: each sandbox runs as its own unprivileged host uid from %d", uidBase(opts)))
	}

	b, err := New(ctx, opts)
	if err != nil {
		add("sandbox", CheckFailed, hint(err))
		return checks, ok
	}
	defer b.Close()
	add("sandbox", CheckOK, "a trivial execution succeeded in a fresh sandbox")
	add("namespaces", CheckOK, "pid, mount, network, ipc, uts, cgroup"+map[bool]string{true: ", user", false: ""}[rootless])
	add("filesystem", CheckOK, fmt.Sprintf("read-only view of %s; private tmpfs for /tmp, %s and /dev/shm", strings.Join(b.layout.binds, ", "), sandboxinit.Workdir))
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
		add("seccomp", CheckOK, fmt.Sprintf("%d system calls denied (namespaces, mounts, ptrace, bpf, io_uring, keyrings, modules, ...), namespace-creating clone denied, clone3 answered ENOSYS, 32-bit system calls refused", sandboxinit.DeniedSyscallCount()))
	} else {
		add("seccomp", CheckFailed, "no seccomp filter is in force inside the sandbox")
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

func uidBase(opts Options) int {
	if opts.UIDBase != 0 {
		return opts.UIDBase
	}
	return DefaultUIDBase
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
