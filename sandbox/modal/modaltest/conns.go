package modaltest

import (
	"net"
	"sync"
)

// OpenConnections counts the client connections to the server (control
// plane and router share the listener) that are open now: each SDK client
// holds one to the control plane, and one per sandbox it runs code in. A
// client that is closed, or that drops a connection, ends it; Await sees
// each connection open and end.
func (s *Server) OpenConnections() int { return int(s.conns.Load()) }

// countingListener counts the connections it accepted that are not yet
// closed, in Server.conns.
type countingListener struct {
	net.Listener
	s *Server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.conns.Add(1)
	l.s.changes.notify()
	return &countedConn{Conn: c, s: l.s}, nil
}

// countedConn leaves the count when it is closed, once, however many times
// Close is called.
type countedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.conns.Add(-1)
		c.s.changes.notify()
	})
	return err
}
