//go:build linux

package sandboxinit

import (
	"fmt"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// landlockABI is the Landlock ABI the ruleset is written for. Pinned, so a
// newer kernel's new access rights cannot silently deny what the sandbox
// needs; older kernels get the best they support (best-effort mode).
var landlockABI = landlock.V7

// landlockConfig restricts filesystem access and IPC scopes (signals and
// abstract UNIX sockets stay inside the sandbox), but not TCP: loopback
// inside the sandbox's own network namespace is the code's to use.
func landlockConfig() landlock.Config {
	cfg := landlockABI
	cfg.HandledAccessNet = 0
	return cfg.BestEffort()
}

// landlockRules are what sandboxed code may touch, on top of what the
// read-only mounts already allow: read and execute anywhere in its own
// (minimal) tree, write only in its scratch space and a few device nodes.
// Writes to /proc (a sibling's memory, sysctls) are denied, as are device
// ioctls and creating device or socket files outside the scratch space.
// The operator's writable mounts are writable too.
func landlockRules(cfg *initconfig.Config) []landlock.Rule {
	writable := []string{"/tmp", initconfig.Workdir, "/dev/shm"}
	for _, m := range cfg.Mounts {
		if m.Writable {
			writable = append(writable, m.Target)
		}
	}
	return []landlock.Rule{
		landlock.RODirs("/"),
		landlock.RWDirs(writable...),
		landlock.RWFiles("/dev/null", "/dev/zero", "/dev/full"),
	}
}

// landlockRuleset is a ruleset ready to enforce on the calling thread.
type landlockRuleset struct {
	fd    int
	flags uint32
	// abi is the kernel's Landlock ABI version (0: no Landlock).
	abi int
}

// prepareLandlock creates the ruleset (paths are resolved now, inside the
// sandbox's root). With no Landlock in the kernel it returns fd -1 and
// enforcement is skipped: the other layers still hold.
func prepareLandlock(cfg *initconfig.Config) (*landlockRuleset, error) {
	abi, err := llsyscall.LandlockGetABIVersion()
	if err != nil {
		abi = 0
	}
	fd, flags, err := landlockConfig().NewRulesetFD(landlockRules(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("landlock ruleset: %w", err)
	}
	return &landlockRuleset{fd: fd, flags: flags, abi: abi}, nil
}

// enforce restricts the calling thread (the one that will exec the
// interpreter; no_new_privs is already set).
func (r *landlockRuleset) enforce() error {
	if r.fd < 0 {
		return nil
	}
	defer unix.Close(r.fd)
	if err := llsyscall.LandlockRestrictSelf(r.fd, r.flags); err != nil {
		return fmt.Errorf("landlock_restrict_self: %w", err)
	}
	return nil
}
