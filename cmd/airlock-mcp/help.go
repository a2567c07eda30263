package main

import (
	"flag"
	"fmt"
	"io"
)

// usage is the overview `airlock-mcp help` and -h print before the flags.
const usage = `airlock-mcp: sandboxed Python execution for MCP clients.

Usage:
  airlock-mcp [stdio] [flags]             serve MCP over stdio (the default)
  airlock-mcp http [flags]                serve MCP over streamable HTTP (/mcp) and HTTP+SSE (/sse)
  airlock-mcp run FILE.py [flags]         run a file (- for stdin) through the policy and backend
  airlock-mcp doctor [flags]              check that this host can run the backend
  airlock-mcp policy check FILE [flags]   validate a policy file and show how each backend enforces it
  airlock-mcp audit verify FILE           check the hash chain of an audit log
  airlock-mcp version                     print the version
  airlock-mcp help [COMMAND]              print this help, or a command's

Flags go before or after the command and its arguments; "--" ends them.

Flags:
`

// commandHelp is what `airlock-mcp help COMMAND` prints before the flags
// that apply to COMMAND.
var commandHelp = map[string]string{
	"stdio": `Usage: airlock-mcp [stdio] [flags]

Serves MCP on stdin and stdout (the default command): one tool,
execute_python, and the resource airlock://policy. Logs JSON lines to
stderr. Ends when stdin closes or on SIGINT/SIGTERM, killing every sandbox.
`,
	"http": `Usage: airlock-mcp http [flags]

Serves MCP over streamable HTTP at /mcp and HTTP+SSE at /sse (messages to
/message), with /healthz and /metrics, on --listen. Any address but
loopback needs --auth-tokens; clients then send "Authorization: Bearer
TOKEN". SIGHUP re-reads the tokens; SIGINT/SIGTERM shut down gracefully.
`,
	"run": `Usage: airlock-mcp run FILE.py [flags]    (FILE.py may be - for stdin)

Runs the file through the same policy, pre-check and backend as the server
and prints the result as a model reads it (--json: the structured result).

Exit status: 0 the code ran ok; 1 it failed, timed out or was killed;
2 refused, or it could not run.
`,
	"doctor": `Usage: airlock-mcp doctor [flags]

Checks, for a person, that this host can run the backend: the interpreter,
namespaces and each protection (local), or the credentials, App, image,
resources and network (modal, without a network call). On macOS and
Windows it checks the Modal set-up unless --backend local is given.
Exits 1 when the backend cannot run.
`,
	"policy": `Usage: airlock-mcp policy check FILE [flags]

Validates a policy file (YAML, or strict JSON when it ends in .json) and
prints the effective policy, the built-in denies, and how each backend
enforces the network rules; with --backend modal, all of it as Modal
receives it. A named backend.local.python must run.

Exit status: 0 valid; 1 invalid, or refused by the backend it would run on
(--backend, default local); 2 a usage error.
`,
	"audit": auditUsage,
	"version": `Usage: airlock-mcp version    (or --version)

Prints the version: the one stamped from git by scripts/dist.sh, or the
module version of a go install.
`,
	"help": `Usage: airlock-mcp help [COMMAND]    (or -h, --help anywhere)

Prints the overview, or the help of COMMAND: stdio, http, run, doctor,
policy, audit, version.
`,
}

// printHelp prints the help of command ("" for the overview) to w; it
// returns 2 for a command that does not exist.
func printHelp(w, stderr io.Writer, fs *flag.FlagSet, command string) int {
	if command == "" {
		fmt.Fprint(w, usage)
		printFlags(w, fs, "")
		return 0
	}
	text, ok := commandHelp[command]
	if !ok {
		return usageError(stderr, fmt.Sprintf("no help for %q: the commands are stdio, http, run, doctor, policy, audit, version", command))
	}
	fmt.Fprint(w, text)
	if command == "audit" || command == "help" {
		return 0
	}
	fmt.Fprint(w, "\nFlags:\n")
	printFlags(w, fs, command)
	return 0
}
