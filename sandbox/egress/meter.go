package egress

import (
	"errors"
	"net"

	"go.uber.org/zap"
)

// flow is one allowed connection relaying data: a tunnel or a plain HTTP
// exchange, with the connections to close when a limit cuts it.
type flow struct {
	rec   *record
	conns []net.Conn
}

// startFlow registers an allowed connection relaying data, so that reaching
// MaxBytes can cut it. It returns nil when the byte limit has already been
// reached (the caller must stop).
func (s *Session) startFlow(rec *record, conns ...net.Conn) *flow {
	f := &flow{rec: rec, conns: conns}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflow.Load() {
		return nil
	}
	s.flows[f] = struct{}{}
	return f
}

// endFlow forgets f.
func (s *Session) endFlow(f *flow) {
	s.mu.Lock()
	delete(s.flows, f)
	s.mu.Unlock()
}

// errByteLimit is returned by metered reads and writes once the session's
// byte limit is reached.
var errByteLimit = errors.New("the session's byte limit was reached")

// take reserves n bytes of the session's byte budget and returns how many
// may be relayed; fewer than n means the limit is reached (the caller then
// relays those and calls overflowed).
func (s *Session) take(n int) int {
	if s.cfg.MaxBytes <= 0 || n <= 0 {
		return n
	}
	for {
		used := s.used.Load()
		k := min(int64(n), max(s.cfg.MaxBytes-used, 0))
		if s.used.CompareAndSwap(used, used+k) {
			return int(k)
		}
	}
}

// overflowed cuts every flow once the byte limit is reached, noting the
// cut in each one's ledger entry. The flow of by, which hit the limit, is
// left to end itself once it has relayed its last bytes.
func (s *Session) overflowed(by *meteredConn) {
	s.mu.Lock()
	if s.overflow.Swap(true) {
		s.mu.Unlock()
		return
	}
	flows := make([]*flow, 0, len(s.flows))
	for f := range s.flows {
		flows = append(flows, f)
	}
	s.mu.Unlock()
	s.log.Info("byte limit reached; closing every connection of the call", zap.Int64("max_bytes", s.cfg.MaxBytes))
	for _, f := range flows {
		f.rec.update(func(e *Entry) {
			e.Error = byteLimitText(s.cfg.MaxBytes) + "; the connection was closed"
			e.Reason = "The connection was closed: the Airlock proxy relays at most " + bytesText(s.cfg.MaxBytes) +
				" per call (both directions together), and this call reached that limit."
		})
		if f.rec == by.rec {
			continue
		}
		for _, c := range f.conns {
			c.Close()
		}
	}
}

// meteredConn is an upstream connection whose traffic counts against the
// session's byte budget and into one ledger entry.
type meteredConn struct {
	net.Conn
	s   *Session
	rec *record
}

// Read reads from upstream, counting the bytes in. At the byte limit it
// returns the bytes still allowed with errByteLimit.
func (c *meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		k := c.s.take(n)
		c.rec.in.Add(int64(k))
		if k < n {
			c.s.overflowed(c)
			return k, errByteLimit
		}
	}
	return n, err
}

// Write writes to upstream, counting the bytes out. At the byte limit it
// writes the bytes still allowed and returns errByteLimit.
func (c *meteredConn) Write(p []byte) (int, error) {
	k := c.s.take(len(p))
	n, err := c.Conn.Write(p[:k])
	c.rec.out.Add(int64(n))
	if k < len(p) {
		c.s.overflowed(c)
		if err == nil {
			err = errByteLimit
		}
	}
	return n, err
}
