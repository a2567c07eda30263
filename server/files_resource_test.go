package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// binaryOut is a returned file only a resource link carries.
var binaryOut = append([]byte{0, 0xff, 0xfe}, bytes.Repeat([]byte{0}, 1000)...)

// filesResult is a result returning a binary file and a small text file.
func filesResult() sandbox.Result {
	r := okResult()
	r.Files = []sandbox.OutFile{
		{Path: "model.bin", Size: int64(len(binaryOut)), Data: binaryOut},
		{Path: "notes.txt", Size: 2, Data: []byte("hi")},
	}
	return r
}

// fileURIs calls execute_python as who and returns the URIs of its files
// by path, from the structured content, as a client reads it.
func fileURIs(t *testing.T, c *client.Client, who string) map[string]string {
	t.Helper()
	res, err := callTool(as(who), c, `{"code":"pass"}`)
	if err != nil || res.IsError {
		t.Fatalf("call as %q: %v %+v", who, err, res)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var sc struct {
		Files []tools.FileEntry `json:"files"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	uris := map[string]string{}
	for _, f := range sc.Files {
		uris[f.Path] = f.URI
	}
	return uris
}

func readResource(ctx context.Context, c *client.Client, uri string) (*mcp.ReadResourceResult, error) {
	var req mcp.ReadResourceRequest
	req.Params.URI = uri
	return c.ReadResource(ctx, req)
}

// TestFilesResourcePerIdentity: a returned file is read by the identity
// that made the call, as a blob or as text, with the hash the result
// listed; another identity, a caller without one, a missing file and a
// file past its time to live all get the same "not found"; the template
// is listed for discovery.
func TestFilesResourcePerIdentity(t *testing.T) {
	clock := newFakeClock()
	store, err := filestore.New(filestore.Options{TTL: time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Policy: policy.Default(), Backend: &sandboxtest.Backend{Result: filesResult()}, Version: "test", Files: store})
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, s, mcp.LATEST_PROTOCOL_VERSION)

	templates, err := c.ListResourceTemplates(context.Background(), mcp.ListResourceTemplatesRequest{})
	if err != nil || len(templates.ResourceTemplates) != 1 || templates.ResourceTemplates[0].URITemplate.Raw() != "airlock://files/{call}/{+path}" {
		t.Fatalf("resource templates %+v %v, want airlock://files/{call}/{+path}", templates, err)
	}

	uris := fileURIs(t, c, "alice")
	bin, txt := uris["out/model.bin"], uris["out/notes.txt"]
	got, err := readResource(as("alice"), c, bin)
	if err != nil || len(got.Contents) != 1 {
		t.Fatalf("alice reads %s: %+v %v", bin, got, err)
	}
	blob, ok := got.Contents[0].(mcp.BlobResourceContents)
	data, _ := base64.StdEncoding.DecodeString(blob.Blob)
	sum := sha256.Sum256(data)
	if want := sha256.Sum256(binaryOut); !ok || sum != want || blob.MIMEType != "application/octet-stream" || blob.URI != bin {
		t.Errorf("alice read %+v (sha256 %s), want the file as a blob", got.Contents[0], hex.EncodeToString(sum[:]))
	}
	if got, err := readResource(as("alice"), c, txt); err != nil || got.Contents[0].(mcp.TextResourceContents).Text != "hi" {
		t.Errorf("alice reads %s: %+v %v, want the text", txt, got, err)
	}

	notFound := func(who, uri string) string {
		t.Helper()
		_, err := readResource(as(who), c, uri)
		if err == nil {
			t.Fatalf("%q reads %s", who, uri)
		}
		return strings.ReplaceAll(err.Error(), uri, "URI")
	}
	want := notFound("alice", strings.Replace(bin, "model.bin", "nothing.bin", 1))
	if !strings.Contains(want, "resource not found") {
		t.Errorf("a missing file: %q, want it to say not found", want)
	}
	for _, tt := range []struct{ who, uri string }{
		{"bob", bin},
		{"", bin}, // no identity: the anonymous client
		{"alice", tools.FilesURIPrefix + "00000000000000000000000000000000/out/model.bin"},
	} {
		if got := notFound(tt.who, tt.uri); got != want {
			t.Errorf("%q reading %s: %q, want the same as a missing file: %q", tt.who, tt.uri, got, want)
		}
	}
	if _, err := readResource(as("alice"), c, tools.FilesURIPrefix+"garbage"); err == nil || !strings.Contains(err.Error(), "resource not found") {
		t.Errorf("a URI that names no file: %v, want not found", err)
	}
	clock.Advance(time.Hour)
	if got := notFound("alice", bin); got != want {
		t.Errorf("alice reading past the TTL: %q, want %q", got, want)
	}
}

// TestFilesResourceOverHTTP: over streamable HTTP with the official
// client, each token is its own identity: alice reads the file her call
// returned, with the listed hash; bob, with a valid token, gets not found.
func TestFilesResourceOverHTTP(t *testing.T) {
	tokens, err := LoadTokens(writeTokens(t, "alice "+aliceToken+"\nbob "+bobToken+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	transport := NewHTTPTransport(newServer(t, &sandboxtest.Backend{Result: filesResult()}, nil), HTTPOptions{Tokens: tokens})
	ts := httptest.NewServer(transport)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		transport.Shutdown(ctx)
		ts.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session := func(token string) *sdk.ClientSession {
		t.Helper()
		c := sdk.NewClient(&sdk.Implementation{Name: "files-test", Version: "1"}, nil)
		s, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: ts.URL + StreamablePath,
			HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}}}, nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	alice, bob := session(aliceToken), session(bobToken)
	res, err := alice.CallTool(ctx, &sdk.CallToolParams{Name: tools.ExecutePythonName, Arguments: map[string]any{"code": "pass"}})
	if err != nil || res.IsError {
		t.Fatalf("tools/call: %+v %v", res, err)
	}
	var link *sdk.ResourceLink
	for _, c := range res.Content {
		if l, ok := c.(*sdk.ResourceLink); ok {
			link = l
		}
	}
	if link == nil || !strings.HasPrefix(link.URI, tools.FilesURIPrefix) {
		t.Fatalf("content %+v, want a resource link to the binary file", res.Content)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var sc struct {
		Files []tools.FileEntry `json:"files"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil || len(sc.Files) != 2 || sc.Files[0].URI != link.URI {
		t.Fatalf("structured files %s, want the link's URI first", raw)
	}
	read, err := alice.ReadResource(ctx, &sdk.ReadResourceParams{URI: link.URI})
	if err != nil || len(read.Contents) != 1 {
		t.Fatalf("alice reads %s: %+v %v", link.URI, read, err)
	}
	sum := sha256.Sum256(read.Contents[0].Blob)
	if hex.EncodeToString(sum[:]) != sc.Files[0].SHA256 {
		t.Errorf("alice read content with sha256 %x, the result listed %s", sum, sc.Files[0].SHA256)
	}
	if _, err := bob.ReadResource(ctx, &sdk.ReadResourceParams{URI: link.URI}); err == nil || !strings.Contains(err.Error(), "resource not found") {
		t.Errorf("bob reads alice's file: %v, want not found", err)
	}
}

// TestHTTPBodyCarriesTheFiles: the HTTP body bound the policy gives lets
// through a call carrying files up to files.max_in_mb, even text whose
// JSON escapes double it, and the files reach the backend.
func TestHTTPBodyCarriesTheFiles(t *testing.T) {
	p := policy.Default()
	p.Limits.MaxCodeBytes, p.Files.MaxInMB = 1024, 2
	fb := &sandboxtest.Backend{Result: okResult()}
	s, err := New(Options{Policy: p, Backend: fb, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := LoadTokens(writeTokens(t, "alice "+aliceToken+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	transport := NewHTTPTransport(s, HTTPOptions{Tokens: tokens, MaxBodyBytes: MaxBodyBytesFor(p)})
	ts := httptest.NewServer(transport)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		transport.Shutdown(ctx)
		ts.Close()
	})
	lines := strings.Repeat("\n", 2<<20-100) // each newline is two bytes of JSON
	args, _ := json.Marshal(map[string]any{"code": "print(1)", "files": []map[string]any{
		{"path": "lines.txt", "content": lines},
		{"path": "blob.bin", "content": base64.StdEncoding.EncodeToString(make([]byte, 90)), "encoding": "base64"},
	}})
	body := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"execute_python","arguments":` + string(args) + `}}`
	session := initialize(t, ts, aliceToken)
	code, resp := send(t, mcpRequest(t, ts, http.MethodPost, aliceToken, session, legacyVersion, body))
	if code != http.StatusOK || !strings.Contains(resp, `"status":"ok"`) {
		t.Fatalf("tools/call with %d bytes of body: %d %s", len(body), code, short(resp))
	}
	reqs := fb.Requests()
	if len(reqs) != 1 || len(reqs[0].Files) != 2 || len(reqs[0].Files[0].Data) != len(lines) {
		t.Fatalf("backend got %d calls, want one with both files", len(reqs))
	}
}
