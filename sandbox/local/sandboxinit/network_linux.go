//go:build linux

package sandboxinit

// The network steps: loopback up, and the egress proxy's listener opened
// inside the sandbox's network namespace and handed to the server.

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func bringUpLoopback(*initState) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// openProxyListener opens the one way out of the sandbox: a TCP socket
// listening on loopback inside the sandbox's network namespace, which it
// hands to the parent (SCM_RIGHTS) to serve the Airlock proxy on. The
// helper keeps no copy: the interpreter can connect to it, never accept.
func openProxyListener(st *initState) error {
	if st.cfg.ProxyPort == 0 {
		return nil
	}
	defer unix.Close(st.cfg.ProxyChannelFD)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: st.cfg.ProxyPort, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fmt.Errorf("bind 127.0.0.1:%d: %w", st.cfg.ProxyPort, err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := unix.Sendmsg(st.cfg.ProxyChannelFD, []byte{1}, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send the listener to the server: %w", err)
	}
	return nil
}
