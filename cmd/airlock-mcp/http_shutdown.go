package main

import (
	"context"

	"go.uber.org/zap"
)

// shutdown stops accepting, cancels the calls in flight so their sandboxes
// die and their responses go out, and ends the streams, within
// shutdownGrace; the caller's deferred calls.shutdown then closes the
// backend and the audit log.
func (h *httpService) shutdown(c *calls, log *zap.Logger) {
	log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		if err := h.srv.Shutdown(ctx); err != nil {
			_ = h.srv.Close()
		}
	}()
	c.cancel()
	_ = h.transport.Shutdown(ctx)
	<-closed
}
