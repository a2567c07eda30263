//go:build linux

package sandboxinit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The helper takes the process over when started under its name. It runs
// before main, so a binary needs nothing more than to link this package.
func init() {
	if len(os.Args) > 0 && os.Args[0] == Arg0 {
		runInit()
	}
}

// newRoot is where the sandbox's root filesystem is assembled before
// pivot_root. It lies in the helper's private mount namespace, so mounting
// over it changes nothing on the host; every host path the sandbox needs is
// captured with open_tree before the staging mount can hide it.
const newRoot = "/tmp"

// devNodes are the device files the sandbox gets, bound from the host.
var devNodes = []string{"null", "zero", "full", "random", "urandom"}

// initStep is one step of sandbox setup, with its own error.
type initStep struct {
	name string
	run  func(*initState) error
}

// initState is what the steps share.
type initState struct {
	cfg      *Config
	landlock *landlockRuleset
	seccomp  *seccompProgram
	// trees are detached copies of host paths, taken before the staging
	// mount, keyed by their path inside the sandbox.
	trees []detachedTree
}

type detachedTree struct {
	fd     int
	target string
	dir    bool
	// writable device nodes keep write access; everything else is read-only.
	device bool
}

var initSteps = []initStep{
	{"make mounts private", makeMountsPrivate},
	{"capture host paths", captureHostPaths},
	{"mount staging root", mountStagingRoot},
	{"populate root", populateRoot},
	{"attach read-only binds", attachBinds},
	{"mount scratch space", mountScratch},
	{"mount /proc", mountProc},
	{"pivot root", pivotRoot},
	{"make root read-only", makeRootReadOnly},
	{"bring up loopback", bringUpLoopback},
	{"open the egress proxy listener", openProxyListener},
	{"set hostname", setHostname},
	{"drop privileges", dropPrivileges},
	{"close inherited descriptors", closeInheritedFDs},
	{"prepare landlock ruleset", prepareLandlockStep},
	{"prepare seccomp filter", prepareSeccompStep},
	{"apply landlock, rlimits and seccomp, and exec the interpreter", execInterpreter},
}

// runInit sets the sandbox up step by step and execs the interpreter. On
// failure it writes "step: error" to the setup status pipe and exits 125.
// It never returns.
func runInit() {
	// Capabilities, no_new_privs and the bounding set are per thread: do
	// every step, and the final exec, on this one thread.
	runtime.LockOSThread()
	status := os.NewFile(SetupStatusFD, "setup-status")
	if _, err := unix.FcntlInt(uintptr(SetupStatusFD), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		os.Exit(125)
	}
	fail := func(step string, err error) {
		fmt.Fprintf(status, "%s: %v", step, err)
		os.Exit(125)
	}
	cfg, err := readConfig()
	if err != nil {
		fail("read config", err)
	}
	st := &initState{cfg: cfg}
	for _, step := range initSteps {
		if err := step.run(st); err != nil {
			fail(step.name, err)
		}
	}
	fail("exec interpreter", errors.New("exec returned"))
}

func makeMountsPrivate(*initState) error {
	// A stock systemd host shares propagation: without this, mounts made
	// here would appear on the host.
	return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
}

func captureHostPaths(st *initState) error {
	capture := func(path string, recursive, dir, device bool) error {
		flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
		if recursive {
			flags |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, path, flags)
		if err != nil {
			return fmt.Errorf("open_tree %s: %w", path, err)
		}
		st.trees = append(st.trees, detachedTree{fd: fd, target: path, dir: dir, device: device})
		return nil
	}
	for _, b := range st.cfg.Binds {
		if err := capture(b, true, true, false); err != nil {
			return err
		}
	}
	for _, f := range st.cfg.FileBinds {
		if err := capture(f, false, false, false); err != nil {
			return err
		}
	}
	for _, d := range devNodes {
		if err := capture("/dev/"+d, false, false, true); err != nil {
			return err
		}
	}
	return nil
}

func mountStagingRoot(*initState) error {
	return unix.Mount("airlock-root", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755")
}

func populateRoot(st *initState) error {
	for _, d := range []string{"proc", "dev", "dev/shm", "tmp", "etc", ".scratch", strings.TrimPrefix(Workdir, "/")} {
		if err := os.MkdirAll(filepath.Join(newRoot, d), 0o755); err != nil {
			return err
		}
	}
	for _, t := range st.trees {
		dst := filepath.Join(newRoot, t.target)
		if t.dir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return err
		}
	}
	for path, target := range st.cfg.Symlinks {
		dst := filepath.Join(newRoot, path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	}
	for _, l := range [][2]string{{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}} {
		if err := os.Symlink(l[1], filepath.Join(newRoot, "dev", l[0])); err != nil {
			return err
		}
	}
	uid, gid := sandboxIDs(st.cfg)
	etc := map[string]string{
		"passwd":   fmt.Sprintf("sandbox:x:%d:%d:airlock sandbox:%s:/usr/sbin/nologin\n", uid, gid, Workdir),
		"group":    fmt.Sprintf("sandbox:x:%d:\n", gid),
		"hostname": Hostname + "\n",
		"hosts":    "127.0.0.1\tlocalhost " + Hostname + "\n::1\tlocalhost\n",
	}
	for name, content := range etc {
		if err := os.WriteFile(filepath.Join(newRoot, "etc", name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// sandboxIDs are the uid and gid the code runs as, as seen inside.
func sandboxIDs(cfg *Config) (int, int) {
	if cfg.Rootless {
		return 0, 0
	}
	return cfg.UID, cfg.GID
}

func attachBinds(st *initState) error {
	for _, t := range st.trees {
		dst := filepath.Join(newRoot, t.target)
		if err := unix.MoveMount(t.fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("move_mount %s: %w", t.target, err)
		}
		unix.Close(t.fd)
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV}
		if t.device {
			attr = &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC}
		}
		if err := unix.MountSetattr(unix.AT_FDCWD, dst, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("mount_setattr %s: %w", t.target, err)
		}
	}
	st.trees = nil
	return nil
}

// mountScratch mounts one size-limited tmpfs and binds its parts at /tmp,
// the working directory and /dev/shm, so one limit bounds them all.
func mountScratch(st *initState) error {
	scratch := filepath.Join(newRoot, ".scratch")
	uid, gid := sandboxIDs(st.cfg)
	opts := fmt.Sprintf("size=%d,mode=0755,nr_inodes=16384", st.cfg.ScratchBytes)
	if err := unix.Mount("airlock-scratch", scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return err
	}
	parts := []struct {
		name, target string
		mode         os.FileMode
	}{
		{"tmp", "tmp", 0o777 | os.ModeSticky},
		{"shm", "dev/shm", 0o777 | os.ModeSticky},
		{"work", strings.TrimPrefix(Workdir, "/"), 0o755},
	}
	for _, p := range parts {
		src := filepath.Join(scratch, p.name)
		if err := os.Mkdir(src, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(src, p.mode); err != nil {
			return err
		}
		if err := os.Chown(src, uid, gid); err != nil {
			return err
		}
		if err := unix.Mount(src, filepath.Join(newRoot, p.target), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p.target, err)
		}
	}
	if err := unix.Unmount(scratch, unix.MNT_DETACH); err != nil {
		return err
	}
	return os.Remove(scratch)
}

func mountProc(*initState) error {
	return unix.Mount("proc", filepath.Join(newRoot, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

func pivotRoot(*initState) error {
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root under the new one; detaching
	// it leaves nothing of the host reachable.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

func makeRootReadOnly(*initState) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	return unix.MountSetattr(unix.AT_FDCWD, "/", 0, attr)
}

func bringUpLoopback(*initState) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// openProxyListener opens the one way out of the sandbox: a TCP socket
// listening on loopback inside the sandbox's network namespace, which it
// hands to the parent (SCM_RIGHTS) to serve the Airlock proxy on. The
// helper keeps no copy: the interpreter can connect to it, never accept.
func openProxyListener(st *initState) error {
	if st.cfg.ProxyPort == 0 {
		return nil
	}
	defer unix.Close(ProxyChannelFD)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: st.cfg.ProxyPort, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fmt.Errorf("bind 127.0.0.1:%d: %w", st.cfg.ProxyPort, err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := unix.Sendmsg(ProxyChannelFD, []byte{1}, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send the listener to the server: %w", err)
	}
	return nil
}

func setHostname(*initState) error {
	return unix.Sethostname([]byte(Hostname))
}

// dropPrivileges leaves the code with no capabilities and no way to gain
// any: no_new_privs, an empty bounding set, and either a host uid that is
// not root (server running as root) or, in a user namespace, root of that
// namespace with every capability cleared and the securebits that stop exec
// from granting new ones.
func dropPrivileges(st *initState) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	last, err := lastCap()
	if err != nil {
		return err
	}
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if st.cfg.Rootless {
		bits := secbitNoRoot | secbitNoRootLocked | secbitNoSetuidFixup |
			secbitNoSetuidFixupLocked | secbitKeepCapsLocked
		if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(bits), 0, 0, 0); err != nil {
			return fmt.Errorf("securebits: %w", err)
		}
	} else {
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setresgid(st.cfg.GID, st.cfg.GID, st.cfg.GID); err != nil {
			return fmt.Errorf("setresgid %d: %w", st.cfg.GID, err)
		}
		if err := syscall.Setresuid(st.cfg.UID, st.cfg.UID, st.cfg.UID); err != nil {
			return fmt.Errorf("setresuid %d: %w", st.cfg.UID, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	// A credential change clears the parent-death signal: set it again so
	// the sandbox dies with the server.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("pdeathsig: %w", err)
	}
	return nil
}

// Securebits (linux/securebits.h), which x/sys/unix does not define.
const (
	secbitNoRoot              = 1 << 0
	secbitNoRootLocked        = 1 << 1
	secbitNoSetuidFixup       = 1 << 2
	secbitNoSetuidFixupLocked = 1 << 3
	secbitKeepCapsLocked      = 1 << 5
)

func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func closeInheritedFDs(*initState) error {
	// Only stdio and the envelope channel (3) reach the interpreter; the
	// setup status pipe (4) is already close-on-exec, and the code's stderr
	// (5) moves to fd 2 just before exec. Whatever else the server
	// inherited from its own parent stops here.
	return unix.CloseRange(CodeStderrFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
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

func prepareLandlockStep(st *initState) (err error) {
	st.landlock, err = prepareLandlock()
	return err
}

func prepareSeccompStep(st *initState) (err error) {
	st.seccomp, err = buildSeccompProgram(st.cfg.DenyUnaccountedMemory)
	return err
}

func prepareExec(cfg *Config) (*execArgs, error) {
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
	if err := unix.Chdir(Workdir); err != nil {
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
	lims := rlimitTable(st.cfg.Rlimits)
	for _, l := range lims {
		if err := syscall.Setrlimit(l.res, &syscall.Rlimit{Cur: l.soft, Max: l.hard}); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	// From here on, no allocation: a failure is reported by exit code.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_DUP3, CodeStderrFD, 2, 0); errno != 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 126, 0, 0)
	}
	if errno := st.seccomp.load(); errno != 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 126, 0, 0)
	}
	syscall.RawSyscall(syscall.SYS_EXECVE,
		uintptr(unsafe.Pointer(args.path)),
		uintptr(unsafe.Pointer(&args.argv[0])),
		uintptr(unsafe.Pointer(&args.env[0])))
	// Still here: exec failed. Say so on the status pipe without allocating.
	syscall.RawSyscall(syscall.SYS_WRITE, SetupStatusFD, uintptr(unsafe.Pointer(&failed[0])), uintptr(len(failed)))
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
func rlimitTable(r Rlimits) []rlimit {
	return []rlimit{
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0, 0},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, r.OpenFiles, r.OpenFiles},
		{"RLIMIT_NPROC", unix.RLIMIT_NPROC, r.Processes, r.Processes},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, r.FileSize, r.FileSize},
		{"RLIMIT_CPU", unix.RLIMIT_CPU, r.CPUSeconds, r.CPUSeconds + cpuHardGraceSeconds},
		{"RLIMIT_AS", unix.RLIMIT_AS, r.AddressSpace, r.AddressSpace},
	}
}
