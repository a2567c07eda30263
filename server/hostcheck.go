package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// refuseRebinding answers 403 to a request that arrived on a loopback
// address but names another host in its Host header: a web page whose
// domain an attacker re-pointed at 127.0.0.1 (DNS rebinding) must not reach
// a server bound to loopback from the victim's browser. It is the rule
// mcp-go's streamable HTTP and SSE transports apply to their own endpoints;
// here it guards every endpoint behind the token check, /metrics included.
// Requests that arrived on other addresses pass untouched.
func refuseRebinding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if ok && local != nil && isLoopbackHost(local.String()) && !isLoopbackHost(r.Host) {
			http.Error(w, fmt.Sprintf("airlock-mcp: Host header %q is not a loopback name, but the request arrived on a loopback address (a DNS-rebinding attempt?); connect to localhost, 127.0.0.1 or [::1]", r.Host), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isLoopbackHost reports whether addr, a host or host:port, names a
// loopback interface: "localhost" or a loopback IP literal.
func isLoopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
