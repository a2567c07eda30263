package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	"github.com/airlock-mcp/airlock-mcp/sessions"
)

// shutdownGrace bounds how long a shutdown waits for calls in flight once
// they are cancelled, and for connections to close.
const shutdownGrace = 5 * time.Second

// calls is what a serving command shares with its server to stop cleanly:
// the context whose end cancels every call, the calls in flight, and the
// audit log.
type calls struct {
	stop     context.Context
	cancel   context.CancelFunc
	inFlight sync.WaitGroup
	audit    *audit.Writer // nil without --audit
	// sessions keeps the clients' Python sessions; nil when none are
	// offered. endSessions: shutdown ends them (sessions.end_on_shutdown).
	sessions    *sessions.Registry
	endSessions bool
}

// newCalls opens the audit log, when o asks for one.
func newCalls(o options, log *zap.Logger) (*calls, error) {
	c := &calls{}
	c.stop, c.cancel = context.WithCancel(context.Background())
	if o.auditFile != "" {
		w, err := audit.Open(o.auditFile, log.Named("audit"))
		if err != nil {
			c.cancel()
			return nil, fmt.Errorf("audit log: %w", err)
		}
		c.audit = w
	}
	return c, nil
}

// shutdown cancels every call in progress (their sandboxes are killed),
// waits up to shutdownGrace for them to resolve and be audited, stops the
// session registry (see closeSessions), closes the backend (killing
// whatever sandbox remains, pooled ones and local sessions included), then
// flushes and closes the audit log.
func (c *calls) shutdown(backend sandbox.Backend, log *zap.Logger) {
	c.cancel()
	done := make(chan struct{})
	go func() {
		c.inFlight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		log.Warn("calls still running after the shutdown grace; closing the backend under them")
	}
	c.closeSessions(log)
	if backend != nil {
		if err := backend.Close(); err != nil {
			log.Error("closing the backend", zap.Error(err))
		}
	}
	if c.audit != nil {
		if err := c.audit.Close(); err != nil {
			log.Error("closing the audit log", zap.Error(err))
		}
	}
}
