package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/airlock-mcp/airlock-mcp/server"
)

// httpFlags are the flags of the http command that bound connections and
// sessions; a --max-connections of 0 means the default for the process's
// open-file limit.
type httpFlags struct {
	maxConns, maxConnsPerAddress int
	sessionIdle                  time.Duration
	maxSessionsPerClient         int
}

// addHTTPFlags registers httpFlags on fs, with their defaults.
func addHTTPFlags(fs *flag.FlagSet, f *httpFlags) {
	fs.IntVar(&f.maxConns, "max-connections", 0, fmt.Sprintf("at most `N` connections open at once, a quarter of them kept for clients with a valid token (default %d, or half the open-file limit if lower)", server.DefaultMaxConns))
	fs.IntVar(&f.maxConnsPerAddress, "max-connections-per-address", server.DefaultMaxConnsPerAddress, "at most `N` connections open at once from one client IP address (raise it behind a reverse proxy)")
	fs.DurationVar(&f.sessionIdle, "session-idle-timeout", server.DefaultSessionIdleTimeout, "end an MCP session that has had no request or stream open for this `DURATION`")
	fs.IntVar(&f.maxSessionsPerClient, "max-sessions-per-client", server.DefaultMaxSessionsPerClient, "at most `N` MCP sessions one token holds; one more ends its least recently used idle session")
}

// connLimits are the connection limits f asks for, the total defaulting
// to what the process's open-file limit allows.
func (f httpFlags) connLimits() server.ConnLimits {
	limits := server.ConnLimits{Max: f.maxConns, PerAddress: f.maxConnsPerAddress}
	if limits.Max <= 0 {
		limits.Max = server.DefaultMaxConns
		if n, ok := openFileLimit(); ok {
			limits.Max = server.MaxConnsForFileLimit(n)
		}
	}
	return limits
}

// sessionLimits are the session limits f asks for.
func (f httpFlags) sessionLimits() server.SessionLimits {
	return server.SessionLimits{IdleTimeout: f.sessionIdle, MaxPerClient: f.maxSessionsPerClient}
}

// checkHTTPOptions refuses http flags that cannot work, and loads the
// bearer tokens (nil without --auth-tokens). A listen address that is not
// loopback is refused unless --auth-tokens names a tokens file.
func checkHTTPOptions(o options) (*server.Tokens, error) {
	loopback, err := server.IsLoopback(o.listen)
	if err != nil {
		return nil, err
	}
	var tokens *server.Tokens
	if o.authTokens != "" {
		if tokens, err = server.LoadTokens(o.authTokens); err != nil {
			return nil, err
		}
	} else if !loopback {
		return nil, fmt.Errorf("refusing to serve on %s without authentication: pass --auth-tokens FILE (one \"NAME TOKEN\" pair per line), or listen on a loopback address", o.listen)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	f := o.http
	if f.maxConnsPerAddress <= 0 || f.maxSessionsPerClient <= 0 || f.sessionIdle <= 0 || f.maxConns < 0 {
		return nil, errors.New("--max-connections-per-address, --max-sessions-per-client and --session-idle-timeout must be positive, and --max-connections positive or 0 (the default)")
	}
	return tokens, nil
}
