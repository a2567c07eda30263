package tools_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// filesArgs is execute_python's arguments running print(1) with files.
func filesArgs(t *testing.T, files ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"code": "print(1)", "files": files})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func textFile(path, content string) map[string]any {
	return map[string]any{"path": path, "content": content}
}

// TestFilesInRefused: every entry of files that cannot be written is an
// isError naming the entry (its index and path) and the rule, recorded as
// an invalid call, or, over a policy bound, as the policy's refusal; the
// code never runs.
func TestFilesInRefused(t *testing.T) {
	p := policy.Default()
	p.Files.MaxInCount, p.Files.MaxInMB = 3, 1
	ok := textFile("data/a.csv", "x,y\n1,2\n")
	tests := []struct {
		name  string
		files []map[string]any
		// want are substrings of the message; rule is the policy rule of
		// a refusal ("" for an invalid argument).
		want []string
		rule string
	}{
		{"absolute path", []map[string]any{textFile("/etc/passwd", "x")},
			[]string{`files[0] ("/etc/passwd"): the path is absolute`, `e.g. "passwd"`}, ""},
		{"a .. segment", []map[string]any{ok, textFile("data/../../x", "x")},
			[]string{`files[1] ("data/../../x"): the path has a ".." segment`}, ""},
		{"just ..", []map[string]any{textFile("..", "x")}, []string{`files[0] (".."): the path has a ".." segment`}, ""},
		{"unclean: dot segment", []map[string]any{textFile("./a.csv", "x")}, []string{`files[0] ("./a.csv"): the path is not in clean form; write "a.csv"`}, ""},
		{"unclean: double slash", []map[string]any{textFile("a//b.csv", "x")}, []string{`write "a/b.csv"`}, ""},
		{"unclean: trailing slash", []map[string]any{textFile("data/", "x")}, []string{`files[0] ("data/"): the path is not in clean form`}, ""},
		{"the working directory itself", []map[string]any{textFile(".", "x")}, []string{`files[0] ("."): the path names no file`}, ""},
		{"empty path", []map[string]any{textFile("", "x")}, []string{`files[0] (""): the path names no file`}, ""},
		{"control character", []map[string]any{textFile("a\nb.csv", "x")}, []string{`files[0] ("a\nb.csv"): the path contains a control character`}, ""},
		{"a name over 255 bytes", []map[string]any{textFile("d/"+strings.Repeat("n", 256), "x")}, []string{"a name in the path is longer than 255 bytes"}, ""},
		{"under out/", []map[string]any{textFile("out/a.csv", "x")}, []string{`files[0] ("out/a.csv"): the path is under out/`, `e.g. "a.csv"`}, ""},
		{"out itself", []map[string]any{textFile("out", "x")}, []string{`files[0] ("out"): the path is under out/`}, ""},
		{"the same path twice", []map[string]any{ok, textFile("data/a.csv", "y")}, []string{`files[1] ("data/a.csv"): the same path as files[0]`}, ""},
		{"a file then a directory of the same name", []map[string]any{textFile("data", "x"), ok},
			[]string{`files[1] ("data/a.csv"): files[0] ("data") is a file, so it cannot also be a directory`}, ""},
		{"a directory then a file of the same name", []map[string]any{ok, textFile("data", "x")},
			[]string{`files[1] ("data"): files[0] ("data/a.csv") is inside it, so it must be a directory`}, ""},
		{"bad base64", []map[string]any{{"path": "x.bin", "content": "aGVsbG8*", "encoding": "base64"}},
			[]string{`files[0] ("x.bin"): content is not valid base64 (at byte 7)`}, ""},
		{"unknown encoding", []map[string]any{{"path": "x.bin", "content": "x", "encoding": "hex"}},
			[]string{`files[0] ("x.bin"): encoding "hex" is not "text" or "base64"`}, ""},
		{"over max_in_count", []map[string]any{textFile("a", "1"), textFile("b", "2"), textFile("c", "3"), textFile("d", "4")},
			[]string{"Refused by the operator's policy", `files[3] ("d"): more than files.max_in_count (3) files`}, "files.max_in_count"},
		{"over max_in_mb, decoded", []map[string]any{textFile("a", strings.Repeat("a", 600<<10)),
			{"path": "b", "content": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0}, 500<<10)), "encoding": "base64"}},
			[]string{`files[1] ("b"): the files up to this one come to 1.1 MiB, more than the 1.0 MiB one call may carry (files.max_in_mb)`}, "files.max_in_mb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusOK}}
			tool, err := tools.ExecutePython(p, fb, tools.Sessions{}, nil, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			c := call(filesArgs(t, tt.files...))
			res := tool.Handler(context.Background(), c)
			got := text(t, res)
			if !res.IsError {
				t.Fatalf("accepted: %q", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("message %q lacks %q", got, w)
				}
			}
			if n := fb.Calls(); n != 0 {
				t.Errorf("the backend ran %d calls, want none", n)
			}
			wantStatus := tools.OutcomeInvalid
			if tt.rule != "" {
				wantStatus = tools.OutcomeDenied
			}
			if c.Status != wantStatus || c.Rule != tt.rule || c.Reason != got {
				t.Errorf("call recorded as %q (rule %q, reason %q), want %q (rule %q) with the message", c.Status, c.Rule, c.Reason, wantStatus, tt.rule)
			}
		})
	}
}

// TestFilesInReachTheBackend: accepted files reach the backend decoded,
// in order, with the policy's bounds on what comes back.
func TestFilesInReachTheBackend(t *testing.T) {
	p := policy.Default()
	p.Files.MaxOutMB, p.Files.MaxOutCount = 5, 7
	fb := &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusOK}}
	tool, err := tools.ExecutePython(p, fb, tools.Sessions{}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	binary := []byte{0, 1, 2, 0xff}
	res := tool.Handler(context.Background(), call(filesArgs(t,
		textFile("sales.csv", "région,total\nnord,3\n"),
		map[string]any{"path": "raw/blob.bin", "content": base64.StdEncoding.EncodeToString(binary), "encoding": "base64"},
		map[string]any{"path": "raw/unpadded.bin", "content": "AAEC", "encoding": "base64"},
		map[string]any{"path": "notes.txt", "content": "", "encoding": "text"},
	)))
	if res.IsError {
		t.Fatalf("refused: %q", text(t, res))
	}
	reqs := fb.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d backend calls, want 1", len(reqs))
	}
	want := []sandbox.InFile{
		{Path: "sales.csv", Data: []byte("région,total\nnord,3\n")},
		{Path: "raw/blob.bin", Data: binary},
		{Path: "raw/unpadded.bin", Data: []byte{0, 1, 2}},
		{Path: "notes.txt", Data: []byte{}},
	}
	got := reqs[0].Files
	if len(got) != len(want) {
		t.Fatalf("backend got %d files, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Path != want[i].Path || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("file %d = %q %q, want %q %q", i, got[i].Path, got[i].Data, want[i].Path, want[i].Data)
		}
	}
	if fl := reqs[0].FileLimits; fl != (sandbox.FileLimits{MaxOutBytes: 5 << 20, MaxOutCount: 7}) {
		t.Errorf("backend got file limits %+v, want 5 MiB and 7 files", fl)
	}
}
