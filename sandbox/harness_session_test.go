//go:build linux

package sandbox

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The session mode of the real harness under a real interpreter, with no
// sandbox (see "Session mode" in the package documentation): its control
// channel as an inherited socket (fd:3) and as a socket it listens on
// (listen:PATH), each in both forms of the harness.

// sessionForms are the two ways a backend starts the harness.
func sessionForms(t *testing.T) []struct {
	name string
	args func(SessionOptions) ([]string, error)
} {
	code := compileHarness(t)
	return []struct {
		name string
		args func(SessionOptions) ([]string, error)
	}{
		{"source", SessionHarnessArgs},
		{"precompiled", func(o SessionOptions) ([]string, error) { return PrecompiledSessionHarnessArgs(code, o) }},
	}
}

// startSessionHarness starts the harness in session mode with args and,
// when inherit is set, that socket as fd 3; the process is killed when the
// test ends.
func startSessionHarness(t *testing.T, args []string, inherit *os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testPython(t), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Dir = t.TempDir()
	if inherit != nil {
		cmd.ExtraFiles = []*os.File{inherit}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the session harness: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// sessionCall sends code on conn as call number n and returns the
// finalized result. With interrupt, it waits for the code's first line of
// stdout, then calls interrupt and reports the call as timed out.
func sessionCall(t *testing.T, conn *net.UnixConn, code string, n int, interrupt func()) Result {
	t.Helper()
	limits := Limits{MaxOutputBytes: 1 << 20, Timeout: time.Minute}
	msg, err := NewSessionCall(code, 0, nil, FileLimits{})
	if err != nil {
		t.Fatal(err)
	}
	var reads, writes [3]*os.File
	for i := range reads {
		if reads[i], writes[i], err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		defer reads[i].Close()
	}
	err = msg.Send(conn, writes[0], writes[1], writes[2])
	for _, w := range writes {
		w.Close()
	}
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	stdout, stderr := NewOutputBuffer(limits.MaxOutputBytes), NewOutputBuffer(limits.MaxOutputBytes)
	exit := ProcessExit{Running: true, Call: n}
	out := bufio.NewReader(reads[0])
	if interrupt != nil {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("the code's first line: %q %v", line, err)
		}
		stdout.Write([]byte(line))
		interrupt()
		exit.TimedOut = true
	}
	errc := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(reads[1])
		errc <- b
	}()
	envelope, _ := io.ReadAll(reads[2]) // the harness closes it once it has reported
	rest, _ := io.ReadAll(out)          // and points 1 and 2 back at /dev/null
	stdout.Write(rest)
	stderr.Write(<-errc)
	return Finalize("test", exit, envelope, msg.Nonce, stdout, stderr, limits)
}

// TestSessionHarness: one interpreter serves call after call in one
// __main__, each with its own output and envelope carrying its number; a
// SystemExit ends the call, an interrupt (SIGINT) the code, never the
// interpreter; closing the control channel ends it cleanly.
func TestSessionHarness(t *testing.T) {
	for _, form := range sessionForms(t) {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			child := os.NewFile(uintptr(fds[1]), "control-child")
			args, err := form.args(SessionOptions{Control: ControlFD(3), Workdir: "/nonexistent"})
			if err != nil {
				t.Fatal(err)
			}
			cmd := startSessionHarness(t, args, child)
			child.Close()
			f := os.NewFile(uintptr(fds[0]), "control")
			c, err := net.FileConn(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			conn := c.(*net.UnixConn)
			var ready [1]byte
			if _, err := io.ReadFull(conn, ready[:]); err != nil || ready[0] != ReadyByte {
				t.Fatalf("ready byte: %q %v", ready, err)
			}
			calls := []struct {
				code, stdout, stderr, result string
				status                       Status
				errType                      string
				interrupt                    bool
			}{
				{code: "x = 41\nimport json", status: StatusOK, result: "<nil>"},
				{code: "x + 1", status: StatusOK, result: "42"},
				{code: "import sys\nprint('out')\nprint('err', file=sys.stderr)\njson.dumps(x)", status: StatusOK, stdout: "out\n", stderr: "err\n", result: "'41'"},
				{code: "import sys\nsys.exit(3)", status: StatusError, errType: "SystemExit", result: "<nil>"},
				{code: "print('looping', flush=True)\nwhile True: pass", status: StatusTimeout, stdout: "looping\n", errType: "Timeout", result: "<nil>", interrupt: true},
				{code: "input()", status: StatusError, errType: "EOFError", result: "<nil>"},
				{code: "x", status: StatusOK, result: "41"},
			}
			for i, c := range calls {
				var interrupt func()
				if c.interrupt {
					interrupt = func() { _ = cmd.Process.Signal(syscall.SIGINT) }
				}
				res := sessionCall(t, conn, c.code, i+1, interrupt)
				got := "<nil>"
				if res.Result != nil {
					got = *res.Result
				}
				errType := ""
				if res.Error != nil {
					errType = res.Error.Type
				}
				if res.Status != c.status || got != c.result || errType != c.errType || res.Stdout != c.stdout || res.Stderr != c.stderr {
					t.Errorf("call %d %q: status %s result %s error %+v stdout %q stderr %q; want %s %s %s %q %q",
						i+1, c.code, res.Status, got, res.Error, res.Stdout, res.Stderr, c.status, c.result, c.errType, c.stdout, c.stderr)
				}
				if c.interrupt && (res.Error == nil || !strings.Contains(res.Error.Traceback, "KeyboardInterrupt")) {
					t.Errorf("call %d: the interrupt's traceback is missing: %+v", i+1, res.Error)
				}
			}
			conn.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("the harness after its control channel closed: %v, want exit 0", err)
			}
		})
	}
}

// TestSessionHarnessListens: in listen mode the harness serves one call
// per connection at its path, keeping its state across them; a client
// that breaks the protocol loses its connection, not the session.
func TestSessionHarnessListens(t *testing.T) {
	for _, form := range sessionForms(t) {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "control")
			args, err := form.args(SessionOptions{Control: ControlListen(path)})
			if err != nil {
				t.Fatal(err)
			}
			// The path appears (renamed into place) once the harness
			// listens: watch for that event, set up before it starts.
			listening := watchForName(t, dir, "control")
			startSessionHarness(t, args, nil)
			listening()
			dial := func() *net.UnixConn {
				t.Helper()
				c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
				if err != nil {
					t.Fatalf("connect to the session harness: %v", err)
				}
				return c
			}
			steps := []struct {
				code, result string
				garbage      string
			}{
				{code: "x = 41", result: "<nil>"},
				{garbage: "AIRLOCK-SESSION/2 0123456789abcdef0123456789abcdef many 0 0 0 0\n"},
				{code: "x + 1", result: "42"},
			}
			n := 0
			for _, st := range steps {
				conn := dial()
				if st.garbage != "" {
					// With three descriptors, as a call's header carries.
					r, w, err := os.Pipe()
					if err != nil {
						t.Fatal(err)
					}
					rights := syscall.UnixRights(int(w.Fd()), int(w.Fd()), int(w.Fd()))
					_, _, _ = conn.WriteMsgUnix([]byte(st.garbage), rights, nil)
					r.Close()
					w.Close()
					var b [1]byte
					if _, err := conn.Read(b[:]); err != io.EOF {
						t.Errorf("a broken call: read %v, want the harness to close the connection", err)
					}
					conn.Close()
					continue
				}
				n++
				res := sessionCall(t, conn, st.code, n, nil)
				conn.Close()
				got := "<nil>"
				if res.Result != nil {
					got = *res.Result
				}
				if res.Status != StatusOK || got != st.result {
					t.Errorf("%q: status %s result %s error %+v; want ok %s", st.code, res.Status, got, res.Error, st.result)
				}
			}
		})
	}
}

// TestSessionHarnessArgs: the control channel is fd:N (N at least 3) or
// listen: an absolute path; anything else is refused before a process
// starts.
func TestSessionHarnessArgs(t *testing.T) {
	for _, tc := range []struct {
		control string
		ok      bool
	}{
		{"fd:3", true}, {"fd:17", true}, {"listen:/run/airlock/control", true},
		{"fd:2", false}, {"fd:03", false}, {"fd:x", false}, {"listen:relative", false}, {"tcp:1", false}, {"", false},
	} {
		args, err := SessionHarnessArgs(SessionOptions{Control: tc.control, Workdir: "/work", SysPath: []string{"/site"}})
		if (err == nil) != tc.ok {
			t.Errorf("control %q: error %v, want ok %v", tc.control, err, tc.ok)
			continue
		}
		if tc.ok && strings.Join(args[len(args)-4:], " ") != "session "+tc.control+" /work /site" {
			t.Errorf("control %q: args end %q", tc.control, args[len(args)-4:])
		}
	}
}

// watchForName watches dir with inotify and returns a function that waits
// until name has been created or moved into it (a minute is only a safety
// net for a harness that never gets there).
func watchForName(t *testing.T, dir, name string) func() {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		t.Fatalf("inotify watch %s: %v", dir, err)
	}
	seen := make(chan error, 1)
	go func() {
		defer unix.Close(fd)
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil {
				seen <- err
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				raw := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				if strings.TrimRight(string(raw), "\x00") == name {
					seen <- nil
					return
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}()
	return func() {
		t.Helper()
		select {
		case err := <-seen:
			if err != nil {
				t.Fatalf("watching for %s: %v", name, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s never appeared in %s", name, dir)
		}
	}
}
