package modal

import (
	"bytes"
	"io"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// splitter takes the exec's stderr stream as it arrives and separates the
// harness's envelope from the code's own output. The envelope is the frame
//
//	AIRLOCK-ENVELOPE/1 <nonce> <len>\n<len bytes>\n
//
// preceded, when the call returns files, by the files frame
// "AIRLOCK-FILES/1 <nonce> <len>\n<len bytes>\n" (sandbox.SplitFiles takes
// it off again), and only a frame carrying this call's nonce counts: its
// bytes go to the envelope, everything else to stderr. The split happens before stderr is
// capped, so no amount of output can hide or cut the envelope; a frame with
// another nonce is just output; a second frame with the nonce is kept with
// the first, so that sandbox.ParseEnvelope refuses both as forged.
//
// It is an io.Writer for one goroutine; call Close at the end of the stream.
type splitter struct {
	marker []byte    // the envelope frame's start: magic and nonce
	files  []byte    // the files frame's start
	stderr io.Writer // where everything else goes
	limit  int       // the longest envelope frame: sandbox.MaxEnvelopeBytes
	// filesLimit is the longest files frame: sandbox.MaxFilesFrameBytes.
	filesLimit int
	env        []byte // the frames' bytes kept, at most limit+filesLimit+1
	// frameLimit is the longest body of the frame being read.
	frameLimit int
	// onFrame, when not nil, is called each time a whole frame carrying
	// the nonce has been routed to the envelope.
	onFrame func()
	// onEnvelope, when not nil, is called once the envelope frame carrying
	// the nonce has arrived whole (it comes after any files frame).
	onEnvelope func()
	inEnvelope bool // the frame being read is the envelope frame

	state splitState
	carry []byte // in scan: trailing bytes that may begin a marker
	hdr   []byte // in header: the length digits so far
	left  int    // in body: bytes of the frame still to come
}

type splitState int

const (
	scan   splitState = iota // looking for a marker
	header                   // reading the frame's length
	body                     // routing the frame's body to the envelope
)

// maxLenDigits bounds the frame's length field, as sandbox.ParseEnvelope does.
const maxLenDigits = 10

func newSplitter(nonce string, stderr io.Writer, limit int) *splitter {
	return &splitter{
		marker: []byte("AIRLOCK-ENVELOPE/1 " + nonce + " "),
		files:  []byte("AIRLOCK-FILES/1 " + nonce + " "),
		stderr: stderr,
		limit:  limit,
	}
}

// newFilesSplitter is newSplitter for a call that returns files under fl.
func newFilesSplitter(nonce string, stderr io.Writer, limits sandbox.Limits, fl sandbox.FileLimits) *splitter {
	s := newSplitter(nonce, stderr, sandbox.MaxEnvelopeBytes(limits))
	s.filesLimit = sandbox.MaxFilesFrameBytes(fl)
	return s
}

// Write routes p. It never fails: a writer that cannot keep up must not
// stall the stream.
func (s *splitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		switch s.state {
		case scan:
			p = s.scan(p)
		case header:
			p = s.readHeader(p)
		case body:
			k := min(s.left, len(p))
			s.keep(p[:k])
			s.left -= k
			p = p[k:]
			if s.left == 0 {
				s.state = scan
				if s.onFrame != nil {
					s.onFrame()
				}
				if s.inEnvelope && s.onEnvelope != nil {
					s.onEnvelope()
				}
			}
		}
	}
	return n, nil
}

// scan passes output through up to a marker and returns what follows it.
func (s *splitter) scan(p []byte) []byte {
	data := p
	if len(s.carry) > 0 {
		data = append(s.carry, p...)
		s.carry = nil
	}
	marker, limit := s.marker, s.limit
	i := bytes.Index(data, marker)
	if s.filesLimit > 0 {
		if j := bytes.Index(data, s.files); j >= 0 && (i < 0 || j < i) {
			i, marker, limit = j, s.files, s.filesLimit
		}
	}
	if i < 0 {
		k := partialMarker(data, s.marker)
		if s.filesLimit > 0 {
			k = max(k, partialMarker(data, s.files))
		}
		_, _ = s.stderr.Write(data[:len(data)-k])
		s.carry = append([]byte(nil), data[len(data)-k:]...)
		return nil
	}
	_, _ = s.stderr.Write(data[:i])
	s.inEnvelope = bytes.Equal(marker, s.marker)
	s.keep(marker)
	s.state, s.hdr, s.frameLimit = header, s.hdr[:0], limit
	return data[i+len(marker):]
}

// readHeader collects the length digits and the newline after them. A
// malformed header is kept in the envelope as it is (so that it fails to
// parse) and scanning resumes.
func (s *splitter) readHeader(p []byte) []byte {
	for i, c := range p {
		switch {
		case c >= '0' && c <= '9' && len(s.hdr) < maxLenDigits:
			s.hdr = append(s.hdr, c)
		case c == '\n' && len(s.hdr) > 0:
			s.keep(s.hdr)
			s.keep([]byte{'\n'})
			n, ok := atoiBounded(s.hdr, s.frameLimit)
			if !ok {
				// Longer than any envelope: what is kept is already
				// malformed; the rest is output.
				s.state = scan
				return p[i+1:]
			}
			s.state, s.left = body, n+1 // the body and its newline
			if s.left == 0 {
				s.state = scan
			}
			return p[i+1:]
		default:
			s.keep(s.hdr)
			s.keep(p[i : i+1])
			s.state = scan
			return p[i+1:]
		}
	}
	return nil
}

// atoiBounded parses decimal digits, reporting whether the value is at
// most limit.
func atoiBounded(digits []byte, limit int) (int, bool) {
	n := 0
	for _, c := range digits {
		n = n*10 + int(c-'0')
		if n > limit {
			return 0, false
		}
	}
	return n, true
}

// keep appends b to the envelope, up to limit+1 bytes: one byte more than
// the largest envelope, so an oversize one stays recognisably malformed.
func (s *splitter) keep(b []byte) {
	if room := s.limit + s.filesLimit + 1 - len(s.env); room > 0 {
		s.env = append(s.env, b[:min(room, len(b))]...)
	}
}

// Close ends the stream: bytes held back as a possible marker are output.
func (s *splitter) Close() error {
	if len(s.carry) > 0 {
		_, _ = s.stderr.Write(s.carry)
		s.carry = nil
	}
	return nil
}

// Envelope returns the envelope bytes found, nil when none.
func (s *splitter) Envelope() []byte { return s.env }

// partialMarker is the length of the longest suffix of data that is a
// proper prefix of marker: bytes that may be the start of a marker split
// across writes.
func partialMarker(data, marker []byte) int {
	for k := min(len(data), len(marker)-1); k > 0; k-- {
		if bytes.HasSuffix(data, marker[:k]) {
			return k
		}
	}
	return 0
}
