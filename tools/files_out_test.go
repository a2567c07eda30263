package tools_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// Contents whose type the bytes decide.
var (
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 64)...)
	jpegBytes = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), bytes.Repeat([]byte{1}, 32)...)
	gifBytes  = []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	webpBytes = []byte("RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	svgBytes  = []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect width="1" height="1"/></svg>`)
	binBytes  = []byte{0, 1, 2, 3, 0xfe, 0xff, 0, 0}
)

func out(path string, data []byte) sandbox.OutFile {
	return sandbox.OutFile{Path: path, Size: int64(len(data)), Data: data}
}

// kind names a content block for the table: "image", "text", "link".
func kind(t *testing.T, c mcp.Content) (kind, uri, mime string) {
	t.Helper()
	switch c := c.(type) {
	case mcp.ImageContent:
		return "image", "", c.MIMEType
	case mcp.EmbeddedResource:
		tr, ok := c.Resource.(mcp.TextResourceContents)
		if !ok {
			t.Fatalf("embedded resource %T, want text", c.Resource)
		}
		return "text", tr.URI, tr.MIMEType
	case mcp.ResourceLink:
		return "link", c.URI, c.MIMEType
	}
	t.Fatalf("content %T", c)
	return "", "", ""
}

// TestFilesOutRendering: each returned file or figure comes back by the
// rule for its type and size — images up to the inline bound as image
// content, SVG and small text as embedded text, anything else as a link —
// and is listed with the server's size, type and hash, and a URI its
// caller (and no one else) can read.
func TestFilesOutRendering(t *testing.T) {
	p := policy.Default()
	p.Files.MaxInlineImageKB = 1
	p.Limits.MaxOutputBytes = 1024 // the text files embedded, all together
	bigPNG := append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{9}, 1024)...)
	tests := []struct {
		name     string
		file     sandbox.OutFile
		figure   bool
		wantKind string // "" for none (omitted)
		wantMIME string
		wantPath string
	}{
		{"PNG inline", out("plot.png", pngBytes), false, "image", "image/png", "out/plot.png"},
		{"PNG over the inline bound", out("big.png", bigPNG), false, "link", "image/png", "out/big.png"},
		{"JPEG inline", out("photo.jpg", jpegBytes), false, "image", "image/jpeg", "out/photo.jpg"},
		{"GIF inline", out("anim.gif", gifBytes), false, "image", "image/gif", "out/anim.gif"},
		{"WebP inline", out("pic.webp", webpBytes), false, "image", "image/webp", "out/pic.webp"},
		{"PNG by its bytes, whatever its name", out("plot.dat", pngBytes), false, "image", "image/png", "out/plot.dat"},
		{"named .png, not a PNG", out("fake.png", []byte("hello\n")), false, "text", "text/plain", "out/fake.png"},
		{"named .png, binary", out("fake2.png", binBytes), false, "link", "application/octet-stream", "out/fake2.png"},
		{"SVG as text", out("chart.svg", svgBytes), false, "text", "image/svg+xml", "out/chart.svg"},
		{"small CSV as text", out("result.csv", []byte("a,b\n1,2\n")), false, "text", "text/csv", "out/result.csv"},
		{"JSON as text", out("r.json", []byte(`{"a":1}`)), false, "text", "application/json", "out/r.json"},
		{"text over the text budget", out("long.txt", bytes.Repeat([]byte("x"), 1025)), false, "link", "text/plain", "out/long.txt"},
		{"Latin-1 text", out("latin1.csv", []byte("caf\xe9\n")), false, "link", "text/csv", "out/latin1.csv"},
		{"binary", out("model.bin", binBytes), false, "link", "application/octet-stream", "out/model.bin"},
		{"nested path", out("sub/dir/r.txt", []byte("ok")), false, "text", "text/plain", "out/sub/dir/r.txt"},
		{"a name to escape in URIs", out("my plot #1.png", pngBytes), false, "image", "image/png", "out/my plot #1.png"},
		{"figure", out("figure-1.png", pngBytes), true, "image", "image/png", "figure-1.png"},
		{"figure over the inline bound", out("figure-2.png", bigPNG), true, "link", "image/png", "figure-2.png"},
		{"omitted by the backend", sandbox.OutFile{Path: "huge.csv", Size: 1 << 30, Omitted: "over files.max_out_mb"}, false, "", "text/csv", "out/huge.csv"},
		{"a name that is not UTF-8", out("bad\xffname", []byte("x")), false, "", "application/octet-stream", "out/bad\ufffdname"},
		{"a name that is not clean", out("../escape", []byte("x")), false, "", "application/octet-stream", "out/../escape"},
		{"no content", sandbox.OutFile{Path: "gone.txt", Size: 3}, false, "", "text/plain", "out/gone.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := filestore.New(filestore.Options{TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			r := sandbox.Result{Status: sandbox.StatusOK}
			if tt.figure {
				r.Figures = []sandbox.OutFile{tt.file}
			} else {
				r.Files = []sandbox.OutFile{tt.file}
			}
			tool, err := tools.ExecutePython(p, &sandboxtest.Backend{Result: r}, tools.Sessions{}, store, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			c := call(`{"code":"pass"}`)
			c.Client = "alice"
			res := tool.Handler(context.Background(), c)
			sc := res.StructuredContent.(tools.ExecuteResult)
			entries := sc.Files
			if tt.figure {
				entries = sc.Figures
			}
			if len(entries) != 1 || len(sc.Files)+len(sc.Figures) != 1 {
				t.Fatalf("files %+v figures %+v, want the one entry", sc.Files, sc.Figures)
			}
			e := entries[0]
			if e.Path != tt.wantPath || e.MIME != tt.wantMIME {
				t.Errorf("entry %+v, want path %q, type %q", e, tt.wantPath, tt.wantMIME)
			}
			line := strings.Split(firstText(t, res), "\n")
			if got := line[len(line)-1]; !strings.HasPrefix(got, "[returned] ") || !strings.Contains(got, strconv.Quote(tt.wantPath)) {
				t.Errorf("last text line %q does not name %q", got, tt.wantPath)
			}
			if tt.wantKind == "" {
				if !e.Omitted || e.Reason == "" || e.SHA256 != "" || e.URI != "" || len(res.Content) != 1 {
					t.Errorf("entry %+v with %d content blocks, want omitted with a reason, no hash, no URI, no content", e, len(res.Content))
				}
				return
			}
			if len(res.Content) != 2 {
				t.Fatalf("%d content blocks, want the text and the file's", len(res.Content))
			}
			k, uri, mime := kind(t, res.Content[1])
			if k != tt.wantKind || mime != tt.wantMIME {
				t.Errorf("content is %s of %s, want %s of %s", k, mime, tt.wantKind, tt.wantMIME)
			}
			if uri != "" && uri != e.URI {
				t.Errorf("content URI %q, entry URI %q", uri, e.URI)
			}
			if img, ok := res.Content[1].(mcp.ImageContent); ok {
				if data, err := base64.StdEncoding.DecodeString(img.Data); err != nil || !bytes.Equal(data, tt.file.Data) {
					t.Errorf("image data does not decode to the file: %v", err)
				}
			}
			sum := sha256.Sum256(tt.file.Data)
			if e.SHA256 != hex.EncodeToString(sum[:]) || e.Size != int64(len(tt.file.Data)) || e.Omitted {
				t.Errorf("entry %+v, want size %d and sha256 %x", e, len(tt.file.Data), sum)
			}
			id, key, ok := tools.ParseFileURI(e.URI)
			if !ok || !strings.HasPrefix(e.URI, tools.FilesURIPrefix) {
				t.Fatalf("URI %q does not parse", e.URI)
			}
			f, err := store.Get("alice", id, key)
			if err != nil || !bytes.Equal(f.Data, tt.file.Data) || f.MIME != tt.wantMIME {
				t.Errorf("the caller reads %q as %q %v, want the file", e.URI, f.MIME, err)
			}
			if _, err := store.Get("bob", id, key); err == nil {
				t.Errorf("another identity reads %q", e.URI)
			}
		})
	}
}

// firstText is the text of a result's first content block.
func firstText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) == 0 {
		t.Fatal("no content")
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		t.Fatalf("first content is %T, want text", res.Content[0])
	}
	return tc.Text
}
