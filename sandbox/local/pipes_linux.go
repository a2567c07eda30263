//go:build linux

package local

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// pipes are the descriptors between the server and one sandbox's init
// helper: the server's ends, which it reads, and the helper's ends, which
// it passes to the helper and closes once the helper has started (or
// failed to). pipes owns them all until spawn hands the server's ends to
// their readers, so an error path closes them with one call and lists none.
type pipes struct {
	// The server's ends.
	stdin    *os.File // the harness's stdin: the invocation
	envelope *os.File // the harness's ready byte, then its envelope; nil for a session
	control  *os.File // a session's control socket; nil for one call
	status   *os.File // the helper's setup status
	stderr   *os.File // the code's stderr
	proxy    *os.File // the proxy channel; nil without network

	// stdinR is the helper's stdin, which the interpreter inherits.
	stdinR *os.File
	// statusW is the helper's end of the setup status pipe, which is also
	// the helper's own stderr.
	statusW *os.File
	// child are the helper's ends in the order it is given them:
	// child[i] is its descriptor 3+i (exec.Cmd.ExtraFiles).
	child []*os.File
}

// openPipes opens the pipes of one sandbox, and its proxy channel when
// cfg.ProxyPort is set, and names in cfg the descriptor each of the
// helper's ends will have: an envelope pipe for a sandbox that serves one
// call, a control socket for a session's. On error it has closed whatever
// it opened.
func openPipes(cfg *initconfig.Config, session bool) (*pipes, error) {
	p := &pipes{}
	fail := func(what string, err error) (*pipes, error) {
		p.closeAll()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var w *os.File
	var err error
	if p.stdinR, p.stdin, err = os.Pipe(); err != nil {
		return fail("stdin pipe", err)
	}
	if session {
		if p.control, w, err = controlSocket(); err != nil {
			return fail("control socket", err)
		}
		cfg.ControlFD = p.pass(w)
	} else {
		if p.envelope, w, err = os.Pipe(); err != nil {
			return fail("envelope pipe", err)
		}
		cfg.EnvelopeFD = p.pass(w)
	}
	if p.status, p.statusW, err = os.Pipe(); err != nil {
		return fail("setup status pipe", err)
	}
	cfg.SetupStatusFD = p.pass(p.statusW)
	if p.stderr, w, err = os.Pipe(); err != nil {
		return fail("stderr pipe", err)
	}
	cfg.CodeStderrFD = p.pass(w)
	if cfg.ProxyPort != 0 {
		if p.proxy, w, err = socketPair(); err != nil {
			return fail("proxy channel", err)
		}
		cfg.ProxyChannelFD = p.pass(w)
	}
	return p, nil
}

// pass adds f to the helper's descriptors and returns the number it has
// in the helper.
func (p *pipes) pass(f *os.File) int {
	p.child = append(p.child, f)
	return 3 + len(p.child) - 1
}

// closeChildEnds closes the server's copies of the helper's ends: once the
// helper has started it holds its own, and if it never started nothing
// will read or write them.
func (p *pipes) closeChildEnds() {
	for _, f := range append(p.child, p.stdinR) {
		if f != nil {
			f.Close()
		}
	}
	p.child, p.stdinR, p.statusW = nil, nil, nil
}

// closeParentEnds closes the server's ends, when no reader will take them.
func (p *pipes) closeParentEnds() {
	for _, f := range []*os.File{p.stdin, p.envelope, p.control, p.status, p.stderr, p.proxy} {
		if f != nil {
			f.Close()
		}
	}
	p.stdin, p.envelope, p.control, p.status, p.stderr, p.proxy = nil, nil, nil, nil, nil, nil
}

// closeAll closes every descriptor p holds.
func (p *pipes) closeAll() {
	p.closeChildEnds()
	p.closeParentEnds()
}

// controlSocket returns the two ends of a session's control socket, a unix
// stream socket pair, both close-on-exec (exec.Cmd's ExtraFiles clears the
// flag on the child's).
func controlSocket() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "session-control"), os.NewFile(uintptr(fds[1]), "session-control-child"), nil
}
