package local

import (
	"errors"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/egress"
)

// Name is the backend's name in results and on the command line.
const Name = "local"

// ErrUnavailable is wrapped by every error that means this host cannot run
// the local sandbox. The backend never falls back to running code
// unsandboxed.
var ErrUnavailable = errors.New("local sandbox unavailable")

// Options configure the local backend. The zero value runs DefaultPython.
type Options struct {
	// Python is the interpreter to run, an absolute path (a venv's or a
	// conda env's python included); "" is DefaultPython. There is no
	// fallback: an interpreter that cannot be used fails New.
	Python string
	// WarmSandboxes is how many sandboxes to keep started ahead of calls,
	// each waiting for its code. Every sandbox still serves exactly one
	// call; a warm one only skips the wait for its setup and for the
	// interpreter's start. 0 starts every sandbox on demand.
	WarmSandboxes int
	// WarmLimits are the limits to build warm sandboxes with before the
	// first call (the policy's, for its default timeout). Zero waits for
	// the first call to tell.
	WarmLimits sandbox.Limits
	// Network, when not nil, gives every sandbox one way out: the Airlock
	// egress proxy, listening on 127.0.0.1:ProxyPort inside the sandbox's
	// network namespace (which has only loopback) and deciding each
	// connection with Network.Egress. Nil leaves sandboxes no network.
	Network *egress.Config
	// SessionInterruptGrace is how long a session's interpreter has to
	// regain control after the interrupt sent at a call's timeout or
	// cancellation before its sandbox is killed; 0 means
	// sandbox.DefaultSessionInterruptGrace.
	SessionInterruptGrace time.Duration
	// Mounts are host directories bound into every sandbox, fresh and
	// session alike (policy backend.local.mounts). New refuses one whose
	// host directory does not exist, or whose path in the sandbox is not
	// absolute and clean or collides with the sandbox's own layout.
	Mounts []Mount
}

// Mount binds a host directory into every sandbox. The code reaches it as
// the sandbox's user (as root, a uid of the server's block: the directory
// must be readable, and for a writable mount writable, by others; rootless,
// the server's own uid). Nothing is executable from it (noexec), and no
// set-uid bit or device node counts (nosuid, nodev).
type Mount struct {
	// Host is the absolute path of an existing host directory.
	Host string
	// Path is where the sandbox sees it: absolute and clean, e.g.
	// /data/name, outside the sandbox's layout (/, /work, /tmp, /proc,
	// /dev, /etc and the interpreter's directories).
	Path string
	// ReadOnly makes the mount read-only (writes fail with EROFS); a
	// writable mount writes through to the host directory.
	ReadOnly bool
}

// ProxyPort is the port the Airlock proxy listens on inside each sandbox;
// sandboxes get HTTP_PROXY, HTTPS_PROXY and ALL_PROXY pointing at it.
const ProxyPort = 3128
