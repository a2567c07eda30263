// Package precheck is the Airlock layer's static network pre-check of
// Python code: before code is shipped to a sandbox, it finds the URLs,
// hostnames and IP addresses the code's string literals mention and
// decides each with the network policy.
//
// It is not the enforcement: code can build any destination at run time,
// and the proxy or the backend enforce the policy on every connection
// while the code runs. So a destination the policy denies does not stop
// the code where the backend blocks it anyway (the local backend; Modal
// for the rules it enforces): the code runs, and the finding explains a
// connection that then fails (Result.Note). The pre-check refuses code
// only where nothing else would enforce the rule: when the backend would
// let a connection to a denied destination through (Modal's advisory gaps,
// see Enforcement) and the code uses the network.
//
// What it reads:
//
//   - string literals only, found by a small Python tokenizer (comments are
//     skipped; adjacent literals are joined as Python joins them; only the
//     literal parts of f-strings are read, a replacement field's value is
//     unknown);
//   - in a literal, every URL "scheme://[userinfo@]host[:port]/..." (the
//     host as Python's urllib reads it: after the last "@"; IPv6 in
//     brackets; IPv4 in any inet_aton form, "http://2130706433/" is
//     127.0.0.1; percent-encoding decoded), the port explicit or the
//     scheme's default;
//   - a literal that is, as a whole, an IP address ("10.0.0.1",
//     "[::1]:8080"), "localhost", or a hostname whose top-level domain is
//     in a short list of common ones ("evil.test", "api.example.com:8443"),
//     so that "os.path", "numpy.linalg" or "data.csv" are not hosts;
//   - ("host", 443) tuples: a host literal followed by "," and an integer
//     gives the port.
//
// Loopback destinations are listed but never denied here: inside a sandbox
// they are the sandbox's own.
//
// Whether the code uses the network, which a refusal also needs: it
// imports or uses a networking module (socket, urllib, http, requests,
// httpx, aiohttp, ...; asyncio's open_connection), or runs a shell through
// subprocess or os.system and a literal names curl, wget, nc, pip, ....
// The test is deliberately simple: urllib counts even when only
// urllib.parse is used, and a library that fetches URLs itself
// (pandas.read_csv("https://...")) does not count.
package precheck

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// Finding is one destination the code's literals mention.
type Finding struct {
	// Host is the normalized name or the IP address.
	Host string `json:"host"`
	// Port is the URL's port (explicit, or the scheme's default: http 80,
	// https 443, ws 80, wss 443, ftp 21), a (host, port) tuple's, or 0
	// when unknown.
	Port int `json:"port,omitempty"`
	// Source is the text it came from, at most 120 bytes: the URL, or the
	// whole literal. A replacement field of an f-string shows as "{…}".
	Source string `json:"source"`
	// Line is the 1-based line of the code where it is.
	Line int `json:"line"`
	// Verdict is the network policy's decision on Host and Port.
	Verdict netrules.Verdict `json:"-"`
	// Addr is Host's address when it is known without DNS (an IP
	// literal, localhost, the cloud metadata service's names), else the
	// zero Addr.
	Addr netip.Addr `json:"-"`
	// Allowed and Rule copy Verdict for JSON.
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule"`
}

// Result is what Check found and decided.
type Result struct {
	// Findings lists every destination found, deduplicated by host and
	// port, in the order they appear in the code; at most MaxFindings.
	// Never nil.
	Findings []Finding `json:"findings"`
	// Denied is the first finding the policy denies, loopback aside; nil
	// when there is none. It may lie beyond the findings kept.
	Denied *Finding `json:"denied,omitempty"`
	// Refused is the first denied finding the backend would let through
	// (see Enforcement), when the code also uses the network: the code
	// must not run. Nil when the call may run. It may lie beyond the
	// findings kept.
	Refused *Finding `json:"refused,omitempty"`
	// NetworkUse says what makes the code look like it uses the network
	// ("import requests, line 1"), "" when nothing does.
	NetworkUse string `json:"network_use,omitempty"`
}

// Enforcement reports whether the backend itself blocks, while the code
// runs, a connection to the destination of f, a finding the policy
// denies. A nil Enforcement is a backend that enforces the whole network
// policy (the local backend, or any backend when egress is off).
type Enforcement func(f Finding) bool

const (
	// MaxFindings bounds Result.Findings.
	MaxFindings = 64
	// maxDestinations bounds the distinct destinations decided, so that
	// the work stays bounded on huge inputs.
	maxDestinations = 4096
	// maxSource bounds Finding.Source, in bytes.
	maxSource = 120
)

// Check scans code (Python source, possibly invalid) and decides what it
// finds with e; enforced says what the backend blocks by itself. A nil e is
// the default policy: no network at all. Check never panics and runs in
// time linear in len(code).
func Check(code string, e *netrules.Egress, enforced Enforcement) Result {
	if e == nil {
		e = netrules.Rules{}.Egress()
	}
	a := &analyzer{}
	a.run(code)

	r := Result{Findings: []Finding{}, NetworkUse: a.networkUse()}
	mayRefuse := enforced != nil && r.NetworkUse != ""
	slices.SortStableFunc(a.cands, func(x, y candidate) int {
		return cmp.Or(cmp.Compare(x.off, y.off), cmp.Compare(x.pos, y.pos))
	})
	for i := range a.cands {
		if len(r.Findings) == MaxFindings && r.Denied != nil && (r.Refused != nil || !mayRefuse) {
			break
		}
		c := &a.cands[i]
		f := Finding{Host: c.host, Port: c.port, Source: cleanSource(c.source), Line: c.line}
		f.Verdict, f.Addr = decide(e, c.host, c.port)
		f.Allowed, f.Rule = f.Verdict.Allowed, f.Verdict.Rule
		if len(r.Findings) < MaxFindings {
			r.Findings = append(r.Findings, f)
		}
		if f.Allowed || sandboxLocal(c.host) {
			continue
		}
		if r.Denied == nil {
			r.Denied = &f
		}
		if mayRefuse && r.Refused == nil && !enforced(f) {
			r.Refused = &f
		}
	}
	return r
}

// sandboxLocal reports whether host is loopback ("localhost", 127.0.0.0/8,
// ::1): inside a sandbox that is the sandbox's own loopback, where code may
// run a server of its own and talk to it, so it is never plainly denied.
// Whether a connection to it leaves the sandbox is decided while the code
// runs (through the Airlock proxy it is refused as the host's loopback).
func sandboxLocal(host string) bool {
	if localhostName(host) {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// localhostName reports whether host is "localhost" or a name under it,
// which are loopback (RFC 6761).
func localhostName(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// knownAddrs are names whose address is known without asking DNS: the
// cloud metadata service's names. "localhost" and "*.localhost" are
// loopback (RFC 6761).
var knownAddrs = map[string]netip.Addr{
	"metadata.google.internal": netip.MustParseAddr("169.254.169.254"),
	"metadata.goog":            netip.MustParseAddr("169.254.169.254"),
}

// decide asks the policy about host:port, and returns the host's address
// when it is known without DNS (an IP literal, localhost, the metadata
// service's names). A name allowed by name whose address is known is
// checked at that address too, as the enforcement does after resolving it.
func decide(e *netrules.Egress, host string, port int) (netrules.Verdict, netip.Addr) {
	addr, ok := knownAddrs[host]
	if localhostName(host) {
		addr, ok = netip.MustParseAddr("127.0.0.1"), true
	}
	if a, err := netip.ParseAddr(host); err == nil { // hosts are normalized: no brackets, lowercase
		addr = a
	}
	v := e.CheckHost(host, port)
	if v.Allowed && ok {
		if va := e.CheckAddr(host, addr, port); !va.Allowed {
			return va, addr
		}
	}
	return v, addr
}

// Message is the refusal for the model, "" when nothing is refused:
// "Code refused before running: it contacts evil.test
// (\"https://evil.test/x\", line 3), which the operator's network policy
// denies: <the verdict's reason> This backend cannot enforce that rule
// while the code runs, so the Airlock layer refuses the code instead; leave
// that destination out of the code."
func (r Result) Message() string {
	if r.Refused == nil {
		return ""
	}
	return "Code refused before running: it contacts " + r.Refused.described() + ", which the operator's network policy denies: " +
		r.Refused.reason() + " This backend cannot enforce that rule while the code runs, so the Airlock layer refuses the code instead; leave that destination out of the code."
}

// Note is one sentence for a run whose connection failed, "" when no
// finding is denied: "The Airlock pre-check found evil.test
// (\"https://evil.test/x\", line 3) in the code, which the operator's
// network policy denies: <the verdict's reason>"
func (r Result) Note() string {
	if r.Denied == nil {
		return ""
	}
	return "The Airlock pre-check found " + r.Denied.described() + " in the code, which the operator's network policy denies: " + r.Denied.reason()
}

// described is "evil.test (\"https://evil.test/x\", line 3)".
func (f *Finding) described() string {
	return f.Host + " (" + strconv.Quote(f.Source) + ", line " + strconv.Itoa(f.Line) + ")"
}

// reason is the verdict's one-sentence reason, or the rule that decided.
func (f *Finding) reason() string {
	if f.Verdict.Reason != "" {
		return f.Verdict.Reason
	}
	return "rule " + f.Rule + "."
}

// cleanSource makes s fit Finding.Source: valid UTF-8, replacement fields
// shown as "{…}", at most maxSource bytes (cut on a character boundary and
// ended with "…").
func cleanSource(s string) string {
	if len(s) > 4*maxSource {
		s = s[:4*maxSource]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, string(exprMark), "{…}")
	if len(s) <= maxSource {
		return s
	}
	cut := maxSource - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
