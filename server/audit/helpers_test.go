package audit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
)

// testRecord is a plausible record for call i.
func testRecord(i int) Record {
	code := fmt.Appendf(nil, "print(%d)", i)
	exit := 0
	return Record{
		Time:          time.Date(2026, 3, 1, 12, 0, 0, i, time.UTC),
		Client:        "stdio",
		Session:       fmt.Sprintf("session-%d", i%3),
		Tool:          "execute_python",
		CodeSHA256:    SHA256Hex(code),
		CodeBytes:     len(code),
		PolicyVersion: 1,
		PolicySHA256:  SHA256Hex([]byte("policy")),
		Decision:      DecisionAllowed,
		Backend:       "local",
		SandboxID:     fmt.Sprintf("sb-%d", i),
		Status:        "ok",
		ExitCode:      &exit,
		DurationMS:    12.5,
		OutputSHA256:  SHA256Hex(fmt.Appendf(nil, "%d\n", i)),
	}
}

// writeLog writes n records to a new log in a temporary directory and
// returns its path and the writer's head.
func writeLog(t testing.TB, n int) (path, head string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		w.Write(testRecord(i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, head = w.Head()
	return path, head
}

// readLines returns the lines of the file at path, without newlines.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

// joinLines joins lines into a file's content, each ending in a newline.
func joinLines(lines [][]byte) []byte {
	var b []byte
	for _, l := range lines {
		b = append(append(b, l...), '\n')
	}
	return b
}
