package tools

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// maxSegmentBytes is the longest name of one directory or file in a path
// (Linux's NAME_MAX).
const maxSegmentBytes = 255

// fileArg is one entry of execute_python's files argument, as sent.
type fileArg struct {
	Path, Content, Encoding string
}

// fileError is an entry of the files argument that cannot be written: its
// index and path, and the rule it breaks. Limit, when not "", names the
// policy limit it is over (a refusal by the policy, not a bad argument).
type fileError struct {
	Index int
	Path  string
	Limit string
	Rule  string
}

// Error is the sentence the model reads.
func (e *fileError) Error() string {
	what := "Invalid file for execute_python"
	if e.Limit != "" {
		what = "Refused by the operator's policy"
	}
	return what + ": files[" + strconv.Itoa(e.Index) + "] (" + quoteName(e.Path) + "): " + e.Rule
}

// fileArgsOf reads the files argument from a call's decoded arguments:
// nil when absent; an error when it is not a list of {path, content,
// encoding} objects (the input schema refuses these before the handler).
func fileArgsOf(v any) ([]fileArg, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the arguments are %T, not an object", v)
	}
	var list []any
	switch l := m["files"].(type) {
	case nil:
		return nil, nil
	case []any:
		list = l
	default:
		return nil, fmt.Errorf("files is %T, not a list", l)
	}
	out := make([]fileArg, len(list))
	for i, item := range list {
		o, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("files[%d] is %T, not an object", i, item)
		}
		for _, f := range []struct {
			key string
			to  *string
		}{{"path", &out[i].Path}, {"content", &out[i].Content}, {"encoding", &out[i].Encoding}} {
			switch s := o[f.key].(type) {
			case nil:
			case string:
				*f.to = s
			default:
				return nil, fmt.Errorf("files[%d].%s is %T, not a string", i, f.key, s)
			}
		}
	}
	return out, nil
}

// inFiles checks the files argument against the rules and the policy p,
// and decodes it into the files the backend writes. The first entry that
// breaks a rule is a *fileError naming it.
func inFiles(args []fileArg, p *policy.Policy) ([]sandbox.InFile, error) {
	if len(args) == 0 {
		return nil, nil
	}
	maxBytes := p.MaxInBytes()
	out := make([]sandbox.InFile, 0, len(args))
	seen := make(map[string]int, len(args))
	var total int64
	for i, a := range args {
		if i == p.Files.MaxInCount {
			return nil, &fileError{Index: i, Path: a.Path, Limit: "files.max_in_count", Rule: fmt.Sprintf(
				"more than files.max_in_count (%d) files in one call; send at most %d, or put them in one archive (zip or tar) and unpack it in the code.",
				p.Files.MaxInCount, p.Files.MaxInCount)}
		}
		if rule := pathProblem(a.Path); rule != "" {
			return nil, &fileError{Index: i, Path: a.Path, Rule: rule}
		}
		if rule := clash(a.Path, i, args, seen); rule != "" {
			return nil, &fileError{Index: i, Path: a.Path, Rule: rule}
		}
		seen[a.Path] = i
		data, rule := decodeContent(a)
		if rule != "" {
			return nil, &fileError{Index: i, Path: a.Path, Rule: rule}
		}
		total += int64(len(data))
		if total > maxBytes {
			return nil, &fileError{Index: i, Path: a.Path, Limit: "files.max_in_mb", Rule: fmt.Sprintf(
				"the files up to this one come to %s, more than the %s one call may carry (files.max_in_mb); send less, or compress it (gzip or zip, base64-encoded) and decompress it in the code.",
				sizeText(total), sizeText(maxBytes))}
		}
		out = append(out, sandbox.InFile{Path: a.Path, Data: data})
	}
	return out, nil
}

// pathProblem says which rule p breaks as the path of a file written
// under the working directory, or "".
func pathProblem(p string) string {
	switch {
	case p == "" || p == ".":
		return "the path names no file; give a path relative to the working directory /work, e.g. \"data.csv\"."
	case strings.HasPrefix(p, "/"):
		return "the path is absolute; give it relative to the working directory /work, e.g. " + quoteName(suggest(p)) + "."
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return "the path contains a control character; use printable names."
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "the path has a \"..\" segment; give a path inside the working directory /work, without \"..\"."
		}
		if len(seg) > maxSegmentBytes {
			return fmt.Sprintf("a name in the path is longer than %d bytes; use shorter names.", maxSegmentBytes)
		}
	}
	if c := path.Clean(p); c != p {
		return "the path is not in clean form; write " + quoteName(c) + "."
	}
	if p == sandbox.OutDir || strings.HasPrefix(p, sandbox.OutDir+"/") {
		return "the path is under out/, where the code leaves the files it returns (a file written there would come back unchanged); put it elsewhere, e.g. " +
			quoteName(suggest(strings.TrimPrefix(p, sandbox.OutDir+"/"))) + "."
	}
	return ""
}

// suggest is a relative path to offer for p: its last name.
func suggest(p string) string {
	if b := path.Base(p); b != "/" && b != "." && b != ".." {
		return b
	}
	return "data.csv"
}

// clash says how the path of args[i] collides with an earlier entry (the
// same path, or one of them a directory of the other), or "". seen maps
// each earlier path to its index.
func clash(p string, i int, args []fileArg, seen map[string]int) string {
	if j, ok := seen[p]; ok {
		return fmt.Sprintf("the same path as files[%d]; give each file a path of its own.", j)
	}
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		if j, ok := seen[dir]; ok {
			return fmt.Sprintf("files[%d] (%s) is a file, so it cannot also be a directory; rename one of them.", j, quoteName(dir))
		}
	}
	for j := range i {
		if strings.HasPrefix(args[j].Path, p+"/") {
			return fmt.Sprintf("files[%d] (%s) is inside it, so it must be a directory; rename one of them.", j, quoteName(args[j].Path))
		}
	}
	return ""
}

// decodeContent is the bytes of a, or which rule its content breaks.
func decodeContent(a fileArg) ([]byte, string) {
	switch a.Encoding {
	case "", "text":
		return []byte(a.Content), ""
	case "base64":
		data, err := base64.StdEncoding.DecodeString(a.Content)
		if err == nil {
			return data, ""
		}
		if raw, rawErr := base64.RawStdEncoding.DecodeString(a.Content); rawErr == nil {
			return raw, "" // unpadded
		}
		where := ""
		var corrupt base64.CorruptInputError
		if errors.As(err, &corrupt) {
			where = " (at byte " + strconv.FormatInt(int64(corrupt), 10) + ")"
		}
		return nil, "content is not valid base64" + where + "; encode the bytes in standard base64 (base64.b64encode), or send text with encoding \"text\"."
	default:
		return nil, "encoding " + strconv.Quote(a.Encoding) + " is not \"text\" or \"base64\"."
	}
}

// maxNameInText bounds a name as the text shows it.
const maxNameInText = 200

// quoteName is name quoted for a line of text, so that no character of it
// (a newline, a quote) can pass for the text around it; a long name is cut.
func quoteName(name string) string {
	if len(name) > maxNameInText {
		cut := maxNameInText
		for cut > 0 && !utf8RuneStart(name[cut]) {
			cut--
		}
		return strconv.Quote(name[:cut]) + "…"
	}
	return strconv.Quote(name)
}

// utf8RuneStart reports whether b can begin a UTF-8 sequence.
func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// sizeText formats n bytes for people: "512 B", "12.5 KiB", "3.2 MiB".
func sizeText(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	default:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	}
}
