package main

import (
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/server"
)

// reloadTokens re-reads the bearer tokens file (on SIGHUP). A file that no
// longer loads leaves the previous tokens in force; without --auth-tokens
// there is nothing to reload.
func reloadTokens(tokens *server.Tokens, log *zap.Logger) {
	if tokens == nil {
		return
	}
	if err := tokens.Reload(); err != nil {
		log.Error("auth tokens not reloaded; the previous ones stay in force", zap.Error(err))
		return
	}
	log.Info("auth tokens reloaded", zap.Int("tokens", tokens.Len()))
}
