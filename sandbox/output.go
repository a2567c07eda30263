package sandbox

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// OutputBuffer captures one output stream of a sandbox (stdout or stderr)
// with bounded memory: it keeps the first half of its limit and, in a ring,
// the last half, and counts everything else as omitted. It is an io.Writer
// that never fails and never blocks on its reader, so the sandboxed process
// can always make progress (the wall-clock limit, not a full pipe, ends a
// chatty process). It is safe for concurrent use.
type OutputBuffer struct {
	mu      sync.Mutex
	headCap int
	tailCap int
	head    []byte // the first bytes written, up to headCap
	tail    []byte // the latest bytes after head; a ring once len == tailCap
	next    int    // in a full ring, the index of the oldest byte
	total   int64
}

// NewOutputBuffer returns a buffer that keeps at most limit bytes (a
// negative limit counts as 0).
func NewOutputBuffer(limit int) *OutputBuffer {
	limit = max(limit, 0)
	return &OutputBuffer{headCap: limit / 2, tailCap: limit - limit/2}
}

// Write records p. It always returns len(p), nil.
func (b *OutputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	b.total += int64(n)
	if room := b.headCap - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = appendBounded(b.head, p[:k], b.headCap)
		p = p[k:]
	}
	b.writeTail(p)
	return n, nil
}

func (b *OutputBuffer) writeTail(p []byte) {
	if len(p) == 0 || b.tailCap == 0 {
		return
	}
	if len(p) >= b.tailCap { // p alone fills the ring
		if cap(b.tail) < b.tailCap {
			b.tail = make([]byte, 0, b.tailCap)
		}
		b.tail = append(b.tail[:0], p[len(p)-b.tailCap:]...)
		b.next = 0
		return
	}
	if room := b.tailCap - len(b.tail); room > 0 { // still filling
		k := min(room, len(p))
		b.tail = appendBounded(b.tail, p[:k], b.tailCap)
		p = p[k:]
	}
	for len(p) > 0 { // full: overwrite the oldest bytes
		k := copy(b.tail[b.next:], p)
		p = p[k:]
		b.next = (b.next + k) % b.tailCap
	}
}

// appendBounded appends p to s, growing s's capacity geometrically but never
// beyond limit (len(s)+len(p) must not exceed limit).
func appendBounded(s, p []byte, limit int) []byte {
	if need := len(s) + len(p); need > cap(s) {
		grown := make([]byte, len(s), min(max(2*cap(s), need, 4096), limit))
		copy(grown, s)
		s = grown
	}
	return append(s, p...)
}

// Truncated reports whether more was written than the buffer keeps.
func (b *OutputBuffer) Truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.truncated()
}

func (b *OutputBuffer) truncated() bool {
	return b.total > int64(b.headCap+b.tailCap)
}

// Total is the number of bytes written, kept or not.
func (b *OutputBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// String returns the output as valid UTF-8, invalid bytes replaced by
// U+FFFD. When output was cut it is head + "\n… [N bytes omitted] …\n" +
// tail, at most the limit in bytes before replacement, with any UTF-8
// sequence split by a cut dropped (and counted in N).
func (b *OutputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	tail := make([]byte, 0, len(b.tail))
	tail = append(append(tail, b.tail[b.next:]...), b.tail[:b.next]...)
	if !b.truncated() {
		return strings.ToValidUTF8(string(b.head)+string(tail), "\uFFFD")
	}
	// The marker's length is bounded using total, which no omitted count exceeds.
	budget := max(b.headCap+b.tailCap-len(omittedMarker(b.total)), 0)
	head := trimPartialEnd(b.head[:min(len(b.head), budget/2)])
	keep := min(len(tail), budget-budget/2)
	tail = trimPartialStart(tail[len(tail)-keep:])
	omitted := b.total - int64(len(head)) - int64(len(tail))
	return strings.ToValidUTF8(string(head), "\uFFFD") + omittedMarker(omitted) +
		strings.ToValidUTF8(string(tail), "\uFFFD")
}

func omittedMarker(n int64) string {
	return "\n… [" + strconv.FormatInt(n, 10) + " bytes omitted] …\n"
}

// trimPartialEnd drops an incomplete UTF-8 sequence that a cut left at the
// end of b.
func trimPartialEnd(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// trimPartialStart drops the continuation bytes that a cut left at the start
// of b (at most three: more cannot belong to one sequence).
func trimPartialStart(b []byte) []byte {
	n := 0
	for n < len(b) && n < utf8.UTFMax-1 && !utf8.RuneStart(b[n]) {
		n++
	}
	return b[n:]
}
