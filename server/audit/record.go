package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// ZeroHash is the prev of the first record of a log: 64 zeros.
var ZeroHash = strings.Repeat("0", 64)

// The values of [Record.Decision].
const (
	// DecisionAllowed: the policy let the call run.
	DecisionAllowed = "allowed"
	// DecisionDenied: the policy refused the call; Reason says why.
	DecisionDenied = "denied"
)

const (
	// MaxHostsDenied caps [NetworkSummary.HostsDenied]: the Writer keeps
	// the first MaxHostsDenied entries.
	MaxHostsDenied = 16

	// MaxFieldBytes caps every string of a record: the Writer cuts a longer
	// string (at a UTF-8 boundary, adding "…"), so that every line it
	// writes stays far below MaxLineBytes.
	MaxFieldBytes = 4096

	// MaxLineBytes is the longest line Verify and Open accept, newline
	// excluded. A line the Writer writes is at most a few tens of
	// kilobytes; a longer one means the file is not an audit log.
	MaxLineBytes = 1 << 20
)

// Record is one line of the audit log: one tool call, allowed or denied.
// Field order is the order of the line's JSON fields.
type Record struct {
	// Seq numbers the records of a log from 1, without gaps. The Writer
	// assigns it; a value set by the caller is ignored.
	Seq uint64 `json:"seq"`
	// Time is when the call was received, in UTC (RFC 3339 with up to
	// nanoseconds). The Writer fills in the current time when it is zero.
	Time time.Time `json:"time"`
	// Client identifies the caller: the bearer token's name over HTTP,
	// "stdio:" and the local user's name on stdio, or "anonymous".
	Client string `json:"client"`
	// Session is the MCP session id, or "" when there is none.
	Session string `json:"session"`
	// Tool is the name of the tool called.
	Tool string `json:"tool"`
	// PythonSession is the Python session the call named (execute_python's
	// or end_session's session argument); empty, and omitted, for a call
	// in a fresh sandbox.
	PythonSession string `json:"python_session,omitempty"`
	// CodeSHA256 is the hex SHA-256 of the code argument (see SHA256Hex).
	CodeSHA256 string `json:"code_sha256"`
	// CodeBytes is the size of the code argument in bytes.
	CodeBytes int `json:"code_bytes"`
	// PolicyVersion is the version field of the policy in force.
	PolicyVersion int `json:"policy_version"`
	// PolicySHA256 is the hex SHA-256 identifying the policy in force.
	PolicySHA256 string `json:"policy_sha256"`
	// Decision is DecisionAllowed or DecisionDenied.
	Decision string `json:"decision"`
	// Reason is the one-sentence reason of a denial; empty, and omitted,
	// when the call was allowed.
	Reason string `json:"reason,omitempty"`
	// Backend is the sandbox backend ("local", "modal").
	Backend string `json:"backend"`
	// SandboxID identifies the sandbox that ran the call, or "".
	SandboxID string `json:"sandbox_id"`
	// Status is the outcome (ok, error, timeout, killed, denied, cancelled,
	// busy, ...); the audit package does not interpret it.
	Status string `json:"status"`
	// ExitCode is the process's exit code, or nil (null) when there is none.
	ExitCode *int `json:"exit_code"`
	// DurationMS is the wall-clock duration of the call in milliseconds.
	DurationMS float64 `json:"duration_ms"`
	// Network summarizes the call's network activity; nil (omitted) when
	// the call had no network ledger.
	Network *NetworkSummary `json:"network,omitempty"`
	// OutputSHA256 is the hex SHA-256 of the result bytes returned to the
	// client, computed by the caller or, when empty, by HashOutput.
	OutputSHA256 string `json:"output_sha256"`
	// HashOutput, when set and OutputSHA256 is empty, computes OutputSHA256
	// on the Writer's goroutine, which keeps encoding and hashing a large
	// result off the call's path. It must read only data that nobody
	// changes after Write.
	HashOutput func() string `json:"-"`
	// Prev is the hex SHA-256 of the previous line's bytes as written,
	// without its newline; ZeroHash for the first record of a log. The
	// Writer assigns it; a value set by the caller is ignored.
	Prev string `json:"prev"`
}

// NetworkSummary is the network activity of one call.
type NetworkSummary struct {
	// Attempts counts the connections the code tried.
	Attempts int `json:"attempts"`
	// Allowed counts the connections the policy allowed.
	Allowed int `json:"allowed"`
	// Denied counts the connections the policy refused.
	Denied int `json:"denied"`
	// BytesOut counts the bytes sent.
	BytesOut int64 `json:"bytes_out"`
	// BytesIn counts the bytes received.
	BytesIn int64 `json:"bytes_in"`
	// HostsDenied lists destinations refused, at most MaxHostsDenied of
	// them; [] when none.
	HostsDenied []string `json:"hosts_denied"`
}

// SHA256Hex returns the hex SHA-256 of b, the form of the record's hash
// fields.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// clone returns a copy of r that shares no memory with it, so that the
// caller may reuse r's pointers once Write returns.
func (r Record) clone() Record {
	if r.ExitCode != nil {
		code := *r.ExitCode
		r.ExitCode = &code
	}
	if r.Network != nil {
		n := *r.Network
		hosts := n.HostsDenied[:min(len(n.HostsDenied), MaxHostsDenied)]
		n.HostsDenied = append(make([]string, 0, len(hosts)), hosts...) // [], not null, when none
		r.Network = &n
	}
	return r
}

// normalize makes r encodable and bounded: the time in UTC (now when zero),
// a finite duration, strings cut to MaxFieldBytes.
func (r *Record) normalize(now func() time.Time) {
	if r.Time.IsZero() || r.Time.Year() > 9999 || r.Time.Year() < 0 {
		r.Time = now()
	}
	r.Time = r.Time.UTC()
	if math.IsNaN(r.DurationMS) || math.IsInf(r.DurationMS, 0) {
		r.DurationMS = 0
	}
	for _, s := range []*string{&r.Client, &r.Session, &r.Tool, &r.CodeSHA256, &r.PolicySHA256,
		&r.Decision, &r.Reason, &r.Backend, &r.SandboxID, &r.Status, &r.OutputSHA256} {
		*s = capString(*s)
	}
	if r.Network != nil {
		for i := range r.Network.HostsDenied {
			r.Network.HostsDenied[i] = capString(r.Network.HostsDenied[i])
		}
	}
}

// capString cuts s to at most MaxFieldBytes bytes, at a rune boundary,
// marking the cut with "…".
func capString(s string) string {
	if len(s) <= MaxFieldBytes {
		return s
	}
	const mark = "…"
	cut := MaxFieldBytes - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// newEncoder returns the encoder of the Writer's lines: HTML characters
// are not escaped, so the lines read as they are. Encode ends each line
// with "\n".
func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// errNotJSON marks a line that is not JSON at all.
var errNotJSON = errors.New("not valid JSON")

// decodeLine decodes one line into a Record strictly: one JSON object,
// every field known.
func decodeLine(line []byte) (Record, error) {
	var r Record
	if !json.Valid(line) {
		// Unmarshal says where the JSON goes wrong.
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return r, fmt.Errorf("%w (%s)", errNotJSON, strings.TrimPrefix(err.Error(), "json: "))
		}
		return r, errNotJSON
	}
	if t := bytes.TrimLeft(line, " \t\r"); len(t) == 0 || t[0] != '{' {
		return r, errors.New("not an audit record: not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("not an audit record: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return r, nil
}
