package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/server"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
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
	fs.IntVar(&f.maxConns, "max-connections", 0, fmt.Sprintf("http: most connections open at once, a quarter of them kept for clients with a valid token (default %d, or half the open-file limit if lower)", server.DefaultMaxConns))
	fs.IntVar(&f.maxConnsPerAddress, "max-connections-per-address", server.DefaultMaxConnsPerAddress, "http: most connections open at once from one client IP address (raise it behind a reverse proxy)")
	fs.DurationVar(&f.sessionIdle, "session-idle-timeout", server.DefaultSessionIdleTimeout, "http: end an MCP session that has had no request or stream open for this long")
	fs.IntVar(&f.maxSessionsPerClient, "max-sessions-per-client", server.DefaultMaxSessionsPerClient, "http: most MCP sessions one token holds; one more ends its least recently used idle session")
}

// connLimits are the connection limits f asks for, the total defaulting
// to what the process's open-file limit allows.
func (f httpFlags) connLimits() server.ConnLimits {
	limits := server.ConnLimits{Max: f.maxConns, PerAddress: f.maxConnsPerAddress}
	if limits.Max <= 0 {
		limits.Max = server.DefaultMaxConns
		var rl syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
			limits.Max = server.MaxConnsForFileLimit(rl.Cur)
		}
	}
	return limits
}

// serveHTTP serves MCP over streamable HTTP and HTTP+SSE until a signal
// arrives. A listen address that is not loopback is refused unless
// --auth-tokens names a tokens file; SIGHUP re-reads that file.
func serveHTTP(ctx context.Context, o options, p *policy.Policy, log *zap.Logger, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "airlock-mcp: "+format+"\n", args...)
		return 2
	}
	loopback, err := server.IsLoopback(o.listen)
	if err != nil {
		return fail("%v", err)
	}
	var tokens *server.Tokens
	if o.authTokens != "" {
		if tokens, err = server.LoadTokens(o.authTokens); err != nil {
			return fail("%v", err)
		}
	} else if !loopback {
		return fail("refusing to serve on %s without authentication: pass --auth-tokens FILE (one \"NAME TOKEN\" pair per line), or listen on a loopback address", o.listen)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return fail("--tls-cert and --tls-key go together")
	}
	if o.http.maxConnsPerAddress <= 0 || o.http.maxSessionsPerClient <= 0 || o.http.sessionIdle <= 0 || o.http.maxConns < 0 {
		return fail("--max-connections-per-address, --max-sessions-per-client and --session-idle-timeout must be positive, and --max-connections positive or 0 (the default)")
	}

	c, err := newCalls(o, log)
	if err != nil {
		return fail("%v", err)
	}
	m := metrics.New(buildVersion())
	m.SetErrorLog(zap.NewStdLog(log.Named("metrics")))
	backend, err := openBackend(ctx, o.backend, p, false, log, m)
	if err != nil {
		log.Error("backend unavailable", zap.String("backend", o.backend), zap.Error(err))
		c.shutdown(nil, log)
		return fail("%v", err)
	}
	defer c.shutdown(backend, log)
	s, err := server.New(server.Options{Policy: p, Backend: backend, Logger: log, Version: buildVersion(),
		Audit: c.audit, Metrics: m, Stop: c.stop, InFlight: &c.inFlight})
	if err != nil {
		return fail("%v", err)
	}
	transport := server.NewHTTPTransport(s, server.HTTPOptions{
		Tokens:       tokens,
		Metrics:      m.Handler(),
		MaxBodyBytes: server.MaxBodyBytesFor(p.Limits.MaxCodeBytes),
		Sessions:     server.SessionLimits{IdleTimeout: o.http.sessionIdle, MaxPerClient: o.http.maxSessionsPerClient},
		Logger:       log.Named("sessions"),
	})
	limits := o.http.connLimits()
	conns := server.NewConnLimiter(limits, log.Named("connections"))
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fail("listen: %v", err)
	}
	ln = conns.Listener(ln)
	srv := server.NewHTTPServer(transport, conns)
	served := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			served <- srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	log.Info("serving MCP over HTTP", zap.String("addr", ln.Addr().String()), zap.Bool("tls", o.tlsCert != ""),
		zap.Bool("auth", tokens != nil), zap.String("backend", backend.Name()), zap.String("policy_sha256", p.SHA256()),
		zap.Int("max_connections", limits.Max), zap.Int("max_connections_per_address", limits.PerAddress),
		zap.Int("max_sessions_per_client", o.http.maxSessionsPerClient), zap.Duration("session_idle_timeout", o.http.sessionIdle))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if tokens == nil {
				continue
			}
			if err := tokens.Reload(); err != nil {
				log.Error("auth tokens not reloaded; the previous ones stay in force", zap.Error(err))
			} else {
				log.Info("auth tokens reloaded", zap.Int("tokens", tokens.Len()))
			}
		case err := <-served:
			if !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server failed", zap.Error(err))
				return 1
			}
			return 0
		case <-ctx.Done():
			// Stop accepting, cancel the calls in flight so their sandboxes
			// die and their responses go out, end the streams, then (in the
			// deferred shutdown) close the backend and the audit log.
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				if err := srv.Shutdown(sctx); err != nil {
					_ = srv.Close()
				}
			}()
			c.cancel()
			_ = transport.Shutdown(sctx)
			<-closed
			return 0
		}
	}
}
