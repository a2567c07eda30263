// Package server wires airlock-mcp's tools into an MCP server (mcp-go): it
// registers every tool, validates each call's arguments against the tool's
// compiled input schema, logs each call, and serves the result over stdio.
package server

import (
	"errors"
	"fmt"

	mcpserver "github.com/mark3labs/mcp-go/server"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// Name is the server name announced in the initialize handshake.
const Name = "airlock-mcp"

// instructions tell the client how to use the server; the tool descriptions
// carry the details.
const instructions = "Runs Python in a sandbox with the execute_python tool. " +
	"Each call is a fresh, isolated sandbox with no network: nothing persists between calls, " +
	"so put everything a computation needs into one call."

// Options are the server's dependencies.
type Options struct {
	// Policy is the effective policy; required.
	Policy *policy.Policy
	// Backend runs the code; required. The caller closes it.
	Backend sandbox.Backend
	// Logger receives one line per tool call; nil discards.
	Logger *zap.Logger
	// Version is announced in the initialize handshake; "" means "dev".
	Version string
}

// New builds the MCP server: it builds every tool from opts, registers them,
// and installs the middleware chain, outermost first: logging, panic
// recovery, argument validation.
func New(opts Options) (*mcpserver.MCPServer, error) {
	if opts.Policy == nil {
		return nil, errors.New("server: no policy")
	}
	if opts.Backend == nil {
		return nil, errors.New("server: no sandbox backend")
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	all, err := tools.All(opts.Policy, opts.Backend, log)
	if err != nil {
		return nil, fmt.Errorf("server: build tools: %w", err)
	}
	s := mcpserver.NewMCPServer(Name, version,
		mcpserver.WithInstructions(instructions),
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithToolHandlerMiddleware(logCalls(log, all)),
		mcpserver.WithRecovery(),
		mcpserver.WithToolHandlerMiddleware(validateArguments(all)),
	)
	for _, t := range all {
		s.AddTool(t.Definition, t.Handler)
	}
	return s, nil
}
