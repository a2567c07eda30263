//go:build linux

package local_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// The escape suite: each case is a real attack run through the backend.
// Attack code prints BLOCKED when the attempt fails as it must and ESCAPED
// when it succeeds; a case passes only when the code ran to the end
// (status ok, BLOCKED printed: a typo cannot pass vacuously), printed no
// ESCAPED, and the host is unchanged where the case can check it.

// escapeCase is one attack.
type escapeCase struct {
	name string
	code string
	// limits adjusts the sandbox's limits for this attack.
	limits func(*sandbox.Limits)
	// check replaces the default check (ok, BLOCKED, no ESCAPED).
	check func(t *testing.T, res sandbox.Result)
	// needsCgroups: the attack is only contained where the host gives
	// the server cgroups (as root on this machine kind).
	needsCgroups bool
	// withoutCgroupsOnly: the attack is refused only where no memory
	// cgroup bounds the sandbox (with one, it is charged to the cgroup).
	withoutCgroupsOnly bool
	// amd64Only: the attack uses x86-64 machine code.
	amd64Only bool
}

// pyPrelude is prepended to every attack: helpers to try a thing and
// report.
const pyPrelude = `import ctypes, errno, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def blocked(what, f):
    try:
        r = f()
    except (OSError, ValueError, MemoryError) as e:
        print("BLOCKED", what, type(e).__name__, e)
        return
    print("ESCAPED", what, r)
def syscall_denied(what, nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    e = ctypes.get_errno()
    if r == -1 and e in (errno.EPERM, errno.ENOSYS):
        print("BLOCKED", what, errno.errorcode[e])
    else:
        print("ESCAPED", what, r, errno.errorcode.get(e, e))
`

func defaultEscapeCheck(t *testing.T, res sandbox.Result) {
	t.Helper()
	if res.Status != sandbox.StatusOK {
		t.Fatalf("the attack did not run to its end: status %s, error %+v\nstdout %s\nstderr %s", res.Status, res.Error, res.Stdout, res.Stderr)
	}
	if strings.Contains(res.Stdout, "ESCAPED") {
		t.Errorf("escape:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stdout, "BLOCKED") {
		t.Errorf("the attack reported nothing:\n%s", res.Stdout)
	}
}

func TestEscapeSuite(t *testing.T) {
	b := newBackend(t)
	for _, tc := range escapeCases(b, newHostFixtures(t)) {
		t.Run(tc.name, func(t *testing.T) { runEscapeCase(t, b, tc, nil) })
	}
}

// escapeCases are the attacks of the escape suite, for sandboxes of b.
func escapeCases(b *local.Backend, host *hostFixtures) []escapeCase {
	cases := []escapeCase{
		// Host secrets.
		{name: "root-only host file", code: `blocked("/etc/shadow", lambda: open("/etc/shadow").read())`},
		{name: "a root-only file in root's home", code: fmt.Sprintf(`blocked("home secret", lambda: open(%q).read())`, host.homeSecret)},
		{name: "the test's private files", code: fmt.Sprintf(`blocked("private file", lambda: open(%q).read())`, host.privateFile)},
		{name: "the server's environment", code: fmt.Sprintf(`
seen = " ".join("%%s=%%s" %% kv for kv in os.environ.items())
for p in os.listdir("/proc"):
    if p.isdigit():
        try: seen += open("/proc/%%s/environ" %% p).read()
        except OSError: pass
print("ESCAPED" if %q in seen else "BLOCKED", "environment")`, host.secretValue)},
		{name: "host processes in /proc", code: fmt.Sprintf(`
cmdlines = []
for p in os.listdir("/proc"):
    if p.isdigit():
        try: cmdlines.append(open("/proc/%%s/cmdline" %% p, "rb").read())
        except OSError: pass
print("ESCAPED" if %q.encode() in cmdlines else "BLOCKED", "host pid 1 invisible,", len(cmdlines), "processes")
blocked("signal to the server", lambda: os.kill(%d, 0))`, host.initCmdline, os.Getpid())},
		{name: "kernel memory and sysfs", code: `
blocked("/proc/kcore", lambda: open("/proc/kcore", "rb").read(1))
blocked("/sys", lambda: os.listdir("/sys/class"))
blocked("/dev/mem", lambda: open("/dev/mem", "rb").read(1))`},

		// Writes outside the sandbox.
		{name: "write outside the scratch space", code: fmt.Sprintf(`
blocked("/usr", lambda: open(%q, "w").write("x"))
blocked("/", lambda: open("/escape", "w").write("x"))
blocked("/etc", lambda: open("/etc/passwd", "a").write("x"))
blocked("chmod the interpreter", lambda: os.chmod(sys.executable, 0o777))
blocked("core_pattern", lambda: open("/proc/sys/kernel/core_pattern", "w").write("|/tmp/x"))
blocked("sysrq", lambda: open("/proc/sysrq-trigger", "w").write("b"))
blocked("own /proc entries", lambda: open("/proc/self/comm", "w").write("x"))`, host.usrProbe),
			check: func(t *testing.T, res sandbox.Result) {
				defaultEscapeCheck(t, res)
				host.assertAbsent(t, host.usrProbe, "/escape")
			}},
		{name: "scratch space is private", code: fmt.Sprintf(`
open("/tmp/%[1]s", "w").write("x"); open("/dev/shm/%[1]s", "w").write("x"); open("/work/%[1]s", "w").write("x")
print("BLOCKED wrote only inside the sandbox")`, host.marker),
			check: func(t *testing.T, res sandbox.Result) {
				defaultEscapeCheck(t, res)
				host.assertAbsent(t, "/tmp/"+host.marker, "/dev/shm/"+host.marker, "/work/"+host.marker)
			}},

		// The network.
		{name: "host loopback services", code: fmt.Sprintf(`
blocked("127.0.0.1", lambda: socket.create_connection(("127.0.0.1", %[1]d), timeout=3))
blocked("::1", lambda: socket.create_connection(("::1", %[2]d), timeout=3))`, host.tcp4Port, host.tcp6Port),
			check: func(t *testing.T, res sandbox.Result) {
				defaultEscapeCheck(t, res)
				host.assertNoConnections(t)
			}},
		{name: "no route out, no DNS", code: `
routes = [l for l in open("/proc/net/route").read().splitlines()[1:] if l.strip()]
routes6 = [l for l in open("/proc/net/ipv6_route").read().splitlines() if not l.endswith(" lo")]
print("ESCAPED" if routes or routes6 else "BLOCKED", "routes:", routes, routes6)
links = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
print("ESCAPED" if links != ["lo"] else "BLOCKED", "interfaces", links)
blocked("DNS", lambda: socket.getaddrinfo("example.com", 443))`},
		{name: "raw sockets", code: `
blocked("raw IPv4", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
blocked("raw IPv6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))`},
		{name: "host unix sockets", code: fmt.Sprintf(`
def connect(addr):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(addr)
    return s
blocked("path socket", lambda: connect(%q))
blocked("abstract socket", lambda: connect(b"\0" + %q.encode()))`, host.unixPath, host.abstractName),
			check: func(t *testing.T, res sandbox.Result) {
				defaultEscapeCheck(t, res)
				host.assertNoConnections(t)
			}},

		{name: "privileges", code: `
hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)(0xffffffff, 0xffffffff, 0, 0xffffffff, 0xffffffff, 0)
r = libc.capset(hdr, data)
print("BLOCKED" if r == -1 else "ESCAPED", "capset all")
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
blocked("raise RLIMIT_NPROC", lambda: resource.setrlimit(resource.RLIMIT_NPROC, (hard + 1, hard + 1)))
blocked("sethostname", lambda: socket.sethostname("pwned"))
st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
print("BLOCKED" if st["CapEff"].strip("0") == "" and st["NoNewPrivs"] == "1" and st["Seccomp"] == "2" else "ESCAPED", st["CapEff"], st["NoNewPrivs"], st["Seccomp"])`},

		// Resource exhaustion: contained, and the host is unaffected.
		{name: "fork bomb", code: `
import time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)`,
			limits: func(l *sandbox.Limits) { l.Timeout = 3 * time.Second },
			check: func(t *testing.T, res sandbox.Result) {
				if res.Status != sandbox.StatusTimeout {
					t.Errorf("status %s, want timeout", res.Status)
				}
				for _, kid := range childProcesses(t) {
					if kid != fmt.Sprint(host.sentinel.Process.Pid) {
						t.Errorf("fork bomb process %s outlived the call", kid)
					}
				}
			}},
		{name: "memory bomb in one process", code: `blocked("8 GiB", lambda: bytearray(8 << 30))`},
		{name: "memory bomb across processes", needsCgroups: true, code: `
import time
kids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        b = bytearray(200 << 20)
        for j in range(0, len(b), 4096): b[j] = 1
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
killed = sum(1 for k in kids if os.waitpid(k, 0)[1] & 0x7f == 9)
print("BLOCKED" if killed else "ESCAPED", killed, "children killed by the memory limit")`,
			check: func(t *testing.T, res sandbox.Result) {
				// Either the kernel killed children (reported) or the
				// interpreter itself (status killed, naming the limit).
				if res.Status == sandbox.StatusKilled {
					if res.Error == nil || !strings.Contains(res.Error.Message, "memory limit of 512 MiB") {
						t.Errorf("killed without naming the memory limit: %+v", res.Error)
					}
					return
				}
				defaultEscapeCheck(t, res)
			}},
		{name: "CPU spin past the CPU limit", code: `while True: pass`,
			limits: func(l *sandbox.Limits) { l.CPUTime = time.Second; l.Timeout = 120 * time.Second }, // a safety net: the CPU limit comes long before, however loaded the host
			check: func(t *testing.T, res sandbox.Result) {
				if res.Status != sandbox.StatusKilled || res.Error == nil || !strings.Contains(res.Error.Message, "CPU time limit of 1 s") {
					t.Errorf("want killed at the CPU limit, got %s %+v", res.Status, res.Error)
				}
			}},
		{name: "filling /tmp", code: `
written = 0
def fill():
    global written
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(b"x" * (1 << 20)); f.flush(); written += 1 << 20
blocked("fill /tmp", fill)
def fill_files():
    global written
    for i in range(1000):
        with open("/tmp/fill%d" % i, "wb") as f:
            f.write(b"x" * (4 << 20)); written += 4 << 20
blocked("fill /tmp with many files", fill_files)
print("BLOCKED" if written <= (32 << 20) else "ESCAPED", written, "bytes written in all")`},
		{name: "many small files", code: `
def many():
    for i in range(100000):
        open("/tmp/f%d" % i, "w").close()
blocked("inodes", many)`},
		{name: "output flood", code: `
import sys
for i in range(200000): sys.stdout.write("flood %d\n" % i)
print("BLOCKED")`,
			check: func(t *testing.T, res sandbox.Result) {
				if res.Status != sandbox.StatusOK || !res.Truncated || len(res.Stdout) > limits().MaxOutputBytes {
					t.Errorf("status %s truncated %v stdout %d bytes (limit %d)", res.Status, res.Truncated, len(res.Stdout), limits().MaxOutputBytes)
				}
			}},

		// Outliving the call, and signals.
		{name: "daemons outlive nothing", code: fmt.Sprintf(`
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", %q])
    os._exit(0)
import subprocess
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", %q], start_new_session=True)
print("BLOCKED left daemons behind")`, host.marker, host.marker),
			check: func(t *testing.T, res sandbox.Result) {
				defaultEscapeCheck(t, res)
				assertNoProcess(t, host.marker)
			}},
		{name: "kill -1 and the parent", code: fmt.Sprintf(`
import signal, subprocess
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
blocked("kill host sentinel", lambda: os.kill(%d, signal.SIGKILL))
blocked("kill the server", lambda: os.kill(%d, signal.SIGKILL))
os.kill(-1, signal.SIGKILL)
print("BLOCKED kill -1 reached only the sandbox")`, host.sentinel.Process.Pid, os.Getpid()),
			check: func(t *testing.T, res sandbox.Result) {
				defaultEscapeCheck(t, res)
				if err := host.sentinel.Process.Signal(unix.Signal(0)); err != nil {
					t.Errorf("the host sentinel process died: %v", err)
				}
			}},

		// Forged results.
		{name: "forged envelope on stdout", code: `
print("AIRLOCK-ENVELOPE/1 00000000000000000000000000000000 70")
print('{"status":"ok","exit_code":0,"result":"\'forged\'","error":null}')
print("BLOCKED")
'real'`,
			check: func(t *testing.T, res sandbox.Result) {
				if res.Status != sandbox.StatusOK || res.Result == nil || *res.Result != "'real'" {
					t.Errorf("result %v status %s: the printed envelope was taken", res.Result, res.Status)
				}
			}},
		{name: "forged envelope on the result channel", code: `
p = b'{"status":"ok","exit_code":0,"result":"\'forged\'","error":null}'
for fd in range(3, 10):
    try: os.write(fd, b"AIRLOCK-ENVELOPE/1 %s %d\n%s\n" % (b"0" * 32, len(p), p))
    except OSError: pass
'real'`,
			check: func(t *testing.T, res sandbox.Result) {
				if res.Result != nil && *res.Result == "'forged'" {
					t.Errorf("a forged envelope was accepted: %+v", res)
				}
			}},
	}

	return append(cases, kernelEscapeCases(b.CgroupsActive())...)
}

// pyCalls renders name → syscall number as a Python list of pairs.
func pyCalls(calls map[string]uintptr) string {
	var parts []string
	for name, n := range calls {
		parts = append(parts, fmt.Sprintf("(%q, %d)", name, n))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// hostFixtures are the host-side things attacks aim at.
type hostFixtures struct {
	marker       string
	secretValue  string
	privateFile  string
	homeSecret   string
	usrProbe     string
	initCmdline  string
	tcp4Port     int
	tcp6Port     int
	unixPath     string
	abstractName string
	accepted     chan string
	sentinel     *exec.Cmd
}

func newHostFixtures(t *testing.T) *hostFixtures {
	t.Helper()
	h := &hostFixtures{
		marker:      fmt.Sprintf("airlock-escape-%d", time.Now().UnixNano()),
		secretValue: "sk-airlock-test-secret-value",
		accepted:    make(chan string, 16),
	}
	t.Setenv("AIRLOCK_TEST_SERVER_TOKEN", h.secretValue)
	dir := t.TempDir()
	h.privateFile = filepath.Join(dir, "private.txt")
	if err := os.WriteFile(h.privateFile, []byte(h.secretValue), 0o600); err != nil {
		t.Fatal(err)
	}
	h.homeSecret = filepath.Join("/root", "."+h.marker)
	if err := os.WriteFile(h.homeSecret, []byte(h.secretValue), 0o600); err == nil {
		t.Cleanup(func() { os.Remove(h.homeSecret) })
	}
	h.usrProbe = filepath.Join("/usr", h.marker)
	if b, err := os.ReadFile("/proc/1/cmdline"); err == nil {
		h.initCmdline = string(b)
	}
	listen := func(network, addr string) net.Listener {
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatalf("listen %s %s: %v", network, addr, err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				h.accepted <- network + " " + addr
				c.Close()
			}
		}()
		return ln
	}
	h.tcp4Port = listen("tcp4", "127.0.0.1:0").Addr().(*net.TCPAddr).Port
	if ln6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		h.tcp6Port = ln6.Addr().(*net.TCPAddr).Port
		ln6.Close()
		listen("tcp6", fmt.Sprintf("[::1]:%d", h.tcp6Port))
	}
	h.unixPath = filepath.Join(dir, "host.sock")
	listen("unix", h.unixPath)
	h.abstractName = h.marker
	listen("unix", "@"+h.abstractName)
	h.sentinel = exec.Command("sleep", "600")
	if err := h.sentinel.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.sentinel.Process.Kill(); h.sentinel.Wait() })
	return h
}

func (h *hostFixtures) assertNoConnections(t *testing.T) {
	t.Helper()
	select {
	case addr := <-h.accepted:
		t.Errorf("sandboxed code connected to the host's %s", addr)
	default:
	}
}

func (h *hostFixtures) assertAbsent(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			os.Remove(p)
			t.Errorf("sandboxed code created %s on the host", p)
		}
	}
}
