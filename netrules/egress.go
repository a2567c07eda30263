package netrules

import (
	"net/netip"
	"slices"
	"strconv"
)

// Egress decides connection attempts against network rules. Build it with
// Rules.Egress; it is safe for concurrent use and never changes.
//
// The order of decisions: egress off denies everything; a deny rule beats
// any allow; a name must match an allow rule (host and port) unless the
// allow list is empty (open egress); every address a name resolves to, and
// every IP literal, is checked against the deny CIDRs and the built-in
// denies (loopback, link-local and cloud metadata, private and unique-local
// ranges, ...), which only a cidr allow rule lying inside the denied range
// lifts; an IP literal needs a cidr allow rule unless egress is open.
type Egress struct {
	enabled bool
	allow   []compiled
	deny    []compiled
	// broken names a malformed rule; every attempt is then refused (a
	// dropped deny rule must never widen what is allowed).
	broken string
}

// compiled is a rule with its CIDR parsed.
type compiled struct {
	Rule
	list   string // AllowList or DenyList
	index  int
	prefix netip.Prefix // valid for cidr rules
}

// name is "network.allow[0] (host pypi.org, port 443)".
func (c compiled) name() string { return Name(c.list, c.index, c.Rule) }

// portOK reports whether c covers port. Port 0 stands for "some port not
// known yet": an allow rule may cover it, a deny rule only if it covers
// every port.
func (c compiled) portOK(port int) bool {
	if port == 0 {
		return c.list == AllowList || len(c.Ports) == 0
	}
	return len(c.Ports) == 0 || slices.Contains(c.Ports, port)
}

// Egress compiles n for deciding connections. n should have passed
// validation (the policy's Load and Validate do it); if a rule is malformed
// anyway, the engine fails closed: it refuses every attempt, naming the
// rule.
func (n Rules) Egress() *Egress {
	e := &Egress{enabled: n.AllowEgress}
	add := func(list string, rules []Rule) []compiled {
		var out []compiled
		for i, r := range rules {
			if why := r.Problem(); why != "" {
				if e.broken == "" {
					e.broken = "network." + list + "[" + strconv.Itoa(i) + "]: " + why
				}
				continue
			}
			c := compiled{Rule: r, list: list, index: i}
			if r.CIDR != "" {
				c.prefix = netip.MustParsePrefix(r.CIDR)
			}
			out = append(out, c)
		}
		return out
	}
	e.allow = add(AllowList, n.Allow)
	e.deny = add(DenyList, n.Deny)
	return e
}

// Open reports whether any destination not denied may be reached (egress
// on with an empty allow list).
func (e *Egress) Open() bool { return e.enabled && len(e.allow) == 0 }

// Enabled reports whether any egress is allowed at all.
func (e *Egress) Enabled() bool { return e.enabled }

// malformed is the verdict for every attempt when a rule is malformed.
func (e *Egress) malformed(what string) Verdict {
	return Verdict{
		Rule:   "malformed policy",
		Reason: "Connection to " + what + " refused: the operator's network policy has a malformed rule (" + e.broken + "), so nothing is allowed until it is fixed.",
	}
}

// disabled is the verdict for every attempt when egress is off.
func disabled(what string) Verdict {
	return Verdict{
		Rule:   "network.allow_egress: false",
		Reason: "Connection to " + what + " refused: the operator's policy allows no network access from this sandbox (network.allow_egress is false).",
	}
}

// CheckHost decides a connection to host:port by name, before the name is
// resolved. An IP literal is decided as CheckAddr("", addr, port) does.
// An allowed name must still have each resolved address checked with
// CheckAddr before it is dialled. Port 0 means the port is not known (a
// hostname seen in code): the verdict is a denial only when no port of
// host could be allowed.
func (e *Egress) CheckHost(host string, port int) Verdict {
	host = NormalizeHost(host)
	target := hostPort(host, port)
	if !e.enabled {
		return disabled(target)
	}
	if e.broken != "" {
		return e.malformed(target)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return e.CheckAddr("", a, port)
	}
	if !ValidHostname(host) {
		return Verdict{Rule: "hostname syntax", Reason: "Connection to " + strconv.Quote(host) + " refused: it is not a valid hostname."}
	}
	for _, d := range e.deny {
		if d.CoversHost(host) && d.portOK(port) {
			return Verdict{Rule: d.name(), Reason: "Connection to " + target + " refused by the operator's policy rule " + d.name() + "."}
		}
	}
	if len(e.allow) == 0 {
		return Verdict{Allowed: true, Rule: "network.allow_egress: true (no allow list)", Reason: target + " is allowed: the policy allows egress to any host not denied."}
	}
	var portMiss *compiled
	for i, a := range e.allow {
		if !a.CoversHost(host) {
			continue
		}
		if a.portOK(port) {
			return Verdict{Allowed: true, Rule: a.name(), Reason: target + " is allowed by " + a.name() + "."}
		}
		if portMiss == nil {
			portMiss = &e.allow[i]
		}
	}
	if portMiss != nil {
		return Verdict{Rule: portMiss.name(), Reason: "Connection to " + target + " refused: " + host + " is allowed only on " + portMiss.PortsText() + " by " + portMiss.name() + "."}
	}
	return Verdict{Rule: "network.allow (no rule matches)", Reason: "Connection to " + target + " refused: " + host + " is not in the operator's allow list (network.allow)."}
}

// CheckAddr decides a connection to addr:port. host is the name addr was
// resolved from (already allowed by CheckHost), or "" for an IP literal.
func (e *Egress) CheckAddr(host string, addr netip.Addr, port int) Verdict {
	addr = addr.Unmap().WithZone("")
	target := addr.String()
	if port != 0 {
		target = netip.AddrPortFrom(addr, uint16(port)).String()
	}
	what := target
	if host != "" {
		what = hostPort(NormalizeHost(host), port) + " (" + addr.String() + ")"
	}
	if !e.enabled {
		return disabled(what)
	}
	if e.broken != "" {
		return e.malformed(what)
	}
	for _, d := range e.deny {
		if d.CIDR != "" && d.prefix.Contains(addr) && d.portOK(port) {
			return Verdict{Rule: d.name(), Reason: "Connection to " + what + " refused by the operator's policy rule " + d.name() + "."}
		}
	}
	if b, ok := builtinDeny(addr); ok {
		if lift := e.lifting(b, addr, port); lift == nil {
			return Verdict{
				Rule: "built-in deny (" + b.what + " " + b.prefix.String() + ")",
				Reason: "Connection to " + what + " refused: " + addr.String() + " is " + withArticle(b.what) +
					" address, which the Airlock layer always blocks unless a cidr rule inside " + b.prefix.String() + " allows it.",
			}
		}
	}
	var allowedBy *compiled
	for i, a := range e.allow {
		if a.CIDR != "" && a.prefix.Contains(addr) && a.portOK(port) {
			allowedBy = &e.allow[i]
			break
		}
	}
	switch {
	case allowedBy != nil:
		return Verdict{Allowed: true, Rule: allowedBy.name(), Reason: what + " is allowed by " + allowedBy.name() + "."}
	case host != "":
		return Verdict{Allowed: true, Rule: "resolved address checked", Reason: what + " is not a denied address."}
	case len(e.allow) == 0:
		return Verdict{Allowed: true, Rule: "network.allow_egress: true (no allow list)", Reason: target + " is allowed: the policy allows egress to any address not denied."}
	}
	return Verdict{
		Rule:   "network.allow (no cidr rule matches)",
		Reason: "Connection to " + target + " refused: connections to IP addresses need a cidr rule in network.allow; use an allowed hostname instead.",
	}
}

// lifting returns the allow rule that lifts built-in deny b for addr:port:
// a cidr rule lying inside b's range that covers addr and port.
func (e *Egress) lifting(b builtinRange, addr netip.Addr, port int) *compiled {
	for i, a := range e.allow {
		if a.CIDR != "" && b.lifts(a.prefix) &&
			a.prefix.Contains(addr) && a.portOK(port) {
			return &e.allow[i]
		}
	}
	return nil
}
