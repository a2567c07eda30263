package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The end-to-end tests of files and figures (issue 12's "Done when"): the
// built binary, driven by the official MCP Go SDK client over stdio and
// HTTP, on the local backend and on Modal (against modaltest).

// testPython is the interpreter the local tests name in their policy:
// Debian's, which has matplotlib once scripts/test.sh has installed it.
const testPython = "/usr/bin/python3"

// fileEntry is one entry of the result's files or figures.
type fileEntry struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	MIME    string `json:"mime"`
	SHA256  string `json:"sha256"`
	URI     string `json:"uri"`
	Omitted bool   `json:"omitted"`
	Reason  string `json:"reason"`
}

// filesResult is the part of execute_python's result these tests read.
type filesResult struct {
	Status  string      `json:"status"`
	Result  *string     `json:"result"`
	Stderr  string      `json:"stderr"`
	Files   []fileEntry `json:"files"`
	Figures []fileEntry `json:"figures"`
}

// runFiles calls execute_python with args; it fails the test on a
// protocol error.
func runFiles(t *testing.T, s *mcp.ClientSession, args map[string]any) (*mcp.CallToolResult, filesResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: args})
	if err != nil {
		t.Fatalf("execute_python: %v", err)
	}
	var out filesResult
	if res.StructuredContent != nil {
		raw, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("structured content %s: %v", raw, err)
		}
	}
	return res, out
}

// readFile reads uri with resources/read and returns its bytes.
func readFile(s *mcp.ClientSession, uri string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		return nil, err
	}
	if len(res.Contents) != 1 {
		return nil, &unexpected{len(res.Contents)}
	}
	if c := res.Contents[0]; c.Blob != nil {
		return c.Blob, nil
	}
	return []byte(res.Contents[0].Text), nil
}

type unexpected struct{ n int }

func (u *unexpected) Error() string { return "want one content" }

func sum256(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// blob is the binary file the code returns.
var blob = bytes.Repeat([]byte{0, 1, 2, 254, 255, 'A'}, 40000)

// exerciseFiles is what every backend and transport must do with files: a
// CSV given in is computed over; a text file comes back embedded; a binary
// file comes back as a resource link whose resources/read content matches
// its sha256; a matplotlib plot comes back as a PNG image; bad input is
// refused with the rule named. It returns the binary file's URI.
func exerciseFiles(t *testing.T, s *mcp.ClientSession) string {
	csv := "region,amount\nnorth,3\nsouth,4\nnorth,5\n"
	res, out := runFiles(t, s, map[string]any{
		"code": "import csv\ntotals = {}\nfor row in csv.DictReader(open('data/sales.csv')):\n    totals[row['region']] = totals.get(row['region'], 0) + int(row['amount'])\n" +
			"import os\nos.makedirs('out', exist_ok=True)\nopen('out/report.txt', 'w').write('north %d\\n' % totals['north'])\n" +
			"open('out/blob.bin', 'wb').write(bytes.fromhex(open('data/blob.hex').read()))\nsorted(totals.items())",
		"files": []map[string]any{
			{"path": "data/sales.csv", "content": csv},
			{"path": "data/blob.hex", "content": base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(blob))), "encoding": "base64"},
		},
	})
	if out.Status != "ok" || out.Result == nil || *out.Result != "[('north', 8), ('south', 4)]" {
		t.Fatalf("computing over the CSV: status %s result %v stderr %q\n%s", out.Status, out.Result, out.Stderr, contentText(res))
	}
	byPath := map[string]fileEntry{}
	for _, f := range out.Files {
		byPath[f.Path] = f
	}
	report, bin := byPath["out/report.txt"], byPath["out/blob.bin"]
	if report.Size != 8 || !strings.HasPrefix(report.MIME, "text/plain") || report.SHA256 != sum256([]byte("north 8\n")) {
		t.Errorf("report.txt listed as %+v", report)
	}
	if bin.Size != int64(len(blob)) || bin.SHA256 != sum256(blob) || bin.URI == "" {
		t.Errorf("blob.bin listed as %+v", bin)
	}
	var embedded, linked bool
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.EmbeddedResource:
			embedded = embedded || c.Resource != nil && c.Resource.Text == "north 8\n"
		case *mcp.ResourceLink:
			linked = linked || c.URI == bin.URI
		}
	}
	if !embedded || !linked {
		t.Errorf("content: the text file embedded %v, the binary file linked %v", embedded, linked)
	}
	if text := contentText(res); !strings.Contains(text, "report.txt") || !strings.Contains(text, "blob.bin") {
		t.Errorf("the text does not name the returned files: %q", text)
	}
	got, err := readFile(s, bin.URI)
	if err != nil || sum256(got) != bin.SHA256 {
		t.Errorf("resources/read %s: %d bytes, %v; want the listed sha256", bin.URI, len(got), err)
	}

	res, out = runFiles(t, s, map[string]any{"code": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [4, 1, 9])\nplt.title('sales')\nplt.show()"})
	if out.Status != "ok" || len(out.Figures) != 1 || out.Figures[0].MIME != "image/png" {
		t.Fatalf("a plot: status %s figures %+v stderr %q", out.Status, out.Figures, out.Stderr)
	}
	var png []byte
	for _, c := range res.Content {
		if img, ok := c.(*mcp.ImageContent); ok && img.MIMEType == "image/png" {
			png = img.Data
		}
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || sum256(png) != out.Figures[0].SHA256 {
		t.Errorf("the plot's image content: %d bytes, PNG %v, sha256 matches %v", len(png), bytes.HasPrefix(png, []byte("\x89PNG")), sum256(png) == out.Figures[0].SHA256)
	}

	for _, bad := range []struct {
		name  string
		files []map[string]any
		want  string
	}{
		{"a path out of the working directory", []map[string]any{{"path": "../etc/passwd", "content": "x"}}, "files[0]"},
		{"an absolute path", []map[string]any{{"path": "/etc/passwd", "content": "x"}}, "files[0]"},
		{"content that is not base64", []map[string]any{{"path": "ok.txt", "content": "x"}, {"path": "b.bin", "content": "not base64!", "encoding": "base64"}}, "files[1]"},
	} {
		res, _ := runFiles(t, s, map[string]any{"code": "1", "files": bad.files})
		if !res.IsError || !strings.Contains(contentText(res), bad.want) {
			t.Errorf("%s: isError %v, %q; want a refusal naming %s", bad.name, res.IsError, contentText(res), bad.want)
		}
	}
	return bin.URI
}

// localPolicy is a policy for the local backend with Debian's python (it
// has matplotlib) and, when mount is not "", that host directory mounted
// at /data/shared.
func localPolicy(t *testing.T, mount string) string {
	t.Helper()
	y := "backend:\n  local:\n    python: " + testPython + "\n"
	if mount != "" {
		y += "    mounts:\n      - host: " + mount + "\n        path: /data/shared\n"
	}
	return y
}

// TestFilesOverStdio: files and figures on the local backend over stdio,
// and a host directory the operator mounts is readable, not writable.
func TestFilesOverStdio(t *testing.T) {
	shared := t.TempDir()
	if err := os.WriteFile(filepath.Join(shared, "prices.csv"), []byte("item,price\ntea,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o755); err != nil { // readable by the sandbox's user
		t.Fatal(err)
	}
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(localPolicy(t, shared)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := connect(t, "--policy", policy)
	exerciseFiles(t, s)

	_, out := runFiles(t, s, map[string]any{"code": "data = open('/data/shared/prices.csv').read()\ntry:\n    open('/data/shared/new.txt', 'w')\n    wrote = True\nexcept OSError:\n    wrote = False\n(data, wrote)"})
	if out.Status != "ok" || out.Result == nil || *out.Result != "('item,price\\ntea,3\\n', False)" {
		t.Errorf("the read-only mount: status %s result %v stderr %q", out.Status, out.Result, out.Stderr)
	}
	if _, err := os.Stat(filepath.Join(shared, "new.txt")); err == nil {
		t.Error("the code wrote into the read-only mount on the host")
	}
}

// TestFilesOverHTTP: files on the local backend over HTTP; another
// identity cannot read a client's file (the same answer as a missing one).
func TestFilesOverHTTP(t *testing.T) {
	r := startRemote(t, localPolicy(t, ""), "alice", "bob")
	uri := exerciseFiles(t, r.connect(t, "alice", nil))
	bob := r.connect(t, "bob", nil)
	if got, err := readFile(bob, uri); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("bob reads alice's file: %d bytes, %v; want not found", len(got), err)
	}
	if _, err := readFile(bob, strings.Replace(uri, "blob.bin", "nothing.bin", 1)); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a missing file: %v; want not found", err)
	}
}

// TestModalFilesOverStdio: the same on Modal over stdio.
func TestModalFilesOverStdio(t *testing.T) {
	srv := startModalCP(t)
	server := connectEnv(t, srv.ClientEnv(), "--backend", "modal")
	exerciseFiles(t, server.session)
}

// TestModalFilesOverHTTP: the same on Modal over HTTP, with another
// identity refused.
func TestModalFilesOverHTTP(t *testing.T) {
	srv := startModalCP(t)
	srv.SetEnv(t)
	r, args := remoteArgs(t, "", "alice", "bob")
	r.cmd, r.stderr = startHTTPServer(t, http.DefaultClient, "http://"+r.addr+"/healthz", append([]string{"--backend", "modal"}, args...)...)
	uri := exerciseFiles(t, r.connect(t, "alice", nil))
	if _, err := readFile(r.connect(t, "bob", nil), uri); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("bob reads alice's file on Modal: %v; want not found", err)
	}
}
