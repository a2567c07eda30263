package tools

import (
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"
)

// The image types a client is given as image content, decided by the
// bytes (net/http's sniffing), never by the name: a file named .png whose
// bytes are not a PNG is not sent as one.
var inlineImageTypes = map[string]bool{
	"image/png":  true,
	"image/jpeg": true,
	"image/gif":  true,
	"image/webp": true,
}

// svgType is SVG's media type; an SVG is returned as text.
const svgType = "image/svg+xml"

// detectMIME is the media type of a file named name with content data,
// from the content and the name, with the standard library: the sniffed
// type when it is specific (an image, a PDF, an archive), else the type
// the extension names when the content agrees with it (text for a text
// type, anything for a binary one), else the sniffed type. Parameters
// (charset) are left out. With data nil (a file whose content did not
// come back) the name alone decides.
func detectMIME(name string, data []byte) string {
	byName := typeByExtension(name)
	if data == nil {
		if byName == "" {
			return "application/octet-stream"
		}
		return byName
	}
	sniffed := bare(http.DetectContentType(data))
	if inlineImageTypes[sniffed] {
		return sniffed
	}
	isText := sniffed == "text/plain" && utf8.Valid(data)
	switch {
	case byName == "":
	case textual(byName) && isText:
		return byName
	case !textual(byName) && !strings.HasPrefix(sniffed, "text/") && !inlineImageTypes[byName]:
		// A binary type by name over generic or container bytes
		// (application/zip for .xlsx, octet-stream for .parquet).
		return byName
	case byName == svgType && strings.HasPrefix(sniffed, "text/") && utf8.Valid(data):
		return byName
	}
	if strings.HasPrefix(sniffed, "text/") && !utf8.Valid(data) {
		if textual(byName) { // text in another encoding (Latin-1)
			return byName
		}
		return "application/octet-stream"
	}
	return sniffed
}

// typeByExtension is the media type the name's extension stands for, or
// "".
func typeByExtension(name string) string {
	return bare(mime.TypeByExtension(strings.ToLower(path.Ext(name))))
}

// bare is a media type without its parameters.
func bare(t string) string {
	t, _, _ = strings.Cut(t, ";")
	return strings.TrimSpace(t)
}

// textual reports whether media type t is text a model can read.
func textual(t string) bool {
	switch {
	case strings.HasPrefix(t, "text/"):
		return true
	case t == "application/json", t == "application/xml", t == "application/javascript",
		t == "application/x-ndjson", t == "application/yaml", t == "application/toml", t == svgType,
		strings.HasSuffix(t, "+json"), strings.HasSuffix(t, "+xml"):
		return true
	}
	return false
}

// IsText reports whether a file of media type t with content data reads
// as text: a text type, in UTF-8.
func IsText(t string, data []byte) bool { return textual(t) && utf8.Valid(data) }
