package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestWriteConcurrentlyThenVerify(t *testing.T) {
	const goroutines, perG = 8, 300
	const n = goroutines * perG
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	core, logs := observer.New(zapcore.InfoLevel)
	w, err := Open(path, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				r := testRecord(i)
				r.SandboxID = fmt.Sprintf("g%d-%d", g, i)
				w.Write(r)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	seq, head := w.Head()
	if seq != n {
		t.Errorf("Head seq = %d, want %d", seq, n)
	}

	rep, err := VerifyFile(path)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != n || rep.Head != head {
		t.Errorf("Verify = %+v, want %d records, head %s", rep, n, head)
	}

	// Every record once, numbered 1..n in file order.
	seen := map[string]bool{}
	for i, line := range readLines(t, path) {
		r, err := decodeLine(line)
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i+1) {
			t.Fatalf("line %d has seq %d", i+1, r.Seq)
		}
		if seen[r.SandboxID] {
			t.Fatalf("record %s written twice", r.SandboxID)
		}
		seen[r.SandboxID] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct records, want %d", len(seen), n)
	}

	closed := logs.FilterMessage("audit log closed").All()
	if len(closed) != 1 {
		t.Fatalf("%d 'audit log closed' lines, want 1", len(closed))
	}
	fields := closed[0].ContextMap()
	if fields["head"] != "sha256:"+head || fields["records"] != uint64(n) {
		t.Errorf("close log fields = %v, want head sha256:%s and %d records", fields, head, n)
	}
}

func TestReopenContinuesTheChain(t *testing.T) {
	path, head1 := writeLog(t, 5)
	w, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if seq, head := w.Head(); seq != 5 || head != head1 {
		t.Errorf("after reopening, Head = %d %s, want 5 %s", seq, head, head1)
	}
	for i := range 3 {
		w.Write(testRecord(100 + i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8", len(lines))
	}
	r6, err := decodeLine(lines[5])
	if err != nil {
		t.Fatal(err)
	}
	if r6.Seq != 6 || r6.Prev != head1 || head1 != SHA256Hex(lines[4]) {
		t.Errorf("first appended record: seq %d prev %s, want 6 and the hash of line 5 %s", r6.Seq, r6.Prev, head1)
	}
	rep, err := VerifyFile(path)
	if err != nil {
		t.Fatalf("Verify over both runs: %v", err)
	}
	if _, head := w.Head(); rep.Records != 8 || rep.Head != head {
		t.Errorf("Verify = %+v, want 8 records, head %s", rep, head)
	}
}

func TestOpenRefusesADamagedEnd(t *testing.T) {
	good := joinLines(readLines(t, must(writeLog(t, 3))))
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"torn last line", good[:len(good)-20], "does not end in a newline"},
		{"no newline at all", []byte(`{"seq":1`), "does not end in a newline"},
		{"last line not JSON", append(bytes.Clone(good), "garbage\n"...), "not valid JSON"},
		{"last line with an unknown field", append(bytes.Clone(good), `{"seq":4,"extra":true}`+"\n"...), `unknown field "extra"`},
		{"blank last line", append(bytes.Clone(good), '\n'), "not valid JSON"},
		{"last line too long", append(bytes.Clone(good), append(bytes.Repeat([]byte("x"), MaxLineBytes+1), '\n')...), "longer than"},
		{"last line with seq 0", append(bytes.Clone(good), `{"seq":0}`+"\n"...), "seq 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			w, err := Open(path, zap.NewNop())
			if err == nil {
				_ = w.Close()
				t.Fatal("Open accepted a damaged log")
			}
			msg := err.Error()
			if !errors.Is(err, ErrDamaged) || !strings.Contains(msg, tt.want) ||
				!strings.Contains(msg, "airlock-mcp audit verify "+path) || !strings.Contains(msg, "move the file aside") {
				t.Errorf("Open error = %q, want ErrDamaged mentioning %q, audit verify and moving the file aside", msg, tt.want)
			}
			t.Log(msg)
			if b, _ := os.ReadFile(path); !bytes.Equal(b, tt.content) {
				t.Error("Open changed the damaged file")
			}
		})
	}
}

func TestOpenCreatesAPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("new log has mode %v, want no access for group and others", perm)
	}
	if seq, head := w.Head(); seq != 0 || head != ZeroHash {
		t.Errorf("new log Head = %d %s, want 0 and ZeroHash", seq, head)
	}
}

func TestOpenErrorNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "audit.jsonl")
	_, err := Open(path, zap.NewNop())
	if err == nil || err.Error() != "audit: open "+path+": no such file or directory" {
		t.Errorf("Open error = %v", err)
	}
	if _, err := Open(t.TempDir(), zap.NewNop()); err == nil {
		t.Error("Open accepted a directory")
	}
}

func TestWriteAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	core, logs := observer.New(zapcore.WarnLevel)
	w, err := Open(path, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(testRecord(1))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	w.Write(testRecord(2))
	w.Write(testRecord(3))
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Write after Close changed the file")
	}
	if n := logs.FilterMessageSnippet("Write after Close").Len(); n != 1 {
		t.Errorf("%d warnings about Write after Close, want 1", n)
	}
	if seq, _ := w.Head(); seq != 1 {
		t.Errorf("Head seq = %d, want 1", seq)
	}
}

// Close while other goroutines write: no panic, no race, every record
// written is in an intact chain.
func TestCloseWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	var wg, started sync.WaitGroup
	for range 4 {
		started.Add(1)
		wg.Go(func() {
			for i := range 500 {
				w.Write(testRecord(i))
				if i == 0 {
					started.Done()
				}
			}
		})
	}
	started.Wait() // every writer has written, and goes on writing
	var closers sync.WaitGroup
	for range 2 {
		closers.Go(func() {
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	closers.Wait()
	wg.Wait()
	rep, err := VerifyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if seq, head := w.Head(); uint64(rep.Records) != seq || rep.Head != head {
		t.Errorf("Verify = %+v, Head = %d %s", rep, seq, head)
	}
	if rep.Records < 4 {
		t.Errorf("%d records in the log, want at least the 4 written before Close", rep.Records)
	}
}

func TestWriteNormalizesAndCopiesTheRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	hosts := make([]string, 20)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d.example.com", i)
	}
	exit := 3
	denied := Record{
		Time:     time.Date(2026, 3, 1, 13, 0, 0, 5, time.FixedZone("CET", 3600)),
		Seq:      99,
		Prev:     "caller's prev",
		Decision: DecisionDenied,
		Reason:   strings.Repeat("é", MaxFieldBytes),
		ExitCode: &exit,
		Network:  &NetworkSummary{Attempts: 20, Denied: 20, HostsDenied: hosts},
	}
	w.Write(denied)
	// The caller may reuse what it passed.
	hosts[0], exit, denied.Network.Attempts = "changed", 4, 0
	w.Write(Record{Decision: DecisionAllowed}) // zero time, no exit code, no network
	w.Write(Record{Network: &NetworkSummary{}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	r1, err := decodeLine(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	if r1.Seq != 1 || r1.Prev != ZeroHash {
		t.Errorf("seq %d prev %q, want the writer's 1 and ZeroHash", r1.Seq, r1.Prev)
	}
	if got := r1.Time.Format(time.RFC3339Nano); got != "2026-03-01T12:00:00.000000005Z" {
		t.Errorf("time = %s, want it in UTC", got)
	}
	if n := r1.Network; n.Attempts != 20 || len(n.HostsDenied) != MaxHostsDenied || n.HostsDenied[0] != "h0.example.com" {
		t.Errorf("network = %+v, want the caller's values and %d hosts", n, MaxHostsDenied)
	}
	if *r1.ExitCode != 3 {
		t.Errorf("exit code = %d, want 3", *r1.ExitCode)
	}
	if len(r1.Reason) > MaxFieldBytes || !strings.HasSuffix(r1.Reason, "é…") {
		t.Errorf("reason of %d bytes ending %q, want it cut at a rune boundary", len(r1.Reason), r1.Reason[len(r1.Reason)-8:])
	}

	line2 := string(lines[1])
	for _, absent := range []string{`"reason"`, `"network"`} {
		if strings.Contains(line2, absent) {
			t.Errorf("allowed record without network has %s: %s", absent, line2)
		}
	}
	if !strings.Contains(line2, `"exit_code":null`) {
		t.Errorf("record without exit code: %s, want exit_code null", line2)
	}
	if !strings.Contains(string(lines[2]), `"hosts_denied":[]`) {
		t.Errorf("network without denied hosts: %s, want hosts_denied []", lines[2])
	}
	r2, err := decodeLine(lines[1])
	if err != nil {
		t.Fatal(err)
	}
	if r2.Time.IsZero() || r2.Time.Location() != time.UTC {
		t.Errorf("zero time written as %v, want now in UTC", r2.Time)
	}
}

// The fields of a line come in the order of the Record struct.
func TestLineFieldOrder(t *testing.T) {
	r := testRecord(1)
	r.Reason = "why"
	r.Network = &NetworkSummary{HostsDenied: []string{"x"}}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(r)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(readLines(t, path)[0]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line starts with %v, %v", tok, err)
	}
	var keys []string
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key.(string))
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			t.Fatal(err)
		}
	}
	want := "seq time client session tool code_sha256 code_bytes policy_version policy_sha256 decision reason " +
		"backend sandbox_id status exit_code duration_ms network output_sha256 prev"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("keys:\n got %s\nwant %s", got, want)
	}
}

// A failed write is counted, logged with its seq and never its content, and
// reported by Err and Close.
func TestWriteErrorIsLoggedAndCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	core, logs := observer.New(zapcore.InfoLevel)
	w, err := Open(path, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	_ = w.f.Close() // every write fails from now on
	r := testRecord(1)
	r.Client = "secret-client"
	w.Write(r)
	w.Write(r)
	closeErr := w.Close()
	if w.Err() == nil || closeErr == nil || !errors.Is(closeErr, w.Err()) {
		t.Fatalf("Err = %v, Close = %v, want the write error from both", w.Err(), closeErr)
	}
	if !strings.Contains(w.Err().Error(), "audit: write "+path) {
		t.Errorf("Err = %v, want it to name the file", w.Err())
	}
	failed := logs.FilterMessage("audit log write failed").All()
	if len(failed) != 2 {
		t.Fatalf("%d write failures logged, want 2", len(failed))
	}
	for _, e := range failed {
		if e.ContextMap()["seq"] != uint64(1) {
			t.Errorf("failure logged with %v, want seq 1 (no record was written)", e.ContextMap())
		}
	}
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()), "secret-client") {
			t.Errorf("log line %q carries the record's content", e.Message)
		}
	}
	if seq, head := w.Head(); seq != 0 || head != ZeroHash {
		t.Errorf("Head = %d %s after failed writes, want it unchanged", seq, head)
	}
}

// must returns the first of two values, for writeLog in an expression.
func must[A, B any](a A, _ B) A { return a }
