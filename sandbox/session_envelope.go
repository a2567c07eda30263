package sandbox

import (
	"bytes"
	"sync"
)

// SessionEnvelope collects what a session call's envelope channel carries
// and tells when the harness's frame has arrived. A session's interpreter
// outlives the call, and processes the code forked may hold the channel
// open, so its end of file cannot mark the end of the call: a whole frame
// carrying the call's nonce does (Complete), or the end of file when every
// holder has closed it. It keeps the first bytes up to its bound and one
// more, for SplitFiles and ParseEnvelope, as ReadEnvelope does, and scans for the frame in bounded memory, however
// much the code floods the channel. It is an io.Writer that never fails;
// safe for concurrent use.
type SessionEnvelope struct {
	mu     sync.Mutex
	prefix []byte // "AIRLOCK-ENVELOPE/1 <nonce> "
	limit  int    // the longest envelope frame
	keep   int    // bytes kept: limit, and the files frame's bound
	kept   []byte // the first keep+1 bytes, for SplitFiles and ParseEnvelope
	// window holds the bytes a frame not yet complete may span: at most
	// the last limit+maxFrameHeader bytes once more have arrived.
	window []byte
	// scanned is where in window the search for prefix resumes; start is
	// where a frame carrying the nonce begins (-1: none found yet).
	scanned, start int
	complete       bool
}

// NewSessionEnvelope returns a collector for the call whose nonce is nonce;
// limit is MaxEnvelopeBytes of its limits.
func NewSessionEnvelope(nonce string, limit int) *SessionEnvelope {
	return &SessionEnvelope{prefix: []byte(envelopeMagic + nonce + " "), limit: limit, keep: limit, start: -1}
}

// NewSessionChannel is NewSessionEnvelope for a call that may return files
// under fl: it keeps the files frame that comes before the envelope too
// (MaxChannelBytes), while it looks for the envelope as
// NewSessionEnvelope does.
func NewSessionChannel(nonce string, limits Limits, fl FileLimits) *SessionEnvelope {
	e := NewSessionEnvelope(nonce, MaxEnvelopeBytes(limits))
	e.keep = MaxChannelBytes(limits, fl)
	return e
}

// Write records p. It always returns len(p), nil.
func (e *SessionEnvelope) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if room := e.keep + 1 - len(e.kept); room > 0 {
		e.kept = append(e.kept, p[:min(room, len(p))]...)
	}
	if e.complete {
		return len(p), nil
	}
	e.window = append(e.window, p...)
	e.scan()
	if keep := e.limit + maxFrameHeader; !e.complete && len(e.window) > 2*keep {
		e.trim(len(e.window) - keep)
	}
	return len(p), nil
}

// scan advances the search for a whole frame carrying the nonce.
func (e *SessionEnvelope) scan() {
	for {
		if e.start < 0 {
			i := bytes.Index(e.window[e.scanned:], e.prefix)
			if i < 0 {
				e.scanned = max(len(e.window)-len(e.prefix)+1, e.scanned)
				return
			}
			e.start = e.scanned + i
		}
		header := e.window[e.start+len(e.prefix):]
		nl := bytes.IndexByte(header[:min(len(header), maxLenDigits+1)], '\n')
		if nl < 0 {
			if len(header) <= maxLenDigits {
				return // the length is still arriving
			}
		} else if n, ok := parseFrameLen(header[:nl]); ok {
			e.complete = len(header) >= nl+1+n+1
			return
		}
		// Not a frame header after all: search on past it.
		e.scanned, e.start = e.start+1, -1
	}
}

// trim drops the first n bytes of the window.
func (e *SessionEnvelope) trim(n int) {
	if e.start >= 0 && e.start < n {
		e.start = -1 // a frame that long cannot be the harness's
	}
	e.window = append(e.window[:0], e.window[n:]...)
	e.scanned = max(e.scanned-n, 0)
	if e.start >= 0 {
		e.start -= n
	}
}

// Complete reports whether a whole frame carrying the nonce has arrived.
func (e *SessionEnvelope) Complete() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.complete
}

// Bytes returns what SplitFiles and ParseEnvelope are to judge: the
// channel's first bytes, up to its bound and one more.
func (e *SessionEnvelope) Bytes() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]byte(nil), e.kept...)
}
