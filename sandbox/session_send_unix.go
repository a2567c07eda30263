//go:build unix

package sandbox

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// Send writes the call's message on conn, a session's control channel,
// with stdout, stderr and envelope attached to its first byte
// (SCM_RIGHTS): the descriptors the harness puts on 1 and 2 for the call
// and writes the call's envelope on. It puts the three in blocking mode,
// as a process expects its standard streams; the caller closes its copies
// once Send has returned. It blocks until the harness has taken the
// message into its socket buffer.
func (c *SessionCall) Send(conn *net.UnixConn, stdout, stderr, envelope *os.File) error {
	// Fd puts each file in blocking mode: the harness's copies share it.
	rights := syscall.UnixRights(int(stdout.Fd()), int(stderr.Fd()), int(envelope.Fd()))
	n, _, err := conn.WriteMsgUnix(c.Message, rights, nil)
	if err == nil && n < len(c.Message) {
		_, err = conn.Write(c.Message[n:])
	}
	if err != nil {
		return fmt.Errorf("sandbox: send the call to the session: %w", err)
	}
	return nil
}
