package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCLI runs the command line in-process, with a line of Python on
// stdin, and returns its exit code, stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader("print(1)\n"), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestHelpAndVersion: every way of asking for help or the version works,
// on stdout with exit 0; the flags are listed as they are typed, each with
// its argument's name, and never with a command line as that name.
func TestHelpAndVersion(t *testing.T) {
	overview := []string{"Usage:\n  airlock-mcp [stdio] [flags]", "airlock-mcp help [COMMAND]",
		"  --policy FILE\n", "  --backend BACKEND\n", "  --timeout SECONDS\n      run: ", "  --audit FILE\n      stdio, http: ",
		"  --session-idle-timeout DURATION\n", "  --version\n"}
	runHelp := []string{"Usage: airlock-mcp run FILE.py [flags]", "Exit status:", "  --timeout SECONDS\n      wall-clock", "  --json\n", "  --policy FILE\n"}
	tests := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"help"}, overview, []string{"-audit airlock-mcp"}},
		{[]string{"-h"}, overview, []string{"-audit airlock-mcp"}},
		{[]string{"--help"}, overview, nil},
		{[]string{"-help"}, overview, nil},
		{[]string{"--policy", "p.yaml", "--help"}, overview, nil},
		{[]string{"help", "run"}, runHelp, []string{"--listen", "--audit"}},
		{[]string{"run", "-h"}, runHelp, nil},
		{[]string{"run", "x.py", "--help"}, runHelp, nil},
		{[]string{"help", "http"}, []string{"Usage: airlock-mcp http [flags]", "  --listen ADDRESS\n", "  --auth-tokens FILE\n", "  --audit FILE\n"}, []string{"--timeout", "--json"}},
		{[]string{"http", "--help"}, []string{"Usage: airlock-mcp http [flags]"}, nil},
		{[]string{"help", "policy"}, []string{"Usage: airlock-mcp policy check FILE [flags]", "  --backend BACKEND\n"}, []string{"--timeout"}},
		{[]string{"help", "doctor"}, []string{"Usage: airlock-mcp doctor [flags]", "macOS and\nWindows"}, nil},
		{[]string{"help", "audit"}, []string{"airlock-mcp audit verify FILE"}, nil},
		{[]string{"help", "version"}, []string{"Usage: airlock-mcp version"}, nil},
		{[]string{"version"}, []string{"airlock-mcp "}, nil},
		{[]string{"--version"}, []string{"airlock-mcp "}, nil},
		{[]string{"-version"}, []string{"airlock-mcp "}, nil},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(tc.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
			}
			for _, s := range tc.want {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, stdout)
				}
			}
		})
	}
	if code, _, stderr := runCLI("help", "frobnicate"); code != 2 || !strings.Contains(stderr, `no help for "frobnicate"`) {
		t.Errorf("help for an unknown command: exit %d, stderr %q", code, stderr)
	}
}

// TestCommandLineErrors: a mistake on the command line is one line on
// stderr, exit 2, naming what was typed: the flag as typed (--frob, not
// -frob), the backend, the timeout as the --timeout flag rather than the
// tool's timeout_s argument. Nothing is logged besides.
func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--backend", "docker"}, `airlock-mcp: unknown backend "docker": use "local" (the default) or "modal"`},
		{[]string{"run", "-", "--backend", "docker"}, `unknown backend "docker"`},
		{[]string{"--frob"}, "flag provided but not defined: --frob"},
		{[]string{"-frob"}, "flag provided but not defined: -frob"},
		{[]string{"run", "--timeout", "soon", "-"}, `invalid value "soon" for flag --timeout`},
		{[]string{"run", "--timeout", "999", "-"}, "airlock-mcp: refused by policy: --timeout 999 exceeds the operator's maximum of 300 s (policy limits.max_timeout_s); retry with --timeout <= 300."},
		{[]string{"run", "-", "--timeout=-1"}, "refused by policy: --timeout -1 is not positive"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"doctor", "extra"}, "doctor takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", stderr, tc.want)
			}
			if n := strings.Count(stderr, "\n"); n != 1 || stdout != "" {
				t.Errorf("want one line on stderr and nothing on stdout, got %d lines:\n%s\nstdout: %q", n, stderr, stdout)
			}
		})
	}
}

// TestFlagsAnywhere: flags are read before and after the command and its
// arguments, and "--" ends them.
func TestFlagsAnywhere(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		backend string
	}{
		{[]string{"run", "x.py", "--json"}, []string{"run", "x.py"}, "local"},
		{[]string{"run", "-", "--backend", "modal", "--json"}, []string{"run", "-"}, "modal"},
		{[]string{"--backend=modal", "policy", "check", "p.yaml"}, []string{"policy", "check", "p.yaml"}, "modal"},
		{[]string{"policy", "--backend", "modal", "check", "p.yaml"}, []string{"policy", "check", "p.yaml"}, "modal"},
		{[]string{"run", "--", "--json"}, []string{"run", "--json"}, "local"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var o options
			pos, err := parseArgs(newFlagSet(&o), tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(pos, " ") != strings.Join(tc.wantPos, " ") || o.backend != tc.backend {
				t.Errorf("arguments %q, backend %q; want %q, %q", pos, o.backend, tc.wantPos, tc.backend)
			}
		})
	}
}
