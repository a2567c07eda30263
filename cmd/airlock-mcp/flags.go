package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// options are the flags every command shares.
type options struct {
	policyFile  string
	backend     string
	logLevel    string
	timeoutS    float64
	jsonOut     bool
	listen      string
	authTokens  string
	tlsCert     string
	tlsKey      string
	auditFile   string
	showVersion bool
	http        httpFlags
}

// newFlagSet defines every flag on a set that prints nothing itself: run
// reports a bad flag in one line of its own and prints the help asked for.
// In a usage, the back-quoted word names the flag's argument.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("airlock-mcp", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.policyFile, "policy", "", "the policy `FILE`: YAML, or strict JSON when it ends in .json; without it, safe defaults")
	fs.StringVar(&o.backend, "backend", "local", "the `BACKEND` that runs the code: local (Linux sandboxes on this host), or modal (cloud sandboxes; never chosen unless named)")
	fs.StringVar(&o.logLevel, "log-level", "info", "`LEVEL` of the JSON log on stderr: debug, info, warn, error (run: warn unless given)")
	fs.Float64Var(&o.timeoutS, "timeout", 0, "wall-clock timeout in `SECONDS` (default: the policy's)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the structured result as JSON")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "the `ADDRESS` to listen on (loopback by default; any other needs --auth-tokens)")
	fs.StringVar(&o.authTokens, "auth-tokens", "", "`FILE` of \"NAME TOKEN\" lines; every MCP request must carry one as a bearer token (re-read on SIGHUP)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate `FILE` (with --tls-key)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS key `FILE` (with --tls-cert)")
	fs.StringVar(&o.auditFile, "audit", "", "append one hash-chained JSON record per tool call to `FILE` (check it with: airlock-mcp audit verify FILE)")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	addHTTPFlags(fs, &o.http)
	return fs
}

// flagCommands names the commands each flag applies to; a flag not listed
// applies to every command.
var flagCommands = map[string][]string{
	"policy":                      {"stdio", "http", "run", "doctor"},
	"backend":                     {"stdio", "http", "run", "doctor", "policy"},
	"log-level":                   {"stdio", "http", "run"},
	"audit":                       {"stdio", "http"},
	"timeout":                     {"run"},
	"json":                        {"run"},
	"listen":                      {"http"},
	"auth-tokens":                 {"http"},
	"tls-cert":                    {"http"},
	"tls-key":                     {"http"},
	"max-connections":             {"http"},
	"max-connections-per-address": {"http"},
	"session-idle-timeout":        {"http"},
	"max-sessions-per-client":     {"http"},
}

// parseArgs parses the flags wherever they stand among args and returns
// the other arguments in order; "--" ends the flags. The flags parsed
// before an error are set, and pos holds the arguments seen until then.
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return pos, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// typedFlags rewrites the flags an error of the flag package names
// ("-name") as they were typed in args, "--name" when typed so.
func typedFlags(msg string, args []string) string {
	for _, a := range args {
		if a == "--" {
			break
		}
		name, ok := strings.CutPrefix(a, "--")
		if !ok || name == "" {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		re := regexp.MustCompile(`(^|\s)-` + regexp.QuoteMeta(name) + `(:|\s|$)`)
		msg = re.ReplaceAllString(msg, "${1}--"+name+"${2}")
	}
	return msg
}

// explicitlySet reports whether the flag name was given on the command
// line.
func explicitlySet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// printFlags prints the flags that apply to command ("" for all), each as
// "--name ARG" and its usage, with the commands it applies to when the
// list covers every command.
func printFlags(w io.Writer, fs *flag.FlagSet, command string) {
	fs.VisitAll(func(f *flag.Flag) {
		scope, scoped := flagCommands[f.Name]
		if command != "" && scoped && !slices.Contains(scope, command) {
			return
		}
		if command != "" && !scoped && command != f.Name {
			return
		}
		arg, usage := flag.UnquoteUsage(f)
		if arg == "float" || arg == "int" || arg == "duration" || arg == "string" {
			arg = strings.ToUpper(arg)
		}
		name := "--" + f.Name
		if arg != "" {
			name += " " + arg
		}
		if command == "" && scoped && len(scope) < 4 {
			usage = strings.Join(scope, ", ") + ": " + usage
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  %s\n      %s\n", name, usage)
	})
}
