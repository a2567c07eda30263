//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/egress"
)

// proxyEnv points every common HTTP client in the sandbox at the Airlock
// proxy. NO_PROXY is empty so that nothing bypasses it (nothing else would
// be reachable anyway).
func proxyEnv() []string {
	url := "http://127.0.0.1:" + strconv.Itoa(ProxyPort)
	var env []string
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"} {
		env = append(env, k+"="+url)
		env = append(env, strings.ToLower(k)+"="+url)
	}
	return append(env, "NO_PROXY=", "no_proxy=")
}

// socketPair returns the two ends of a unix SEQPACKET socket pair, both
// close-on-exec (exec.Cmd's ExtraFiles clears the flag on the child's).
func socketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "proxy-channel"), os.NewFile(uintptr(fds[1]), "proxy-channel-child"), nil
}

// receiveProxyListener takes the listening socket the helper sent before
// exec. It is called once the interpreter runs, so the message is already
// queued.
func (p *proc) receiveProxyListener() error {
	if p.proxyCh == nil {
		return nil
	}
	defer func() {
		p.proxyCh.Close()
		p.proxyCh = nil
	}()
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(p.proxyCh.Fd()), buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return fmt.Errorf("receive the proxy listener: %w", err)
	}
	if n != 1 {
		return errors.New("receive the proxy listener: the sandbox sent none")
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return fmt.Errorf("receive the proxy listener: bad control message: %w", err)
	}
	if len(msgs) != 1 {
		return fmt.Errorf("receive the proxy listener: %d control messages, want 1", len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return fmt.Errorf("receive the proxy listener: %w", err)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return fmt.Errorf("receive the proxy listener: %d descriptors, want 1", len(fds))
	}
	f := os.NewFile(uintptr(fds[0]), "proxy-listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return fmt.Errorf("receive the proxy listener: %w", err)
	}
	p.proxyLn = ln
	return nil
}

// proxyLedger turns the proxy's ledger into the result's network ledger.
func proxyLedger(l egress.Ledger) *sandbox.Network {
	return &sandbox.Network{
		Enforcement: sandbox.EnforcementProxy,
		Connections: append([]sandbox.Connection{}, l.Entries...),
	}
}

// probeProxy proves a sandbox reaches the proxy: it sends a request the
// proxy must refuse (origin-form, no host) and expects its 400.
func (b *Backend) probeProxy(ctx context.Context) error {
	code := fmt.Sprintf(`import socket
s = socket.create_connection(("127.0.0.1", %d), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\n\r\n")
s.recv(64).split(b"\r\n")[0].decode()`, ProxyPort)
	res, err := b.Execute(ctx, sandbox.Request{Code: code, Limits: selfTestLimits})
	if err != nil {
		return err
	}
	if res.Status != sandbox.StatusOK || res.Result == nil || !strings.Contains(*res.Result, " 400 ") {
		return probeFailure(res)
	}
	return nil
}

// probeFailure says what a failed probe got back: its status, the proxy's
// answer (the repr of the status line read, if any) and the code's stderr.
func probeFailure(res sandbox.Result) error {
	answer := "none"
	if res.Result != nil {
		answer = *res.Result
	}
	return fmt.Errorf("status %s, answer %s, stderr %q", res.Status, answer, res.Stderr)
}
