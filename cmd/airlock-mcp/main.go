// Command airlock-mcp is an MCP server that gives LLM clients sandboxed
// Python execution. Every call passes the Airlock layer (argument schemas,
// then the operator's policy) before it runs on a sandbox backend.
//
// Usage:
//
//	airlock-mcp [stdio] [flags]             serve MCP over stdio (the default)
//	airlock-mcp http [flags]                serve MCP over streamable HTTP and HTTP+SSE
//	airlock-mcp run FILE.py [flags]         run a file (or - for stdin) and print the result
//	airlock-mcp doctor [flags]              check that this host can run the backend
//	airlock-mcp policy check FILE [flags]   validate a policy file and print how each backend enforces it
//	airlock-mcp audit verify FILE           check the hash chain of an audit log
//	airlock-mcp version                     print the version
//	airlock-mcp help [COMMAND]              print the help, or a command's
//
// Flags go before or after the command and its arguments.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	// The local backend's sandboxes start this binary as their init helper,
	// whose package takes the process over before main when it is started
	// under the helper's name.
	_ "github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit"
)

// version is set at build time with -ldflags "-X main.version=...", as
// scripts/dist.sh does from git.
var version = ""

// goos is the operating system the binary runs on; tests set others.
var goos = runtime.GOOS

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status: 0 done, 1
// the command failed (see each command), 2 a usage error or a refusal.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet(&o)
	// audit reads its own arguments: what follows it goes to it as typed.
	if err := fs.Parse(args); err != nil {
		return flagError(err, fs, nil, args, stdout, stderr)
	}
	if rest := fs.Args(); len(rest) > 0 && rest[0] == "audit" {
		return runAudit(rest[1:], stdout, stderr)
	}
	pos, err := parseArgs(fs, fs.Args())
	if err != nil {
		return flagError(err, fs, pos, args, stdout, stderr)
	}
	command, rest := "stdio", pos
	if len(pos) > 0 {
		command, rest = pos[0], pos[1:]
	}
	switch {
	case o.showVersion || command == "version":
		fmt.Fprintf(stdout, "airlock-mcp %s\n", buildVersion())
		return 0
	case command == "help":
		topic := ""
		if len(rest) > 0 {
			topic = rest[0]
		}
		return printHelp(stdout, stderr, fs, topic)
	case o.backend != local.Name && o.backend != modal.Name:
		return usageError(stderr, fmt.Sprintf("unknown backend %q: use %q (the default) or %q", o.backend, local.Name, modal.Name))
	case command == "policy":
		explicit := ""
		if explicitlySet(fs, "backend") {
			explicit = o.backend
		}
		return runPolicy(rest, explicit, stdout, stderr)
	}
	if command == "doctor" {
		o.backend = doctorBackend(goos, o.backend, explicitlySet(fs, "backend"))
	}
	if msg := localUnsupported(goos, command, o.backend); msg != "" {
		fmt.Fprintln(stderr, "airlock-mcp: "+msg)
		return 2
	}
	if command == "run" && !explicitlySet(fs, "log-level") {
		// A person reads run's output: the log says only what goes wrong.
		o.logLevel = "warn"
	}
	log, err := newLogger(o.logLevel, stderr)
	if err != nil {
		return usageError(stderr, err.Error())
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
		if len(rest) > 0 {
			return usageError(stderr, "doctor takes no arguments")
		}
		return doctor(ctx, o, pol, stdout)
	default:
		return usageError(stderr, fmt.Sprintf("unknown command %q", command))
	}
}

// flagError handles a flag that could not be parsed: -h or --help prints
// the help of the command named so far (pos) and exits 0; anything else is
// one line on stderr naming the flag as typed (args), and exit 2.
func flagError(err error, fs *flag.FlagSet, pos, args []string, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		topic := ""
		if len(pos) > 0 {
			topic = pos[0]
		}
		if topic == "help" {
			topic = ""
		}
		return printHelp(stdout, stderr, fs, topic)
	}
	return usageError(stderr, typedFlags(err.Error(), args))
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "airlock-mcp: %s (see airlock-mcp help)\n", msg)
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
