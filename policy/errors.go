package policy

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a policy: where it is and what is wrong.
type Problem struct {
	// File is the policy file's name as given to Load or Parse; "" for a
	// policy checked with Validate.
	File string
	// Line is the 1-based line in File; 0 when unknown.
	Line int
	// Pointer is the JSON pointer of the offending key or value ("/" for
	// the whole document); "" when the problem has no place in the
	// document (a syntax error).
	Pointer string
	// Message says what is wrong, e.g. "maximum: got 9000, want 3600".
	Message string
}

// String formats p as "policy.yaml:7: /limits/max_timeout_s: maximum: got
// 9000, want 3600", leaving out the parts p lacks.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Pointer != "" {
		b.WriteString(p.Pointer)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// LoadError is a policy that could not be accepted: a syntax error, schema
// violations, or failed semantic checks. It carries every problem found, so
// an operator can fix them all at once. Load, Parse and Validate return it.
type LoadError struct {
	// Problems are the problems found, in the order of the document where
	// that order is known; never empty.
	Problems []Problem
}

// Error is the human text: one problem per line.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
