//go:build linux

package local

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// TestPipesNameTheHelpersDescriptors: the descriptor numbers openPipes
// writes in the helper's configuration are those the helper's ends get
// (ExtraFiles[i] is descriptor 3+i): a byte written on the end named for a
// channel arrives on the server's end of that channel. The configuration
// they make is one the helper accepts.
func TestPipesNameTheHelpersDescriptors(t *testing.T) {
	type channel struct {
		name   string
		fd     int
		server *os.File
	}
	for _, mode := range []struct{ proxy, session bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		proxy := mode.proxy
		cfg := &initconfig.Config{Python: "/usr/bin/python3", Argv: []string{"python3"}, Rootless: true}
		if proxy {
			cfg.ProxyPort = ProxyPort
		}
		fds, err := openPipes(cfg, mode.session)
		if err != nil {
			t.Fatal(err)
		}
		channels := []channel{
			{"setup status", cfg.SetupStatusFD, fds.status},
			{"code stderr", cfg.CodeStderrFD, fds.stderr},
		}
		if mode.session {
			channels = append(channels, channel{"control", cfg.ControlFD, fds.control})
			if cfg.EnvelopeFD != 0 || fds.envelope != nil {
				t.Errorf("a session's sandbox, yet an envelope pipe (descriptor %d)", cfg.EnvelopeFD)
			}
		} else {
			channels = append(channels, channel{"envelope", cfg.EnvelopeFD, fds.envelope})
			if cfg.ControlFD != 0 || fds.control != nil {
				t.Errorf("a sandbox for one call, yet a control socket (descriptor %d)", cfg.ControlFD)
			}
		}
		if proxy {
			channels = append(channels, channel{"proxy channel", cfg.ProxyChannelFD, fds.proxy})
		} else if cfg.ProxyChannelFD != 0 || fds.proxy != nil {
			t.Errorf("no proxy, yet a proxy channel (descriptor %d)", cfg.ProxyChannelFD)
		}
		if len(fds.child) != len(channels) {
			t.Fatalf("the helper gets %d descriptors, want %d", len(fds.child), len(channels))
		}
		for _, c := range channels {
			i := c.fd - 3
			if i < 0 || i >= len(fds.child) {
				t.Fatalf("%s: descriptor %d is not one the helper gets", c.name, c.fd)
			}
			if _, err := fds.child[i].Write([]byte{'x'}); err != nil {
				t.Fatalf("%s: write on descriptor %d: %v", c.name, c.fd, err)
			}
			var b [1]byte
			if _, err := c.server.Read(b[:]); err != nil || b[0] != 'x' {
				t.Errorf("%s: descriptor %d does not reach the server's end: %q, %v", c.name, c.fd, b, err)
			}
		}
		encoded, err := cfg.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := initconfig.Decode(encoded); err != nil {
			t.Errorf("%+v: the helper refuses the configuration: %v", mode, err)
		}
		fds.closeAll()
	}
}

// TestPipesCloseTheirEnds: once the helper has its copies, closing the
// server's copies of the helper's ends leaves the server's ends working
// and seeing the helper's side alone (EOF, or EPIPE on stdin); closing the
// server's ends then closes them all.
func TestPipesCloseTheirEnds(t *testing.T) {
	for _, session := range []bool{false, true} {
		pipesCloseTheirEnds(t, session)
	}
}

func pipesCloseTheirEnds(t *testing.T, session bool) {
	fds, err := openPipes(&initconfig.Config{ProxyPort: ProxyPort}, session)
	if err != nil {
		t.Fatal(err)
	}
	fds.closeChildEnds()
	if fds.child != nil || fds.stdinR != nil || fds.statusW != nil {
		t.Error("closeChildEnds kept references to closed files")
	}
	readers := map[string]*os.File{"setup status": fds.status, "code stderr": fds.stderr, "proxy channel": fds.proxy}
	if session {
		readers["control"] = fds.control
	} else {
		readers["envelope"] = fds.envelope
	}
	for name, f := range readers {
		var b [1]byte
		if n, err := f.Read(b[:]); n != 0 || (err != io.EOF && err != nil) {
			t.Errorf("%s: read %d bytes, %v; want end of file once the helper's end is closed", name, n, err)
		}
	}
	if _, err := fds.stdin.Write([]byte{'x'}); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("stdin: write = %v; want EPIPE once the helper's end is closed", err)
	}
	server := []*os.File{fds.stdin, fds.status, fds.stderr, fds.proxy}
	if session {
		server = append(server, fds.control)
	} else {
		server = append(server, fds.envelope)
	}
	fds.closeParentEnds()
	for _, f := range server {
		if _, err := f.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s still open after closeParentEnds: %v", f.Name(), err)
		}
	}
}
