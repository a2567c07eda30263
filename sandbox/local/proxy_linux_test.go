package local

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// TestReceiveProxyListenerErrors: a channel that carries something other
// than one listening socket is an error naming the step and wrapping the
// kernel's or the parser's cause, so that callers can tell what failed.
func TestReceiveProxyListenerErrors(t *testing.T) {
	tests := []struct {
		name string
		// send writes the helper's side of the channel.
		send func(t *testing.T, child int)
		want error
	}{
		{"credentials instead of a descriptor", func(t *testing.T, child int) {
			creds := unix.UnixCredentials(&unix.Ucred{Pid: int32(unix.Getpid()), Uid: uint32(unix.Getuid()), Gid: uint32(unix.Getgid())})
			if err := unix.Sendmsg(child, []byte{0}, creds, nil, 0); err != nil {
				t.Fatal(err)
			}
		}, unix.EINVAL},
		{"nothing sent", func(*testing.T, int) {}, unix.EAGAIN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, child, err := socketPair()
			if err != nil {
				t.Fatal(err)
			}
			defer child.Close()
			if err := unix.SetsockoptInt(int(parent.Fd()), unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
				t.Fatal(err)
			}
			tt.send(t, int(child.Fd()))
			p := &proc{proxyCh: parent}
			err = p.receiveProxyListener()
			if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "receive the proxy listener: ") {
				t.Errorf("receiveProxyListener = %v, want an error naming the step and wrapping %v", err, tt.want)
			}
			if p.proxyCh != nil || p.proxyLn != nil {
				t.Errorf("the channel is kept (%v) or a listener made (%v)", p.proxyCh, p.proxyLn)
			}
		})
	}
}

// TestProbeFailure: when doctor's proxy probe fails, the message carries
// what the sandbox read from the proxy, not the address it was kept at.
func TestProbeFailure(t *testing.T) {
	answer := "'HTTP/1.1 403 Forbidden'"
	tests := []struct {
		name string
		res  sandbox.Result
		want string
	}{
		{"a wrong answer", sandbox.Result{Status: sandbox.StatusOK, Result: &answer},
			`status ok, answer 'HTTP/1.1 403 Forbidden', stderr ""`},
		{"no answer", sandbox.Result{Status: sandbox.StatusError, Stderr: "ConnectionRefusedError: [Errno 111]\n"},
			`status error, answer none, stderr "ConnectionRefusedError: [Errno 111]\n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := probeFailure(tt.res).Error(); got != tt.want {
				t.Errorf("probeFailure = %s, want %s", got, tt.want)
			}
		})
	}
}
