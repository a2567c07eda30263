//go:build linux

package sandboxinit

// The identity steps: host name, then every privilege dropped and every
// descriptor the interpreter must not inherit marked close-on-exec.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

func setHostname(*initState) error {
	return unix.Sethostname([]byte(initconfig.Hostname))
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

// closeInheritedFDs marks every descriptor past stdio close-on-exec but the
// envelope channel (a sandbox for one call) or the control socket (a
// session's): only those reach the interpreter. The code's stderr moves to
// fd 2 just before exec; the setup status pipe closes at exec, as the
// parent expects; whatever else the server inherited from its own parent
// stops here.
func closeInheritedFDs(st *initState) error {
	keep := uint(st.cfg.EnvelopeFD)
	if st.cfg.ControlFD != 0 {
		keep = uint(st.cfg.ControlFD)
	}
	if keep > 3 {
		if err := unix.CloseRange(3, keep-1, unix.CLOSE_RANGE_CLOEXEC); err != nil {
			return err
		}
	}
	return unix.CloseRange(keep+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}
