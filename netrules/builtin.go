package netrules

import (
	"net/netip"
	"strings"
)

// builtinRange is an address range the Airlock layer denies whatever the
// allow rules say, unless a cidr allow rule inside the range lifts it.
type builtinRange struct {
	prefix netip.Prefix
	what   string // "cloud metadata", "loopback", ...
}

// builtinDenies lists the ranges sandboxed code must not reach by default:
// the host itself, cloud metadata services, and the operator's internal
// networks. More specific ranges come first so a verdict names the most
// telling one (169.254.169.254 is "cloud metadata", not "link-local").
var builtinDenies = func() []builtinRange {
	r := func(cidr, what string) builtinRange { return builtinRange{netip.MustParsePrefix(cidr), what} }
	return []builtinRange{
		r("169.254.169.254/32", "cloud metadata"), // AWS, GCP, Azure, OpenStack, DigitalOcean, ...
		r("169.254.170.2/32", "cloud metadata"),   // AWS ECS task credentials
		r("100.100.100.200/32", "cloud metadata"), // Alibaba Cloud
		r("fd00:ec2::254/128", "cloud metadata"),  // AWS IMDS over IPv6
		r("fd00:ec2::23/128", "cloud metadata"),   // AWS DNS over IPv6
		r("0.0.0.0/8", "this-network"),            // 0.0.0.0 reaches the host's own services
		r("127.0.0.0/8", "loopback"),              //
		r("::1/128", "loopback"),                  //
		r("::/128", "unspecified"),                //
		r("::/96", "IPv4-compatible"),             // deprecated (RFC 4291) form embedding any IPv4 address; holds :: and ::1 too
		r("169.254.0.0/16", "link-local"),         //
		r("fe80::/10", "link-local"),              //
		r("10.0.0.0/8", "private (RFC 1918)"),     //
		r("172.16.0.0/12", "private (RFC 1918)"),  //
		r("192.168.0.0/16", "private (RFC 1918)"), //
		r("100.64.0.0/10", "shared (RFC 6598)"),   // carrier-grade NAT, also some cloud internals
		r("fc00::/7", "unique local (IPv6)"),      //
		r("192.0.0.0/24", "IETF protocol"),        //
		r("198.18.0.0/15", "benchmarking"),        //
		r("224.0.0.0/4", "multicast"),             //
		r("ff00::/8", "multicast"),                //
		r("240.0.0.0/4", "reserved"),              // includes 255.255.255.255
		r("64:ff9b::/96", "NAT64"),                // could embed any IPv4 address, internal ones too
		r("64:ff9b:1::/48", "local-use NAT64"),    // RFC 8215: translates to whatever IPv4 the operator's NAT64 chooses
		r("2002::/16", "6to4"),                    // embeds an IPv4 address
		r("2001::/32", "Teredo"),                  // embeds an IPv4 address
		r("100::/64", "discard"),                  //
		r("::ffff:0:0/96", "IPv4-mapped"),         // decided as the IPv4 address; never allowlisted as IPv6
		r("::ffff:0:0:0/96", "IPv4-translated"),   // RFC 2765 (SIIT): embeds an IPv4 address
	}
}()

// lifts reports whether an allow cidr rule for p lifts b: p lies inside
// b's range.
func (b builtinRange) lifts(p netip.Prefix) bool {
	return p.Bits() >= b.prefix.Bits() && b.prefix.Contains(p.Addr())
}

// builtinDeny returns the built-in denied range holding addr (unmapped).
func builtinDeny(addr netip.Addr) (builtinRange, bool) {
	for _, b := range builtinDenies {
		if b.prefix.Contains(addr) {
			return b, true
		}
	}
	return builtinRange{}, false
}

// withArticle is what preceded by "a" or "an": "a cloud metadata", "an
// IPv4-compatible", "a unique local (IPv6)".
func withArticle(what string) string {
	if what != "" && strings.ContainsRune("aeiouAEIOU", rune(what[0])) && !strings.HasPrefix(what, "uni") {
		return "an " + what
	}
	return "a " + what
}

// BuiltinDenies lists the built-in denied ranges as "169.254.169.254/32
// (cloud metadata)", for documentation and `airlock-mcp policy check`.
func BuiltinDenies() []string {
	out := make([]string, len(builtinDenies))
	for i, b := range builtinDenies {
		out[i] = b.prefix.String() + " (" + b.what + ")"
	}
	return out
}
