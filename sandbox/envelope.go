package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// The envelope is the harness's report, one frame on a descriptor of its
// own; package sandbox's documentation ("Harness protocol") describes the
// frame, the nonce it carries, and how far it is trusted. The parser
// guarantees that nothing but the harness's one frame gets in; Finalize
// then lets the process's observed fate outrank it.

// Errors ParseEnvelope returns, wrapped with detail. Details never quote the
// data, which the sandboxed code may have written.
var (
	// ErrNoEnvelope: the channel was empty; the harness never reported.
	ErrNoEnvelope = errors.New("sandbox: no envelope")
	// ErrForgedEnvelope: a frame with the wrong nonce, or more than one frame.
	ErrForgedEnvelope = errors.New("sandbox: forged envelope")
	// ErrMalformedEnvelope: anything else that is not exactly one valid frame.
	ErrMalformedEnvelope = errors.New("sandbox: malformed envelope")
)

const (
	envelopeMagic = "AIRLOCK-ENVELOPE/1 "
	// maxFrameHeader bounds the frame's first line: magic, nonce, length.
	maxFrameHeader = 128
	// maxLenDigits bounds the decimal length field.
	maxLenDigits = 10
)

// maxEnvelopeCeiling is the largest envelope the harness can produce under
// any accepted MaxReprBytes; ParseEnvelope rejects anything larger.
var maxEnvelopeCeiling = envelopeBound(DefaultMaxReprBytes)

// envelopeBound is the largest frame the harness writes when it caps each of
// result, error type, message and traceback at maxRepr UTF-8 bytes: JSON
// escapes a byte into at most 6 ("\u001f"), plus keys, nonce and framing.
func envelopeBound(maxRepr int) int {
	return 4*6*maxRepr + 1024
}

// MaxEnvelopeBytes bounds how much a backend reads from the envelope channel
// for an execution under limits, when it passed ReprLimit(limits) as
// HarnessOptions.MaxReprBytes. See ReadEnvelope.
func MaxEnvelopeBytes(limits Limits) int {
	return envelopeBound(ReprLimit(limits))
}

// ReadEnvelope reads the envelope channel r to EOF, keeping at most limit+1
// bytes (so that ParseEnvelope sees an oversize envelope as malformed) and
// discarding the rest, so the writer never blocks. Use
// MaxEnvelopeBytes(limits) as limit. It returns what it kept, with any read
// error other than EOF.
func ReadEnvelope(r io.Reader, limit int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return data, fmt.Errorf("sandbox: read envelope: %w", err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return data, fmt.Errorf("sandbox: drain envelope channel: %w", err)
	}
	return data, nil
}

// Envelope is the harness's report, trusted only after ParseEnvelope accepts
// it. When Status is StatusOK, ExitCode is 0 and Error is nil; when it is
// StatusError, ExitCode is in 1..255, Error is set and Result is nil.
type Envelope struct {
	Status   Status
	ExitCode int
	// Result is the repr of the final expression, nil when none or None.
	Result *string
	Error  *ErrorInfo
	// Call is the call's number in its session's interpreter, from 1
	// (session mode); 0 for a fresh run, whose harness writes none.
	Call int
}

// maxSessionCall bounds Envelope.Call.
const maxSessionCall = 1<<31 - 1

// ParseEnvelope accepts data only when it is exactly one frame carrying
// nonce, whose declared length matches exactly and whose JSON decodes
// strictly to a consistent envelope. Otherwise it returns an error wrapping
// ErrNoEnvelope, ErrForgedEnvelope or ErrMalformedEnvelope.
func ParseEnvelope(data []byte, nonce string) (Envelope, error) {
	if len(data) == 0 {
		return Envelope{}, ErrNoEnvelope
	}
	if nonce == "" {
		return Envelope{}, fmt.Errorf("%w: no nonce to check against", ErrForgedEnvelope)
	}
	if len(data) > maxEnvelopeCeiling {
		return Envelope{}, malformed("%d bytes exceeds the %d-byte maximum", len(data), maxEnvelopeCeiling)
	}
	if !bytes.HasPrefix(data, []byte(envelopeMagic)) {
		return Envelope{}, malformed("data does not start with a frame header")
	}
	nl := bytes.IndexByte(data[:min(len(data), maxFrameHeader)], '\n')
	if nl < 0 {
		return Envelope{}, malformed("frame header is not terminated within %d bytes", maxFrameHeader)
	}
	fields := bytes.Split(data[len(envelopeMagic):nl], []byte(" "))
	if len(fields) != 2 {
		return Envelope{}, malformed("frame header has %d fields, want 2", len(fields))
	}
	if subtle.ConstantTimeCompare(fields[0], []byte(nonce)) != 1 {
		return Envelope{}, fmt.Errorf("%w: frame nonce does not match", ErrForgedEnvelope)
	}
	n, ok := parseFrameLen(fields[1])
	if !ok {
		return Envelope{}, malformed("frame length is not a decimal of at most %d digits", maxLenDigits)
	}
	body := data[nl+1:]
	if len(body) <= n {
		return Envelope{}, malformed("frame truncated: declared %d bytes, %d follow", n, len(body))
	}
	if body[n] != '\n' {
		return Envelope{}, malformed("frame of %d bytes is not followed by a newline", n)
	}
	if rest := body[n+1:]; len(rest) > 0 {
		if bytes.HasPrefix(rest, []byte("AIRLOCK-ENVELOPE")) {
			return Envelope{}, fmt.Errorf("%w: more than one frame", ErrForgedEnvelope)
		}
		return Envelope{}, malformed("%d bytes of trailing data after the frame", len(rest))
	}
	env, err := decodeEnvelopeJSON(body[:n])
	if err != nil {
		return Envelope{}, err
	}
	return env, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedEnvelope}, args...)...)
}

// parseFrameLen parses a canonical non-negative decimal (no sign, no leading
// zeros) of at most maxLenDigits digits.
func parseFrameLen(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > maxLenDigits || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// envelopeDecoder decodes the envelope JSON token by token, so that every
// rule is explicit: an object with exactly the known keys, each once, each
// of its type, and nothing after it.
type envelopeDecoder struct {
	dec *json.Decoder
}

func decodeEnvelopeJSON(p []byte) (Envelope, error) {
	if !utf8.Valid(p) {
		return Envelope{}, malformed("JSON is not valid UTF-8")
	}
	if hasSurrogateEscape(p) {
		return Envelope{}, malformed("JSON escapes a UTF-16 surrogate")
	}
	d := envelopeDecoder{dec: json.NewDecoder(bytes.NewReader(p))}
	d.dec.UseNumber()
	var (
		env    Envelope
		status string
		seen   = map[string]bool{}
	)
	err := d.object(seen, func(key string) error {
		var err error
		switch key {
		case "status":
			status, err = d.str()
		case "exit_code":
			env.ExitCode, err = d.exitCode()
		case "result":
			env.Result, err = d.nullableStr()
		case "error":
			env.Error, err = d.errorInfo()
		case "call":
			env.Call, err = d.callNumber()
		default:
			err = malformed("unknown field in envelope")
		}
		return err
	})
	if err != nil {
		return Envelope{}, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return Envelope{}, malformed("data after the JSON object")
	}
	for _, k := range []string{"status", "exit_code", "result", "error"} {
		if !seen[k] {
			return Envelope{}, malformed("envelope lacks field %s", k)
		}
	}
	env.Status = Status(status)
	switch env.Status {
	case StatusOK:
		if env.ExitCode != 0 || env.Error != nil {
			return Envelope{}, malformed("status ok with a non-zero exit code or an error")
		}
	case StatusError:
		if env.ExitCode == 0 || env.Error == nil || env.Result != nil {
			return Envelope{}, malformed("status error without a non-zero exit code and an error, or with a result")
		}
		if env.Error.Type == "" {
			return Envelope{}, malformed("error has an empty type")
		}
	default:
		return Envelope{}, malformed("status is neither ok nor error")
	}
	return env, nil
}

// object reads one JSON object, calling field for each key after checking it
// is new; field must consume the value.
func (d envelopeDecoder) object(seen map[string]bool, field func(key string) error) error {
	if err := d.delim('{'); err != nil {
		return err
	}
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return malformed("invalid JSON at offset %d", d.dec.InputOffset())
		}
		key, ok := tok.(string)
		if !ok {
			return malformed("object key is not a string")
		}
		if seen[key] {
			return malformed("duplicate field in envelope")
		}
		seen[key] = true
		if err := field(key); err != nil {
			return err
		}
	}
	return d.delim('}')
}

func (d envelopeDecoder) delim(want json.Delim) error {
	tok, err := d.dec.Token()
	if err != nil {
		return malformed("invalid JSON at offset %d", d.dec.InputOffset())
	}
	if got, ok := tok.(json.Delim); !ok || got != want {
		return malformed("expected %q at offset %d", want, d.dec.InputOffset())
	}
	return nil
}

func (d envelopeDecoder) token() (json.Token, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, malformed("invalid JSON at offset %d", d.dec.InputOffset())
	}
	if _, ok := tok.(json.Delim); ok {
		return nil, malformed("unexpected object or array at offset %d", d.dec.InputOffset())
	}
	return tok, nil
}

func (d envelopeDecoder) str() (string, error) {
	tok, err := d.token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", malformed("expected a string at offset %d", d.dec.InputOffset())
	}
	return s, nil
}

func (d envelopeDecoder) nullableStr() (*string, error) {
	tok, err := d.token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case nil:
		return nil, nil
	case string:
		return &v, nil
	}
	return nil, malformed("expected a string or null at offset %d", d.dec.InputOffset())
}

// exitCode reads an integer literal in 0..255 (a process exit status).
func (d envelopeDecoder) exitCode() (int, error) {
	tok, err := d.token()
	if err != nil {
		return 0, err
	}
	num, ok := tok.(json.Number)
	if !ok {
		return 0, malformed("exit_code is not a number")
	}
	n, err := strconv.Atoi(string(num)) // rejects fractions and exponents
	if err != nil || n < 0 || n > 255 {
		return 0, malformed("exit_code is not an integer in 0..255")
	}
	return n, nil
}

// callNumber reads an integer literal in 1..maxSessionCall.
func (d envelopeDecoder) callNumber() (int, error) {
	tok, err := d.token()
	if err != nil {
		return 0, err
	}
	num, ok := tok.(json.Number)
	if !ok {
		return 0, malformed("call is not a number")
	}
	n, err := strconv.Atoi(string(num))
	if err != nil || n < 1 || n > maxSessionCall {
		return 0, malformed("call is not an integer in 1..%d", maxSessionCall)
	}
	return n, nil
}

func (d envelopeDecoder) errorInfo() (*ErrorInfo, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, malformed("invalid JSON at offset %d", d.dec.InputOffset())
	}
	if tok == nil {
		return nil, nil
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, malformed("error is neither null nor an object")
	}
	var info ErrorInfo
	seen := map[string]bool{}
	for d.dec.More() {
		key, err := d.dec.Token()
		if err != nil {
			return nil, malformed("invalid JSON at offset %d", d.dec.InputOffset())
		}
		k, ok := key.(string)
		if !ok || seen[k] {
			return nil, malformed("bad or duplicate key in error")
		}
		seen[k] = true
		var target *string
		switch k {
		case "type":
			target = &info.Type
		case "message":
			target = &info.Message
		case "traceback":
			target = &info.Traceback
		default:
			return nil, malformed("unknown field in error")
		}
		if *target, err = d.str(); err != nil {
			return nil, err
		}
	}
	if err := d.delim('}'); err != nil {
		return nil, err
	}
	if len(seen) != 3 {
		return nil, malformed("error lacks type, message or traceback")
	}
	return &info, nil
}

// hasSurrogateEscape reports whether valid JSON p contains a \uD800-\uDFFF
// escape. The harness writes non-ASCII text raw, so it never escapes one;
// a lone surrogate would otherwise decode silently to U+FFFD.
func hasSurrogateEscape(p []byte) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '\\' {
			continue
		}
		if i+3 < len(p) && p[i+1] == 'u' && (p[i+2] == 'd' || p[i+2] == 'D') {
			switch p[i+3] {
			case '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', 'A', 'B', 'C', 'D', 'E', 'F':
				return true
			}
		}
		i++ // skip the escaped character, so "\\" cannot pair with what follows
	}
	return false
}
