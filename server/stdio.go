package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	mcpserver "github.com/mark3labs/mcp-go/server"
	"go.uber.org/zap"
)

// ServeStdio serves s over newline-delimited JSON-RPC on in and out until
// in reaches EOF or ctx is cancelled, both of which are a clean stop (nil).
// Unlike mcp-go's ServeStdio it installs no signal handler: the caller owns
// ctx and shutdown. Only one stdio session may run per process.
//
// workers bounds how many requests are handled at once (mcp-go allows at
// most 100); it should exceed the policy's concurrent executions so that
// tools/list and pings are not stuck behind running code. log receives the
// transport's own errors; nil discards them.
func ServeStdio(ctx context.Context, s *mcpserver.MCPServer, in io.Reader, out io.Writer, workers int, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	stdio := mcpserver.NewStdioServer(s)
	stdio.SetErrorLogger(zap.NewStdLog(log))
	mcpserver.WithWorkerPoolSize(min(max(workers, 1), 100))(stdio)
	err := stdio.Listen(ctx, in, out)
	if err == nil || errors.Is(err, context.Canceled) || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		return nil
	}
	return fmt.Errorf("server: serve stdio: %w", err)
}
