//go:build linux

package local

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The limits of a session's sandbox that change per call or are read while
// it lives: the CPU time limit, set before each call, and the memory in
// use.

// armCPULimit gives the interpreter limit more CPU time, counted from what
// it has used so far, which it returns: RLIMIT_CPU's soft limit becomes
// that sum in whole seconds, rounded up, as for a sandbox's first call
// (the kernel counts the limit in seconds). With raiseHard (the server is
// root with CAP_SYS_RESOURCE) the hard limit goes one second above it, as
// in a fresh sandbox, where the kernel's SIGKILL ends the interpreter
// whatever it does. A server that cannot raise a hard limit (rootless, or
// root without CAP_SYS_RESOURCE, as in many containers) leaves the hard
// limit the session started with (initconfig's KeepCPUHard) and moves only
// the soft one: at the soft limit the kernel signals SIGXCPU, and the
// session's harness ends the interpreter (SessionCPULimitExit); code that
// ignores SIGXCPU runs on to the call's wall-clock timeout.
//
// Rootless, the server owns the sandbox's user namespace, which lets it
// set the limits of its processes; root without CAP_SYS_RESOURCE it may
// only as the sandbox's own user (see asSandboxUser).
//
// Processes the code starts inherit the interpreter's limits as they are
// when they start: their own CPU time is bounded by the interpreter's CPU
// time so far plus the call's limit.
func (p *proc) armCPULimit(limit time.Duration, raiseHard bool) (used time.Duration, err error) {
	err = p.withPid(func(pid int) error {
		var ts unix.Timespec
		if err := unix.ClockGettime(processProfClock(pid), &ts); err != nil {
			return fmt.Errorf("read the interpreter's CPU time: %w", err)
		}
		used = time.Duration(ts.Nano())
		soft := uint64((used + limit + time.Second - 1) / time.Second)
		set := func() error {
			var old unix.Rlimit
			if err := unix.Prlimit(pid, unix.RLIMIT_CPU, nil, &old); err != nil {
				return fmt.Errorf("read the interpreter's CPU limit: %w", err)
			}
			next := unix.Rlimit{Cur: min(soft, old.Max), Max: old.Max}
			if raiseHard {
				next = unix.Rlimit{Cur: soft, Max: soft + cpuHardGraceSeconds}
			}
			if err := unix.Prlimit(pid, unix.RLIMIT_CPU, &next, nil); err != nil {
				return fmt.Errorf("set the interpreter's CPU limit: %w", err)
			}
			return nil
		}
		if raiseHard || p.uid == 0 {
			return set()
		}
		return asSandboxUser(p.uid, set)
	})
	return used, err
}

// asSandboxUser runs f with the real and effective uid and gid of the
// sandbox, uid: prlimit(2) lets a process set the limits of another with
// its own credentials. Credentials are per thread in Linux, so the raw
// setresgid/setresuid calls change this goroutine's locked thread alone
// (Go's own wrappers would change every thread's), and the Go runtime
// starts no thread from a locked one (its template thread does), so none
// inherits them. The saved uid stays the server's, so the thread takes
// its own credentials back before it is unlocked. The thread must not
// end: a sandbox started from it would get its Pdeathsig; if the
// credentials cannot be restored, the goroutine parks on it for good
// rather than run anything else as the sandbox's user.
func asSandboxUser(uid int, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ruid, euid, suid := unix.Getresuid()
		rgid, egid, sgid := unix.Getresgid()
		setres := func(nr uintptr, r, e, s int) unix.Errno {
			_, _, errno := unix.RawSyscall(nr, uintptr(r), uintptr(e), uintptr(s))
			return errno
		}
		if e := setres(unix.SYS_SETRESGID, uid, uid, sgid); e != 0 {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("take the sandbox's gid %d: %w", uid, e)
			return
		}
		err := f
		if e := setres(unix.SYS_SETRESUID, uid, uid, suid); e != 0 {
			err = func() error { return fmt.Errorf("take the sandbox's uid %d: %w", uid, e) }
		}
		errc <- err()
		if setres(unix.SYS_SETRESUID, ruid, euid, suid) != 0 || setres(unix.SYS_SETRESGID, rgid, egid, sgid) != 0 {
			select {} // never unlocked, never ended: see above
		}
		runtime.UnlockOSThread()
	}()
	return <-errc
}

// hasCapability reports whether the server's effective capabilities hold
// c.
func hasCapability(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// cpuHardGraceSeconds is how far RLIMIT_CPU's hard limit lies past its
// soft limit where the server sets both (the init helper's rule).
const cpuHardGraceSeconds = 1

// memoryInUse is the memory the sandbox uses now: its memory cgroup's
// usage where it has one (every process, and its scratch space's pages),
// else the interpreter's resident set; 0 when it cannot be read.
func (p *proc) memoryInUse() int64 {
	if p.cgroup != nil {
		b, err := os.ReadFile(filepath.Join(p.cgroup.mem, "memory.usage_in_bytes"))
		if err != nil {
			return 0
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	var rss int64
	_ = p.withPid(func(pid int) error {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				rss = kb << 10
			}
		}
		return nil
	})
	return rss
}
