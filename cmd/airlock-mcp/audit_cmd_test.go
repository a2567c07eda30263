package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/server/audit"
)

// writeAuditLog writes a log of n records and returns its path and head.
func writeAuditLog(t *testing.T, n int) (path, head string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := audit.Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		w.Write(audit.Record{Client: "stdio", Tool: "execute_python", Decision: audit.DecisionAllowed, Status: "ok"})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, head = w.Head()
	return path, head
}

func TestAuditCommand(t *testing.T) {
	good, head := writeAuditLog(t, 12)

	tampered := filepath.Join(t.TempDir(), "tampered.jsonl")
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[6] = bytes.Replace(lines[6], []byte(`"status":"ok"`), []byte(`"status":"error"`), 1)
	if err := os.WriteFile(tampered, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.jsonl")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"intact log", []string{"verify", good}, 0,
			[]string{"audit log " + good + ": 12 records, chain intact, head sha256:" + head + "\n"}, nil},
		{"tampered log", []string{"verify", tampered}, 1,
			[]string{"audit log " + tampered + ": chain BROKEN at line 8 (seq 8): prev hash does not match line 7: line 7 was edited",
				"intact up to line 7 (7 records), head sha256:"}, nil},
		{"missing file", []string{"verify", missing}, 1,
			nil, []string{"airlock-mcp: audit verify: open " + missing + ": no such file or directory"}},
		{"a directory", []string{"verify", t.TempDir()}, 1,
			nil, []string{"is a directory"}},
		{"no arguments", nil, 2, nil, []string{"airlock-mcp audit: missing subcommand", "Usage:"}},
		{"unknown subcommand", []string{"check", good}, 2, nil, []string{`unknown subcommand "check"`, "Usage:"}},
		{"verify without a file", []string{"verify"}, 2, nil, []string{"verify takes one argument", "Usage:"}},
		{"verify with two files", []string{"verify", good, good}, 2, nil, []string{"verify takes one argument"}},
		{"verify with a flag", []string{"verify", "--json"}, 2, nil, []string{"unknown flag --json"}},
		{"help", []string{"--help"}, 0, []string{"airlock-mcp audit verify FILE", "Exit status"}, nil},
		{"verify help", []string{"verify", "-h"}, 0, []string{"airlock-mcp audit verify FILE"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runAudit(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, &stdout, &stderr)
			}
			check := func(stream string, got string, want []string) {
				if len(want) == 0 && got != "" {
					t.Errorf("%s = %q, want nothing", stream, got)
				}
				for _, w := range want {
					if !strings.Contains(got, w) {
						t.Errorf("%s = %q, want it to contain %q", stream, got, w)
					}
				}
			}
			check("stdout", stdout.String(), tt.wantStdout)
			check("stderr", stderr.String(), tt.wantStderr)
		})
	}
}
