package sandbox

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The wire forms of files (see "Files" in the package documentation): the
// files block that carries InFiles to the harness with the code, and the
// files frame in which the harness returns what the code left, ahead of
// its envelope on the envelope channel.

const (
	// MaxFilePathBytes bounds a file's path, in and out.
	MaxFilePathBytes = 1024
	// MaxOmittedListed is how many entries are listed Omitted, besides
	// the FileLimits.MaxOutCount that may come back with their content;
	// entries beyond are not listed.
	MaxOmittedListed = 64
	// MaxInFilesBytes bounds the files block of one call (paths and
	// content); the harness refuses a larger one.
	MaxInFilesBytes = 256 << 20
	// filesMagic starts the files frame.
	filesMagic = "AIRLOCK-FILES/1 "
	// maxEntryHeader bounds one entry's header line in the files frame.
	maxEntryHeader = 80
)

// ResultImageName is the name of the figure a PIL image as the final
// expression comes back as; matplotlib's figures are "figure-<number>.png".
const ResultImageName = "result.png"

// CheckInPath says why p cannot name an InFile: it must be valid UTF-8
// without NUL bytes, at most MaxFilePathBytes, relative and clean (no
// "..", ".", empty part or trailing slash).
func CheckInPath(p string) error {
	switch {
	case p == "":
		return errors.New("the path is empty")
	case !utf8.ValidString(p) || strings.ContainsRune(p, 0):
		return errors.New("the path is not valid UTF-8 without NUL bytes")
	case len(p) > MaxFilePathBytes:
		return fmt.Errorf("the path is longer than %d bytes", MaxFilePathBytes)
	case strings.HasPrefix(p, "/"):
		return errors.New("the path is absolute; give one relative to the working directory")
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return errors.New("the path is not clean: no '..', '.', empty parts or trailing slash")
	}
	return nil
}

// encodeInFiles is the files block of files: for each, a line
// "<path_len> <data_len>\n", then the path and the content.
func encodeInFiles(files []InFile) ([]byte, error) {
	size := 0
	for _, f := range files {
		if err := CheckInPath(f.Path); err != nil {
			return nil, fmt.Errorf("sandbox: file %q: %w", f.Path, err)
		}
		size += len(f.Path) + len(f.Data) + 24
	}
	if size > MaxInFilesBytes {
		return nil, fmt.Errorf("sandbox: the files of one call take %d bytes, over the %d a call carries", size, MaxInFilesBytes)
	}
	block := make([]byte, 0, size)
	for _, f := range files {
		block = strconv.AppendInt(block, int64(len(f.Path)), 10)
		block = append(block, ' ')
		block = strconv.AppendInt(block, int64(len(f.Data)), 10)
		block = append(block, '\n')
		block = append(append(block, f.Path...), f.Data...)
	}
	return block, nil
}

// checkFileLimits refuses negative bounds.
func checkFileLimits(fl FileLimits) error {
	if fl.MaxOutBytes < 0 || fl.MaxOutCount < 0 {
		return fmt.Errorf("sandbox: file limits must not be negative, got %+v", fl)
	}
	return nil
}

// MaxFilesFrameBytes bounds the files frame the harness writes under fl:
// the content, and each entry listed with the longest path and header.
// 0 when fl returns nothing.
func MaxFilesFrameBytes(fl FileLimits) int {
	if fl.MaxOutCount <= 0 {
		return 0
	}
	entries := int64(fl.MaxOutCount) + MaxOmittedListed
	return int(fl.MaxOutBytes + entries*(maxEntryHeader+MaxFilePathBytes) + maxFrameHeader + 1)
}

// MaxChannelBytes bounds what a backend keeps of the envelope channel of
// a call under limits and fl: the files frame, then the envelope.
func MaxChannelBytes(limits Limits, fl FileLimits) int {
	return MaxEnvelopeBytes(limits) + MaxFilesFrameBytes(fl)
}

// SplitFiles takes the files frame carrying nonce off the front of what
// the envelope channel carried: files is its payload (nil when there is
// none), envelope the rest, for Finalize. A frame header that is not
// well formed is left in place, where ParseEnvelope refuses it.
func SplitFiles(channel []byte, nonce string) (envelope, files []byte) {
	if !bytes.HasPrefix(channel, []byte(filesMagic)) || nonce == "" {
		return channel, nil
	}
	nl := bytes.IndexByte(channel[:min(len(channel), maxFrameHeader)], '\n')
	if nl < 0 {
		return channel, nil
	}
	fields := bytes.Split(channel[len(filesMagic):nl], []byte(" "))
	if len(fields) != 2 || subtle.ConstantTimeCompare(fields[0], []byte(nonce)) != 1 {
		return channel, nil
	}
	n, ok := parseFrameLen(fields[1])
	body := channel[nl+1:]
	if !ok || len(body) <= n || body[n] != '\n' {
		return channel, nil
	}
	return body[n+1:], body[:n]
}

// ParseFiles reads a files frame's payload, checking every bound of fl
// again and trusting no size the sandbox claims: at most MaxOutCount
// entries with content, of at most MaxOutBytes in all, each Size equal to
// its content's length; at most MaxOmittedListed more listed Omitted; each
// path valid and listed once.
func ParseFiles(payload []byte, fl FileLimits) (files, figures []OutFile, err error) {
	var total int64
	content, omitted := 0, 0
	seen := map[string]bool{}
	for len(payload) > 0 {
		nl := bytes.IndexByte(payload[:min(len(payload), maxEntryHeader)], '\n')
		if nl < 0 {
			return nil, nil, errors.New("an entry's header is not terminated")
		}
		f := bytes.Split(payload[:nl], []byte(" "))
		if len(f) != 5 {
			return nil, nil, errors.New("an entry's header does not have 5 fields")
		}
		size, ok1 := parseFrameLen(f[2])
		dataLen, ok2 := parseFrameLen(f[3])
		pathLen, ok3 := parseFrameLen(f[4])
		rest := payload[nl+1:]
		if !ok1 || !ok2 || !ok3 || pathLen > MaxFilePathBytes || pathLen+dataLen > len(rest) {
			return nil, nil, errors.New("an entry's lengths are malformed or run past the frame")
		}
		p := string(rest[:pathLen])
		out := OutFile{Path: p, Size: int64(size)}
		if err := checkOutPath(p, string(f[0])); err != nil {
			return nil, nil, fmt.Errorf("an entry's path is invalid: %w", err)
		}
		if seen[string(f[0])+"/"+p] {
			return nil, nil, errors.New("an entry is listed twice")
		}
		seen[string(f[0])+"/"+p] = true
		reason := string(f[1])
		if reason == "-" {
			if size != dataLen {
				return nil, nil, errors.New("an entry's size is not the length of its content")
			}
			content++
			total += int64(dataLen)
			out.Data = bytes.Clone(rest[pathLen : pathLen+dataLen])
		} else {
			if out.Omitted = omittedReasons[reason]; out.Omitted == "" || dataLen != 0 {
				return nil, nil, errors.New("an omitted entry has an unknown reason or content")
			}
			omitted++
		}
		if content > fl.MaxOutCount || total > fl.MaxOutBytes || omitted > MaxOmittedListed {
			return nil, nil, errors.New("the entries exceed the file limits")
		}
		if string(f[0]) == "figure" {
			figures = append(figures, out)
		} else {
			files = append(files, out)
		}
		payload = rest[pathLen+dataLen:]
	}
	return files, figures, nil
}

// omittedReasons maps the harness's reason words to OutFile.Omitted.
var omittedReasons = map[string]string{
	"bytes":      "over files.max_out_mb",
	"count":      "more than files.max_out_count files",
	"type":       "not a regular file",
	"name":       "its name is not valid UTF-8",
	"unreadable": "it could not be read",
}

// checkOutPath says why p cannot be the path of an entry of kind.
func checkOutPath(p, kind string) error {
	switch kind {
	case "file":
		return CheckInPath(p)
	case "figure":
		if p == ResultImageName {
			return nil
		}
		n, ok := strings.CutSuffix(strings.TrimPrefix(p, "figure-"), ".png")
		if v, err := strconv.Atoi(n); !ok || !strings.HasPrefix(p, "figure-") || err != nil || v < 0 || strconv.Itoa(v) != n {
			return errors.New("not a figure's name")
		}
		return nil
	}
	return errors.New("unknown kind")
}

// AddFiles puts the files and figures of a files frame's payload into
// res. A payload that breaks a rule (only code that tampered with the
// harness's channel writes one) returns nothing, and says so in res.
func AddFiles(res *Result, payload []byte, fl FileLimits) {
	if payload == nil {
		return
	}
	files, figures, err := ParseFiles(payload, fl)
	if err == nil {
		res.Files, res.Figures = files, figures
		return
	}
	note := "the files and figures the code left could not be returned: the harness's result channel was tampered with (" + err.Error() + ")"
	if res.Error == nil {
		res.Status = StatusError
		res.Error = &ErrorInfo{Type: "EnvelopeError", Message: note}
		return
	}
	info := *res.Error
	info.Message += "; " + note
	res.Error = &info
}
