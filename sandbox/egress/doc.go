// Package egress is the Airlock egress proxy: the one way out of a local
// sandbox's network namespace.
//
// The local backend opens a TCP listener on 127.0.0.1:3128 inside the
// sandbox's namespace, points HTTP_PROXY, HTTPS_PROXY and ALL_PROXY at it,
// and hands the listener to Serve. The proxy speaks HTTP/1.1 proxy
// requests: CONNECT host:port for tunnels (HTTPS and anything else over
// TCP) and absolute-form requests (GET http://host/path) for plain HTTP.
// Every attempt is decided by the network rules' engine (a Decider; in the
// server, netrules.Egress): by name first, then each resolved address, and
// the proxy dials only an address it checked, never a name, so a name that
// resolves to an internal address (DNS rebinding) is refused before any
// connection is made. A tunnel carrying TLS must ask, in its ClientHello,
// for the server name (SNI) it was allowed to reach, so that a shared front
// (a CDN) serving an allowed name cannot be used to reach another one.
//
// Refusals are answered with a 403 whose status line explains the refusal,
// because that is all Python's http.client shows for a failed CONNECT.
// Every attempt is recorded in the session's Ledger: each one that dialled
// in full, the others one by one up to a bound and then counted per
// destination and per rule, so that no flood of refusals can hide a
// connection or make the ledger grow without bound.
//
// Limits per session (one call): Config.MaxConnections upstream connections,
// Config.MaxBytes relayed bytes and Config.MaxClientConns client
// connections open at once (64 by default; one more is refused at once,
// before its request is read). A client connection must start its request
// within 5 s. One session therefore holds at most 2*MaxClientConns+2
// descriptors (client connections, one upstream connection each, the
// listener and a connection being refused), plus the resolver's sockets
// while names are being resolved (with Go's resolver, at most two per
// client connection): whatever its code does, one call cannot take more of
// the server's descriptors than that. Close ends everything and returns
// the ledger; Snapshot reads it while the session runs.
package egress
