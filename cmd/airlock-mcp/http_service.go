package main

import (
	"net"
	"net/http"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
)

// httpService is the http command's server, wired: the MCP transport, the
// connection limiter and the HTTP server in front of both.
type httpService struct {
	transport *server.HTTPTransport
	conns     *server.ConnLimiter
	limits    server.ConnLimits
	srv       *http.Server
}

// newHTTPService builds the MCP server for p on backend, and the HTTP
// transport, connection limits and HTTP server that serve it as o asks.
func newHTTPService(o options, p *policy.Policy, backend sandbox.Backend, c *calls, tokens *server.Tokens, m *metrics.Metrics, log *zap.Logger) (*httpService, error) {
	ps, err := c.openSessions(p, backend, log)
	if err != nil {
		return nil, err
	}
	files, err := openFileStore(p)
	if err != nil {
		return nil, err
	}
	s, err := server.New(server.Options{Policy: p, Backend: backend, Logger: log, Version: buildVersion(),
		Audit: c.audit, Metrics: m, Stop: c.stop, InFlight: &c.inFlight, Sessions: ps, Files: files})
	if err != nil {
		return nil, err
	}
	h := &httpService{limits: o.http.connLimits()}
	h.transport = server.NewHTTPTransport(s, server.HTTPOptions{
		Tokens:       tokens,
		Metrics:      m.Handler(),
		MaxBodyBytes: server.MaxBodyBytesFor(p),
		Sessions:     o.http.sessionLimits(),
		Logger:       log.Named("sessions"),
	})
	h.conns = server.NewConnLimiter(h.limits, log.Named("connections"))
	h.srv = server.NewHTTPServer(h.transport, h.conns)
	return h, nil
}

// serve listens on o.listen and serves there, over TLS when o names a
// certificate, until the server is shut down; served receives why it
// stopped (http.ErrServerClosed after a shutdown).
func (h *httpService) serve(o options) (addr net.Addr, served <-chan error, err error) {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, nil, err
	}
	ln = h.conns.Listener(ln)
	done := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			done <- h.srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			done <- h.srv.Serve(ln)
		}
	}()
	return ln.Addr(), done, nil
}
