package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// target is a destination as a request names it.
type target struct {
	host string     // as requested (for the ledger), clipped
	name string     // normalized (netrules.NormalizeHost), what is decided and compared
	port int        //
	ip   netip.Addr // valid when name is an IP literal
}

// parseTarget reads a host and a port ("443") into a target; defPort
// applies when port is empty (0: the port is required).
func parseTarget(host, port string, defPort int) (target, error) {
	t := target{host: clip(host, 255), name: netrules.NormalizeHost(host), port: defPort}
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 || strings.TrimLeft(port, "0123456789") != "" {
			return t, errors.New("the port " + strconv.Quote(clip(port, 16)) + " is not a number from 1 to 65535")
		}
		t.port = p
	}
	if t.port == 0 {
		return t, errors.New("the target " + strconv.Quote(clip(host, 64)) + " has no port; write host:port")
	}
	if t.name == "" {
		return t, errors.New("the target names no host")
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			// Unicode case mapping could turn it into another ASCII name
			// (K, the Kelvin sign, lowercases to k).
			return t, errors.New("the host " + strconv.Quote(clip(host, 64)) + " is not ASCII; write an internationalized name in its xn-- form")
		}
	}
	if a, err := netip.ParseAddr(t.name); err == nil {
		t.ip = a.Unmap().WithZone("")
	}
	return t, nil
}

// String is "host:port" with the normalized host ("[::1]:443" for IPv6).
func (t target) String() string {
	return net.JoinHostPort(t.name, strconv.Itoa(t.port))
}

// refusal is an answer that ends a client connection: the status, a reason
// phrase for the status line, the rule (for X-Airlock-Rule, on policy
// refusals) and a text body.
type refusal struct {
	status int
	phrase string
	rule   string
	body   string
}

// The body's last sentence on a policy refusal.
const (
	policyNote = "This is the operator's network policy; only the operator can change it. Do not try to reach this host another way."
	limitNote  = "This limit is part of the operator's configuration; only the operator can change it."
)

// policyRefusal is the 403 for a denied attempt.
func policyRefusal(t target, v netrules.Verdict) *refusal {
	return &refusal{
		status: 403,
		phrase: "Airlock policy: connection to " + t.String() + " refused by " + v.Rule,
		rule:   v.Rule,
		body:   v.Reason + "\n" + policyNote + "\n",
	}
}

// badRequest is a refusal for a request the proxy cannot serve; phrase is
// prefixed with "Airlock proxy: ".
func badRequest(status int, phrase, body string) *refusal {
	return &refusal{status: status, phrase: "Airlock proxy: " + phrase, body: body + "\n"}
}

// open decides an attempt to reach t and, when it is allowed, dials a
// checked address. It records the attempt in the ledger and returns the
// record and the upstream connection (tracked by the session, counted by
// the meter), or the refusal to answer with (and no record).
func (s *Session) open(method string, t target) (*record, *meteredConn, *refusal) {
	e := Entry{Host: t.host, Port: t.port, Method: method}
	deny := func(rule, reason string, ref *refusal) (*record, *meteredConn, *refusal) {
		e.Rule, e.Reason = rule, reason
		s.noteAttempt(e, "egress refused", zap.String("method", method), zap.String("host", t.host), zap.Int("port", t.port),
			zap.String("rule", rule), zap.String("reason", reason))
		return nil, nil, ref
	}

	v := s.cfg.Egress.CheckHost(t.name, t.port)
	if !v.Allowed {
		return deny(v.Rule, v.Reason, policyRefusal(t, v))
	}
	addrs := []netip.Addr{t.ip}
	if !t.ip.IsValid() {
		ctx, cancel := context.WithTimeout(s.ctx, resolveTimeout)
		found, err := s.cfg.Resolver.LookupNetIP(ctx, "ip", t.name)
		cancel()
		if err == nil && len(found) == 0 {
			err = errors.New("no addresses")
		}
		if err != nil {
			e.Allowed, e.Rule = true, v.Rule
			e.Error = "resolve " + t.name + ": " + clip(dialErrText(err), 200)
			e.Reason = "The name " + t.name + " could not be resolved (" + clip(dialErrText(err), 200) + ")."
			s.noteAttempt(e, "egress failed", zap.String("method", method), zap.String("host", t.host), zap.Int("port", t.port),
				zap.String("error", e.Error))
			return nil, nil, upstreamFailure(e.Reason, "cannot resolve "+t.name)
		}
		var denied *netrules.Verdict
		addrs = addrs[:0]
		for _, a := range found {
			a = a.Unmap().WithZone("")
			if containsAddr(addrs, a) {
				continue
			}
			va := s.cfg.Egress.CheckAddr(t.name, a, t.port)
			if va.Allowed {
				addrs = append(addrs, a)
			} else if denied == nil {
				denied = &va
			}
		}
		if len(addrs) == 0 {
			return deny(denied.Rule, denied.Reason, policyRefusal(t, *denied))
		}
	}
	if reason, ref := s.reserve(t); ref != nil {
		return deny(limitRule, reason, ref)
	}

	e.Allowed, e.Rule = true, v.Rule
	var lastErr error
	for _, a := range addrs {
		if s.ctx.Err() != nil {
			break
		}
		e.Address = netip.AddrPortFrom(a, uint16(t.port)).String()
		c, err := s.cfg.Dial(s.ctx, "tcp", e.Address)
		if err != nil {
			lastErr = err
			continue
		}
		if !s.track(c) {
			c.Close()
			lastErr = net.ErrClosed
			break
		}
		rec := s.ledger.add(e)
		s.log.Debug("egress allowed", zap.String("method", method), zap.String("host", t.host), zap.Int("port", t.port),
			zap.String("address", e.Address), zap.String("rule", v.Rule))
		return rec, &meteredConn{Conn: c, s: s, rec: rec}, nil
	}
	if lastErr == nil {
		lastErr = errors.New("the call ended")
	}
	e.Error = "dial " + e.Address + ": " + clip(dialErrText(lastErr), 200)
	e.Reason = "The connection to " + t.String() + " (" + e.Address + ") failed: " + clip(dialErrText(lastErr), 200) + "."
	s.ledger.add(e) // it counts against MaxConnections: always listed
	s.log.Info("egress failed", zap.String("method", method), zap.String("host", t.host), zap.Int("port", t.port),
		zap.String("address", e.Address), zap.String("error", e.Error))
	return nil, nil, upstreamFailure(e.Reason, "connection to "+t.String()+" failed: "+dialErrText(lastErr))
}

// noteAttempt records an attempt that made no connection in the ledger and
// logs it: at info level while the ledger lists such attempts one by one,
// then, with one info line saying so, at debug level, so that a flood of
// refusals does not flood the server's log.
func (s *Session) noteAttempt(e Entry, msg string, fields ...zap.Field) {
	if s.ledger.note(e) {
		s.log.Info(msg, fields...)
		return
	}
	if !s.summarising.Swap(true) {
		s.log.Info("further attempts without a connection are counted in the ledger per destination and logged at debug level",
			zap.Int("listed", maxListed))
	}
	s.log.Debug(msg, fields...)
}

// reserve counts one upstream connection against the session's limits, or
// returns the reason (one sentence) and the refusal when a limit has been
// reached.
func (s *Session) reserve(t target) (string, *refusal) {
	limitRefusal := func(limit, sentence string) (string, *refusal) {
		reason := "Connection to " + t.String() + " refused: " + sentence
		return reason, &refusal{
			status: 403,
			phrase: "Airlock policy: connection to " + t.String() + " refused by proxy limit: " + limit,
			rule:   limitRule,
			body:   reason + "\n" + limitNote + "\n",
		}
	}
	if s.overflow.Load() {
		return limitRefusal(byteLimitText(s.cfg.MaxBytes)+" (reached)",
			"the Airlock proxy relays at most "+bytesText(s.cfg.MaxBytes)+" per call, and this call has reached that limit.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if max := s.cfg.MaxConnections; max > 0 && s.opened >= max {
		return limitRefusal("at most "+strconv.Itoa(max)+" connections per call",
			"the Airlock proxy allows at most "+strconv.Itoa(max)+" connections per call, and this call has used them all.")
	}
	s.opened++
	return "", nil
}

// upstreamFailure is the 502 for an allowed attempt that could not be
// carried out.
func upstreamFailure(reason, phrase string) *refusal {
	return &refusal{status: 502, phrase: "Airlock proxy: " + phrase, body: reason + "\n"}
}

// dialErrText is a dial error without the repeated "dial tcp ip:port: ".
func dialErrText(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled), errors.Is(err, net.ErrClosed):
		return "the call ended"
	}
	return err.Error()
}

// containsAddr reports whether as holds a.
func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, b := range as {
		if a == b {
			return true
		}
	}
	return false
}

// byteLimitText is "at most 1048576 bytes per call".
func byteLimitText(n int64) string { return "at most " + strconv.FormatInt(n, 10) + " bytes per call" }

// bytesText is "1048576 bytes".
func bytesText(n int64) string { return strconv.FormatInt(n, 10) + " bytes" }

// clip shortens s to at most n bytes (on a rune boundary, adding "...")
// and replaces invalid UTF-8, so input can be quoted in messages.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
