package sandboxinit

import (
	"encoding/json"
	"fmt"
	"os"
)

// Arg0 is the name the init helper is started under (its argv[0]); this
// package's init function recognises it and takes the process over.
const Arg0 = "airlock-sandbox-init"

// ConfigEnv names the environment variable that carries the helper's
// configuration. The helper replaces its environment when it execs Python,
// so the variable never reaches sandboxed code.
const ConfigEnv = "AIRLOCK_SANDBOX_INIT"

// File descriptors the helper is started with, besides stdio: the parent
// passes them in this order as exec.Cmd.ExtraFiles.
const (
	// EnvelopeFD is the write end of the harness's result channel; it stays
	// open across exec so the harness can report through it.
	EnvelopeFD = 3
	// SetupStatusFD is the write end of the setup status pipe: the helper
	// writes a failed step's error there; a successful exec closes it
	// (close-on-exec), which the parent reads as "the sandbox is running".
	// The helper's own stderr (fd 2) is the same pipe until just before
	// exec, so even a crash of the helper's runtime reads as a setup
	// failure, never as output of the code.
	SetupStatusFD = 4
	// CodeStderrFD is the stderr the interpreter gets: the helper moves it
	// to fd 2 as its last step.
	CodeStderrFD = 5
	// ProxyChannelFD is one end of a unix socket pair on which the helper
	// sends the parent the proxy's listening socket, opened inside the
	// sandbox's network namespace. Present only when ProxyPort is set.
	ProxyChannelFD = 6
)

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
}

// Rlimits are the resource limits set on the interpreter.
type Rlimits struct {
	AddressSpace uint64 `json:"as"`
	CPUSeconds   uint64 `json:"cpu"`
	Processes    uint64 `json:"nproc"`
	FileSize     uint64 `json:"fsize"`
	OpenFiles    uint64 `json:"nofile"`
}

// Encode returns c as the value of the ConfigEnv variable.
func (c *Config) Encode() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode sandbox config: %w", err)
	}
	return string(b), nil
}

func readConfig() (*Config, error) {
	raw := os.Getenv(ConfigEnv)
	if raw == "" {
		return nil, fmt.Errorf("%s is not set", ConfigEnv)
	}
	var c Config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, fmt.Errorf("decode sandbox config: %w", err)
	}
	if c.Python == "" || len(c.Argv) == 0 {
		return nil, fmt.Errorf("sandbox config names no interpreter")
	}
	if !c.Rootless && (c.UID == 0 || c.GID == 0) {
		return nil, fmt.Errorf("sandbox config would run code as host root")
	}
	return &c, nil
}
