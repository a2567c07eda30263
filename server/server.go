// Package server wires airlock-mcp's tools into an MCP server (mcp-go): it
// registers every tool behind the call pipeline (the per-client rate limit,
// validation of each call's arguments against the tool's compiled input
// schema, then a log line, metrics and an audit record per call), publishes
// the airlock://policy resource, and serves the server over stdio
// (ServeStdio) or HTTP (HTTPTransport: streamable HTTP and HTTP+SSE, with
// bearer tokens, sessions bound to their client and connection limits).
package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	mcpserver "github.com/mark3labs/mcp-go/server"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// Name is the server name announced in the initialize handshake.
const Name = "airlock-mcp"

// instructions tell the client how to use the server; the tool descriptions
// and the airlock://policy resource carry the details.
func instructions(p *policy.Policy, s tools.Sessions) string {
	network := "with no network"
	if p.Network.AllowEgress {
		network = "whose network access the operator's policy limits (read " + PolicyResourceURI + ")"
	}
	if s.Registry != nil {
		return "Runs Python in a sandbox with the execute_python tool. " +
			"Each call is a fresh, isolated sandbox " + network + ", unless it names a session: " +
			"the calls naming one share an interpreter whose variables, imports and files persist until it expires " +
			"or is ended (end_session; list_sessions and " + SessionsResourceURI + " show yours). " + filesInstructions
	}
	return "Runs Python in a sandbox with the execute_python tool. " +
		"Each call is a fresh, isolated sandbox " + network + ": nothing persists between calls, " +
		"so put everything a computation needs into one call. " + filesInstructions
}

// filesInstructions tell the client how files go in and come back.
const filesInstructions = "Give the code files with execute_python's files argument; the files it leaves under out/ and its matplotlib figures come back " +
	"as images, text, or links to " + tools.FilesURIPrefix + "... that the client which made the call can read with resources/read for a while."

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
	// Audit, when not nil, gets one record per tool call. The caller
	// closes it, after the server has stopped.
	Audit *audit.Writer
	// Metrics, when not nil, counts calls and their durations.
	Metrics *metrics.Metrics
	// Stop, when not nil, cancels every call in progress when it ends (the
	// server is shutting down): their sandboxes are killed and the calls
	// resolve.
	Stop context.Context
	// InFlight, when not nil, holds each call while it runs (until its
	// audit record is written), so that a shutdown can wait for them all.
	InFlight *sync.WaitGroup
	// AnonymousClient names callers without an authenticated identity, in
	// the audit log, for rate limits, and as the owner of their Python
	// sessions: on stdio the local user running the server (StdioClient);
	// "" means "anonymous" (HTTP without tokens: every such caller is one
	// client).
	AnonymousClient string
	// Sessions are the clients' Python sessions (execute_python's session
	// argument, end_session, list_sessions, airlock://sessions), or why
	// there are none. The caller closes the registry, after the server has
	// stopped.
	Sessions tools.Sessions
	// Files keeps the files execute_python returns, for each client to
	// read (airlock://files/...); nil makes one with the policy's time to
	// live (files.ttl_s) and filestore.DefaultMaxBytes.
	Files *filestore.Store
}

// New builds the MCP server: it builds every tool from opts and registers
// each behind the call pipeline (see pipeline): the call's record, ties to
// opts.Stop and opts.InFlight, the per-client rate limit, argument
// validation, panic recovery, then the log line, metrics and audit record.
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
	var err error
	files := opts.Files
	if files == nil {
		if files, err = filestore.New(filestore.Options{TTL: opts.Policy.Files.TTL()}); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	all, err := tools.All(opts.Policy, opts.Backend, opts.Sessions, files, log)
	if err != nil {
		return nil, fmt.Errorf("server: build tools: %w", err)
	}
	anonymous := opts.AnonymousClient
	if anonymous == "" {
		anonymous = anonymousClient
	}
	p := &pipeline{
		log:          log,
		limiter:      newRateLimiter(opts.Policy.Limits.CallsPerMinute, opts.Policy.Limits.CallBurst),
		audit:        opts.Audit,
		metrics:      opts.Metrics,
		policy:       opts.Policy,
		policySHA256: opts.Policy.SHA256(),
		backend:      opts.Backend.Name(),
		stop:         opts.Stop,
		inFlight:     opts.InFlight,
		anonymous:    anonymous,
	}
	s := mcpserver.NewMCPServer(Name, version,
		mcpserver.WithInstructions(instructions(opts.Policy, opts.Sessions)),
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithResourceCapabilities(false, false),
	)
	for _, t := range all {
		s.AddTool(t.Definition, p.handler(t))
	}
	addPolicyResource(s, opts.Policy, opts.Backend)
	addFilesResource(s, files, anonymous)
	if opts.Sessions.Registry != nil {
		addSessionsResource(s, opts.Sessions.Registry, anonymous)
	}
	return s, nil
}
