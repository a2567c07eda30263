// Package initconfig is the contract between the local backend (package
// local, the server side) and its init helper (package sandboxinit, the
// sandbox side): the name the helper is started under, the configuration
// it is given, the descriptors it inherits, and the paths inside the
// sandbox. Package local imports this package, never the helper's: the
// helper takes a process over only in binaries that link it explicitly.
package initconfig

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Arg0 is the name the init helper is started under (its argv[0]); the
// helper package's init function recognises it and takes the process over.
const Arg0 = "airlock-sandbox-init"

// ConfigEnv names the environment variable that carries the helper's
// configuration. The helper replaces its environment when it execs Python,
// so the variable never reaches sandboxed code.
const ConfigEnv = "AIRLOCK_SANDBOX_INIT"

// HelperPackage is the init helper's import path. A binary that builds
// sandboxes starts itself as the helper, so it must link that package with
// a blank import in its main package (and a test binary in one of its test
// files), as runc's binary does with its nsenter package.
const HelperPackage = "github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit"

// helperLinked is set, before main runs, by the helper package's init.
var helperLinked bool

// RegisterHelper records that this binary links the helper package; only
// that package's init calls it.
func RegisterHelper() { helperLinked = true }

// HelperLinked reports whether this binary links the helper package, and
// so can be started as the helper.
func HelperLinked() bool { return helperLinked }

// Paths and names inside the sandbox.
const (
	// Workdir is the code's working directory (and HOME), on the scratch
	// tmpfs.
	Workdir = "/work"
	// Hostname is the sandbox's host name in its own UTS namespace.
	Hostname = "airlock"
)

// Config is everything the init helper needs to build one sandbox. The
// parent computes it; the helper trusts it (it comes from the server, never
// from sandboxed code).
type Config struct {
	// Rootless is true when the server is not root: the helper then runs as
	// root of a new user namespace mapped to the server's own uid, and drops
	// every capability before exec.
	Rootless bool `json:"rootless"`
	// UID and GID are the host ids the code runs as when the server is
	// root. Unused when rootless.
	UID int `json:"uid"`
	GID int `json:"gid"`
	// Binds are host directories made visible read-only at the same path.
	Binds []string `json:"binds"`
	// FileBinds are host files made visible read-only at the same path
	// (the dynamic linker's cache, for instance).
	FileBinds []string `json:"file_binds"`
	// Symlinks are recreated inside the sandbox: path → target. They mirror
	// the host's merged-/usr links (/bin → usr/bin and so on).
	Symlinks map[string]string `json:"symlinks"`
	// Mounts are the operator's host directories, each bound at its own
	// path, noexec, nosuid, nodev, and read-only unless Writable.
	Mounts []Mount `json:"mounts"`
	// ScratchBytes is the size of the private tmpfs backing /tmp, the
	// working directory and /dev/shm.
	ScratchBytes int64 `json:"scratch_bytes"`
	// Python is the interpreter path (inside the sandbox, same as host).
	Python string `json:"python"`
	// Argv is the interpreter's full argv, argv[0] included.
	Argv []string `json:"argv"`
	// Env is the complete environment of the interpreter.
	Env []string `json:"env"`
	// ProxyPort, when not 0, makes the helper open a listening TCP socket
	// on 127.0.0.1:ProxyPort in the sandbox's network namespace and send
	// it to the parent on ProxyChannelFD; the parent serves the Airlock
	// proxy on it.
	ProxyPort int `json:"proxy_port"`
	// DenyUnaccountedMemory makes the seccomp filter refuse memfd_create
	// and System V IPC, whose memory no rlimit counts. The parent sets it
	// where no memory cgroup bounds the sandbox; with one, those pages are
	// charged to the cgroup and the calls stay allowed.
	DenyUnaccountedMemory bool `json:"deny_unaccounted_memory"`
	// Rlimits are applied last, just before exec.
	Rlimits Rlimits `json:"rlimits"`

	// The descriptors the helper is started with besides stdio, each named
	// by its number in the helper: the parent numbers them as it passes
	// them (exec.Cmd.ExtraFiles[i] is descriptor 3+i), and the helper
	// assumes no order.

	// EnvelopeFD is the write end of the harness's envelope channel (see
	// package sandbox, "Harness protocol") of a sandbox that serves one
	// call; with ControlFD, the only ones of these that stay open across
	// exec. Exactly one of the two is set.
	EnvelopeFD int `json:"envelope_fd"`
	// ControlFD is the interpreter's end of the control socket of a
	// session's sandbox, on which every call comes (package sandbox,
	// "Session mode").
	ControlFD int `json:"control_fd"`
	// SetupStatusFD is the write end of the setup status pipe: the helper
	// writes a failed step's error there; a successful exec closes it
	// (close-on-exec), which the parent reads as "the sandbox is running".
	// The helper's own stderr (fd 2) is the same pipe until just before
	// exec, so even a crash of the helper's runtime, or a configuration it
	// cannot read, reads as a setup failure, never as output of the code.
	SetupStatusFD int `json:"setup_status_fd"`
	// CodeStderrFD is the stderr the interpreter gets: the helper moves it
	// to fd 2 as its last step.
	CodeStderrFD int `json:"code_stderr_fd"`
	// ProxyChannelFD is one end of a unix socket pair on which the helper
	// sends the parent the proxy's listening socket; set exactly when
	// ProxyPort is.
	ProxyChannelFD int `json:"proxy_channel_fd"`
}

// Mount is one operator mount (see Config.Mounts).
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	Writable bool   `json:"writable"`
}

// Rlimits are the resource limits set on the interpreter.
type Rlimits struct {
	AddressSpace uint64 `json:"as"`
	CPUSeconds   uint64 `json:"cpu"`
	Processes    uint64 `json:"nproc"`
	FileSize     uint64 `json:"fsize"`
	OpenFiles    uint64 `json:"nofile"`
	// KeepCPUHard leaves RLIMIT_CPU's hard limit as the helper inherited
	// it (CPUSeconds is then only the soft one, lowered to it if need
	// be): a rootless server cannot raise a hard limit, and it must be
	// able to raise the soft one before each call of a session.
	KeepCPUHard bool `json:"cpu_keep_hard"`
}

// Encode returns c as the value of the ConfigEnv variable.
func (c *Config) Encode() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("initconfig: encode: %w", err)
	}
	return string(b), nil
}

// Decode reads a configuration Encode wrote and checks it: an interpreter
// named, no code run as host root, the descriptors named and distinct.
func Decode(raw string) (*Config, error) {
	if raw == "" {
		return nil, fmt.Errorf("initconfig: %s is not set", ConfigEnv)
	}
	var c Config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, fmt.Errorf("initconfig: decode: %w", err)
	}
	if c.Python == "" || len(c.Argv) == 0 {
		return nil, errors.New("initconfig: the configuration names no interpreter")
	}
	if !c.Rootless && (c.UID == 0 || c.GID == 0) {
		return nil, errors.New("initconfig: the configuration would run code as host root")
	}
	if err := c.checkDescriptors(); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkDescriptors refuses descriptors that are unnamed, among stdio, or
// named twice, an envelope and a control descriptor both or neither, and a
// proxy channel without a proxy port or the reverse.
func (c *Config) checkDescriptors() error {
	type descriptor struct {
		name string
		fd   int
	}
	fds := []descriptor{{"setup status", c.SetupStatusFD}, {"code stderr", c.CodeStderrFD}}
	switch {
	case (c.EnvelopeFD != 0) == (c.ControlFD != 0):
		return fmt.Errorf("initconfig: envelope descriptor %d and control descriptor %d: exactly one is set", c.EnvelopeFD, c.ControlFD)
	case c.EnvelopeFD != 0:
		fds = append(fds, descriptor{"envelope", c.EnvelopeFD})
	default:
		fds = append(fds, descriptor{"control", c.ControlFD})
	}
	if (c.ProxyPort != 0) != (c.ProxyChannelFD != 0) {
		return fmt.Errorf("initconfig: proxy port %d but proxy channel descriptor %d: both are set or neither", c.ProxyPort, c.ProxyChannelFD)
	}
	if c.ProxyChannelFD != 0 {
		fds = append(fds, descriptor{"proxy channel", c.ProxyChannelFD})
	}
	seen := map[int]string{}
	for _, d := range fds {
		if d.fd < 3 {
			return fmt.Errorf("initconfig: descriptor %d for the %s: want 3 or more, past stdio", d.fd, d.name)
		}
		if other, dup := seen[d.fd]; dup {
			return fmt.Errorf("initconfig: descriptor %d for both the %s and the %s", d.fd, other, d.name)
		}
		seen[d.fd] = d.name
	}
	return nil
}
