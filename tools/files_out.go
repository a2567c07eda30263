package tools

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// FilesURIPrefix begins the URI of every returned file:
// airlock://files/<call-id>/<path>.
const FilesURIPrefix = "airlock://files/"

// figuresDir is where, in a call's URIs, its figures are: a file's path
// always begins with out/, so the two never collide.
const figuresDir = "figures"

// FileEntry is one returned file or figure in execute_python's structured
// result.
type FileEntry struct {
	// Path is a file's path relative to the working directory (out/...),
	// or a figure's name.
	Path string `json:"path"`
	// Size is the content's size in bytes as the server counted it (as
	// the sandbox reported it, for an omitted file).
	Size int64 `json:"size"`
	// MIME is the media type the server detected.
	MIME string `json:"mime"`
	// SHA256 is the hex SHA-256 the server computed; "" when omitted.
	SHA256 string `json:"sha256,omitempty"`
	// URI reads the content with resources/read; "" when omitted or not
	// kept.
	URI string `json:"uri,omitempty"`
	// Omitted is true when the content was not returned, Reason why.
	Omitted bool   `json:"omitted,omitempty"`
	Reason  string `json:"reason,omitempty"`

	// shown says, for the text, how the content came back.
	shown string
}

// FileBounds are what the tool returns of a call's files: the policy's
// bounds on their content and on how much comes inline.
type FileBounds struct {
	// Out bounds the files and figures returned (files.max_out_mb and
	// files.max_out_count); the backend applies them too.
	Out sandbox.FileLimits
	// MaxInlineImage is the largest image returned as image content.
	MaxInlineImage int64
	// MaxEmbeddedText bounds the text files embedded in the result, all
	// together (limits.max_output_bytes): past it, text files are links.
	MaxEmbeddedText int64
}

// returned is the files and figures of one call as the tool returns them:
// the structured entries, the content blocks, and the files to keep.
type returned struct {
	files, figures []FileEntry
	content        []mcp.Content
	keep           []filestore.File
	// kept indexes, in files then figures, the entries whose uri depends
	// on the store accepting keep.
	kept []*FileEntry
}

// returnFiles builds what the tool returns of res's files and figures,
// under call id and the bounds b. Every size, type and hash is the
// server's own; paths that could not name a resource are omitted.
func returnFiles(res sandbox.Result, id string, b FileBounds) *returned {
	r := &returned{files: []FileEntry{}, figures: []FileEntry{}}
	budget := budget{count: b.Out.MaxOutCount, bytes: b.Out.MaxOutBytes, text: b.MaxEmbeddedText}
	files := slices.Clone(res.Files)
	slices.SortStableFunc(files, func(x, y sandbox.OutFile) int { return strings.Compare(x.Path, y.Path) })
	seen := map[string]bool{}
	for _, f := range files {
		r.files = append(r.files, r.add(f, sandbox.OutDir+"/"+f.Path, sandbox.OutDir+"/"+f.Path, id, b, &budget, seen))
	}
	for _, f := range res.Figures {
		r.figures = append(r.figures, r.add(f, f.Path, figuresDir+"/"+f.Path, id, b, &budget, seen))
	}
	for i := range r.files {
		if r.files[i].URI != "" {
			r.kept = append(r.kept, &r.files[i])
		}
	}
	for i := range r.figures {
		if r.figures[i].URI != "" {
			r.kept = append(r.kept, &r.figures[i])
		}
	}
	return r
}

// budget is what is left of a call's bounds while its files are added.
type budget struct {
	count int
	bytes int64
	text  int64
}

// add lists f, shown as name and kept under key, and adds its content
// block: an image, an embedded text resource, or a link.
func (r *returned) add(f sandbox.OutFile, name, key, id string, b FileBounds, left *budget, seen map[string]bool) FileEntry {
	e := FileEntry{Path: name, Size: f.Size}
	omit := func(reason string) FileEntry {
		e.MIME, e.Omitted, e.Reason = detectMIME(name, nil), true, reason
		return e
	}
	switch {
	case f.Omitted != "":
		return omit(f.Omitted)
	case !utf8.ValidString(f.Path):
		e.Path = strings.ToValidUTF8(name, "\uFFFD")
		return omit("its name is not valid UTF-8")
	case f.Path == "" || path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "../"):
		return omit("its name is not a clean relative path")
	case seen[key]:
		return omit("listed twice")
	case f.Data == nil:
		return omit("no content came back")
	case left.count <= 0:
		return omit(fmt.Sprintf("more than files.max_out_count (%d) files", b.Out.MaxOutCount))
	case int64(len(f.Data)) > left.bytes:
		return omit(fmt.Sprintf("over files.max_out_mb (%s in all)", sizeText(b.Out.MaxOutBytes)))
	}
	seen[key] = true
	left.count--
	left.bytes -= int64(len(f.Data))
	sum := sha256.Sum256(f.Data)
	e.Size, e.MIME, e.SHA256 = int64(len(f.Data)), detectMIME(name, f.Data), hex.EncodeToString(sum[:])
	e.URI = fileURI(id, key)
	r.keep = append(r.keep, filestore.File{Path: key, MIME: e.MIME, Data: f.Data})
	c, shown := contentOf(e, f.Data, b, left)
	r.content, e.shown = append(r.content, c), shown
	return e
}

// contentOf is the content block of a returned file: an image up to the
// inline bound as image content (PNG, JPEG, GIF, WebP, by its bytes); an
// SVG up to that bound, or a text file while the text budget lasts, as an
// embedded text resource; anything else as a resource link. shown says
// which, for the text.
func contentOf(e FileEntry, data []byte, b FileBounds, left *budget) (c mcp.Content, shown string) {
	size := int64(len(data))
	switch {
	case inlineImageTypes[e.MIME] && size <= b.MaxInlineImage:
		return mcp.NewImageContent(base64.StdEncoding.EncodeToString(data), e.MIME), "shown below as an image"
	case e.MIME == svgType && size <= b.MaxInlineImage && utf8.Valid(data):
		return mcp.NewEmbeddedResource(mcp.TextResourceContents{URI: e.URI, MIMEType: e.MIME, Text: string(data)}), "shown below as SVG text"
	case e.MIME != svgType && textual(e.MIME) && utf8.Valid(data) && size <= left.text:
		left.text -= size
		return mcp.NewEmbeddedResource(mcp.TextResourceContents{URI: e.URI, MIMEType: e.MIME, Text: string(data)}), "shown below as text"
	}
	link := mcp.NewResourceLink(e.URI, e.Path, "Returned by execute_python ("+sizeText(size)+"); read it with resources/read.", e.MIME)
	link.Size = &size
	return link, "link " + e.URI
}

// fileURI is the URI of the file kept under key in call id; each name of
// key is percent-encoded.
func fileURI(id, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return FilesURIPrefix + id + "/" + strings.Join(segs, "/")
}

// ParseFileURI splits a URI made by fileURI into the call id and the key
// the file is kept under; ok is false for any other URI.
func ParseFileURI(uri string) (id, key string, ok bool) {
	rest, found := strings.CutPrefix(uri, FilesURIPrefix)
	if !found {
		return "", "", false
	}
	id, escaped, found := strings.Cut(rest, "/")
	if !found || id == "" || escaped == "" {
		return "", "", false
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || strings.Contains(u, "/") {
			return "", "", false
		}
		segs[i] = u
	}
	return id, strings.Join(segs, "/"), true
}

// notKept marks the entries that were to be read by their uri as not
// kept, with reason: their content was not stored. An image or text
// shown inline stays shown; a link is useless and is dropped.
func (r *returned) notKept(reason string) {
	for _, e := range r.kept {
		e.URI, e.Reason = "", reason
		if strings.HasPrefix(e.shown, "link ") {
			e.shown = reason
		}
	}
	content := r.content[:0]
	for _, c := range r.content {
		if _, link := c.(mcp.ResourceLink); !link {
			content = append(content, c)
		}
	}
	r.content = content
}

// filesLine is the one line of text naming every returned file and
// figure, with its type and size and how it came back, or "" when there
// are none. Names are quoted: they are the code's output.
func (r *returned) filesLine() string {
	if len(r.files) == 0 && len(r.figures) == 0 {
		return ""
	}
	describe := func(es []FileEntry) string {
		parts := make([]string, len(es))
		for i, e := range es {
			if e.Omitted {
				parts[i] = quoteName(e.Path) + " (not returned: " + e.Reason + ")"
				continue
			}
			parts[i] = quoteName(e.Path) + " (" + e.MIME + ", " + sizeText(e.Size) + ", " + e.shown + ")"
		}
		return strings.Join(parts, "; ")
	}
	var sections []string
	if len(r.files) > 0 {
		sections = append(sections, "files: "+describe(r.files))
	}
	if len(r.figures) > 0 {
		sections = append(sections, "figures: "+describe(r.figures))
	}
	return "[returned] " + strings.Join(sections, " | ")
}
