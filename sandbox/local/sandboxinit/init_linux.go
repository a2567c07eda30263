//go:build linux

package sandboxinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/syscallfilter"
)

// The helper takes the process over when started under its name, before
// main runs; in any other process it only records that this binary can
// serve as the helper (package local refuses to build sandboxes
// otherwise).
func init() {
	if len(os.Args) > 0 && os.Args[0] == initconfig.Arg0 {
		runInit()
	}
	initconfig.RegisterHelper()
}

// initStep is one step of sandbox setup, with its own error.
type initStep struct {
	name string
	run  func(*initState) error
}

// initState is what the steps share.
type initState struct {
	cfg      *initconfig.Config
	landlock *landlockRuleset
	seccomp  *syscallfilter.Program
	// trees are detached copies of host paths, taken before the staging
	// mount, keyed by their path inside the sandbox.
	trees []detachedTree
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

// runInit reads its configuration, sets the sandbox up step by step and
// execs the interpreter. On failure it writes "step: error" to the setup
// status pipe and exits 125. It never returns.
func runInit() {
	// Capabilities, no_new_privs and the bounding set are per thread: do
	// every step, and the final exec, on this one thread.
	runtime.LockOSThread()
	fail := func(status io.Writer, step string, err error) {
		fmt.Fprintf(status, "%s: %v", step, err)
		os.Exit(125)
	}
	// Until the configuration names the status pipe, the helper's stderr,
	// the same pipe, carries the failure.
	cfg, err := initconfig.Decode(os.Getenv(initconfig.ConfigEnv))
	if err != nil {
		fail(os.Stderr, "read config", err)
	}
	if _, err := unix.FcntlInt(uintptr(cfg.SetupStatusFD), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		fail(os.Stderr, "read config", fmt.Errorf("setup status descriptor %d: %w", cfg.SetupStatusFD, err))
	}
	status := os.NewFile(uintptr(cfg.SetupStatusFD), "setup-status")
	st := &initState{cfg: cfg}
	for _, step := range initSteps {
		if err := step.run(st); err != nil {
			fail(status, step.name, err)
		}
	}
	fail(status, "exec interpreter", errors.New("exec returned"))
}
