// Command airlock-mcp is an MCP server that gives LLM clients sandboxed
// Python execution. Every call passes the Airlock layer (argument schemas,
// then the operator's policy) before it runs on a sandbox backend.
//
// Usage:
//
//	airlock-mcp [flags] [stdio]              serve MCP over stdio (the default)
//	airlock-mcp [flags] http                 serve MCP over streamable HTTP and HTTP+SSE
//	airlock-mcp [flags] run FILE.py          run a file (or - for stdin) and print the result
//	airlock-mcp [flags] doctor               check that this host can run the backend
//	airlock-mcp [flags] policy check FILE    validate a policy file and print how each backend enforces it
//	airlock-mcp audit verify FILE            check the hash chain of an audit log
//	airlock-mcp version                      print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	// The local backend's sandboxes start this binary as their init helper,
	// whose package takes the process over before main when it is started
	// under the helper's name.
	_ "github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options are the flags every command shares.
type options struct {
	policyFile string
	backend    string
	logLevel   string
	timeoutS   float64
	jsonOut    bool
	listen     string
	authTokens string
	tlsCert    string
	tlsKey     string
	auditFile  string
	http       httpFlags
}

const usage = `airlock-mcp: sandboxed Python execution for MCP clients.

Usage:
  airlock-mcp [flags] [stdio]       serve MCP over stdio (the default)
  airlock-mcp [flags] http          serve MCP over streamable HTTP (/mcp) and HTTP+SSE (/sse) on --listen
  airlock-mcp [flags] run FILE.py   run a file (- for stdin) through the policy and backend; print the result
  airlock-mcp [flags] doctor        check that this host can run the backend, protection by protection
                                    (with --backend modal: credentials, app, image, resources, network; no network call)
  airlock-mcp [flags] policy check FILE
                                    validate a policy file; print the effective policy and how each backend
                                    enforces it (with --backend modal: as Modal receives it, settings and
                                    allowlists; exit 1 if invalid, or if the --backend named refuses it)
  airlock-mcp audit verify FILE     check the hash chain of an audit log; say where it breaks
  airlock-mcp version               print the version

Flags:
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("airlock-mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.policyFile, "policy", "", "policy file (YAML or JSON); without it, safe defaults")
	fs.StringVar(&o.backend, "backend", "local", "sandbox backend: local, or modal (cloud sandboxes; never chosen unless named)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error (logs go to stderr)")
	fs.Float64Var(&o.timeoutS, "timeout", 0, "run: wall-clock timeout in seconds (default: the policy's)")
	fs.BoolVar(&o.jsonOut, "json", false, "run: print the structured result as JSON")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "http: listen address (loopback by default; any other needs --auth-tokens)")
	fs.StringVar(&o.authTokens, "auth-tokens", "", "http: file of \"NAME TOKEN\" lines; every MCP request must carry one as a bearer token (re-read on SIGHUP)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "http: TLS certificate file (with --tls-key)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "http: TLS key file (with --tls-cert)")
	fs.StringVar(&o.auditFile, "audit", "", "stdio, http: append one hash-chained JSON record per tool call to FILE (check it with `airlock-mcp audit verify FILE`)")
	addHTTPFlags(fs, &o.http)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	// Flags may come before or after the command.
	if err := fs.Parse(args); err != nil {
		return exitUsage(err)
	}
	command, rest := "stdio", fs.Args()
	if len(rest) > 0 {
		command, rest = rest[0], rest[1:]
		if command == "audit" {
			return runAudit(rest, stdout, stderr)
		}
		if err := fs.Parse(rest); err != nil {
			return exitUsage(err)
		}
		rest = fs.Args()
	}

	switch command {
	case "version":
		fmt.Fprintf(stdout, "airlock-mcp %s\n", buildVersion())
		return 0
	case "policy":
		explicit := ""
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "backend" {
				explicit = o.backend
			}
		})
		return runPolicy(rest, explicit, stdout, stderr)
	}
	log, err := newLogger(o.logLevel, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()

	// A signal ends the serving context with sandbox.ErrShutdown as its
	// cause: calls it cancels say the server is shutting down.
	signalled, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, shutdown := context.WithCancelCause(context.Background())
	defer shutdown(nil)
	defer context.AfterFunc(signalled, func() { shutdown(sandbox.ErrShutdown) })()

	pol, err := loadPolicy(o.policyFile)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 2
	}
	switch command {
	case "stdio":
		if len(rest) > 0 {
			return usageError(stderr, "stdio takes no arguments")
		}
		return serveStdio(ctx, o, pol, log, stdin, stdout, stderr)
	case "http":
		if len(rest) > 0 {
			return usageError(stderr, "http takes no arguments")
		}
		return serveHTTP(ctx, o, pol, log, stderr)
	case "run":
		if len(rest) != 1 {
			return usageError(stderr, "run takes one argument: a Python file, or - for stdin")
		}
		return runFile(ctx, o, pol, log, rest[0], stdin, stdout, stderr)
	case "doctor":
		return doctor(ctx, o, pol, stdout)
	default:
		return usageError(stderr, fmt.Sprintf("unknown command %q", command))
	}
}

func exitUsage(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "airlock-mcp: %s (see airlock-mcp -h)\n", msg)
	return 2
}

func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Default(), nil
	}
	return policy.Load(path)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

// newLogger logs JSON lines to stderr: on stdio, stdout carries only MCP
// messages.
func newLogger(level string, stderr io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(stderr), lvl)
	return zap.New(core), nil
}
