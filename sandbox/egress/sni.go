package egress

import (
	"errors"
	"fmt"
	"io"
)

// A TLS ClientHello is read from the tunnel before anything is relayed, so
// the server name (SNI) it asks for can be compared with the CONNECT host:
// without the check, a tunnel to an allowed name at a shared front (a CDN)
// could carry a handshake for any other name the front serves.

const (
	// recordHandshake is the TLS record content type of handshake messages.
	recordHandshake = 22
	// handshakeClientHello is the handshake message type of a ClientHello.
	handshakeClientHello = 1
	// extServerName is the server_name extension (RFC 6066).
	extServerName = 0
	// maxRecordLen is the largest TLS plaintext record body.
	maxRecordLen = 1 << 14
	// maxHelloBytes bounds the bytes read for one ClientHello, record
	// headers included. Real hellos are well under 8 KiB even with
	// post-quantum key shares.
	maxHelloBytes = 64 << 10
)

// errNotTLS is returned when the first bytes are not a TLS handshake record.
var errNotTLS = errors.New("the data is not a TLS handshake record")

// clientHello is what the proxy needs from a TLS ClientHello.
type clientHello struct {
	// raw holds every byte read: the records carrying the hello, to be
	// forwarded upstream unchanged.
	raw []byte
	// serverName is the host_name of the server_name extension; hasSNI
	// says whether there was one.
	serverName string
	hasSNI     bool
}

// readClientHello reads the records carrying one TLS ClientHello from r and
// parses its server name. A hello may span several records. It returns
// io.EOF when r ends before its first byte, errNotTLS (wrapped) when the
// data does not start like a TLS handshake record, and another error for a
// malformed, truncated or oversized hello. It never reads beyond the
// records carrying the hello.
func readClientHello(r io.Reader) (*clientHello, error) {
	h := &clientHello{}
	var msg []byte // the handshake message so far
	for {
		var hdr [5]byte
		if n, err := io.ReadFull(r, hdr[:]); err != nil {
			if len(h.raw) == 0 && n == 0 && err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("the ClientHello ended early: %w", noEOF(err))
		}
		h.raw = append(h.raw, hdr[:]...)
		if hdr[0] != recordHandshake || hdr[1] != 3 {
			if len(msg) == 0 {
				return nil, errNotTLS
			}
			return nil, errors.New("the ClientHello is interrupted by a record that is not a handshake record")
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if n == 0 || n > maxRecordLen {
			return nil, fmt.Errorf("a TLS record has an invalid length %d", n)
		}
		if len(h.raw)+n > maxHelloBytes {
			return nil, fmt.Errorf("the ClientHello is larger than %d bytes", maxHelloBytes)
		}
		start := len(h.raw)
		h.raw = append(h.raw, make([]byte, n)...)
		if _, err := io.ReadFull(r, h.raw[start:]); err != nil {
			return nil, fmt.Errorf("the ClientHello ended early: %w", noEOF(err))
		}
		msg = append(msg, h.raw[start:]...)
		if len(msg) < 4 {
			continue
		}
		if msg[0] != handshakeClientHello {
			return nil, fmt.Errorf("the first handshake message has type %d, not ClientHello", msg[0])
		}
		mlen := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
		if 4+mlen > maxHelloBytes {
			return nil, fmt.Errorf("the ClientHello is larger than %d bytes", maxHelloBytes)
		}
		if len(msg) < 4+mlen {
			continue
		}
		if len(msg) > 4+mlen {
			return nil, errors.New("the ClientHello's record carries more than the ClientHello")
		}
		name, has, err := parseClientHello(msg[4:])
		if err != nil {
			return nil, err
		}
		h.serverName, h.hasSNI = name, has
		return h, nil
	}
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: inside a hello, an end is
// always unexpected.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseClientHello parses the body of a ClientHello handshake message
// (after its 4-byte header) and returns its SNI host_name. It is as strict
// as crypto/tls about the parts it reads: the extensions block must be
// consumed exactly, an extension may not repeat, the server name list may
// not be empty, hold an empty name, two host_names or a name ending in a
// dot.
func parseClientHello(b []byte) (name string, has bool, err error) {
	bad := func(what string) (string, bool, error) {
		return "", false, errors.New("malformed ClientHello: " + what)
	}
	s := reader(b)
	if !s.skip(2+32) || !s.skipPrefixed8() {
		return bad("bad version, random or session id")
	}
	if !s.skipPrefixed16() || !s.skipPrefixed8() {
		return bad("bad cipher suites or compression methods")
	}
	if len(s) == 0 {
		return "", false, nil // no extensions at all
	}
	exts, ok := s.prefixed16()
	if !ok || len(s) != 0 {
		return bad("bad extensions block")
	}
	seen := make(map[uint16]bool)
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		data, ok2 := exts.prefixed16()
		if !ok1 || !ok2 {
			return bad("bad extension")
		}
		if seen[typ] {
			return bad(fmt.Sprintf("extension %d appears twice", typ))
		}
		seen[typ] = true
		if typ != extServerName {
			continue
		}
		list, ok := data.prefixed16()
		if !ok || len(data) != 0 || len(list) == 0 {
			return bad("bad server_name extension")
		}
		for len(list) > 0 {
			nameType, ok1 := list.u8()
			n, ok2 := list.prefixed16()
			if !ok1 || !ok2 || len(n) == 0 {
				return bad("bad server name entry")
			}
			if nameType != 0 {
				continue // not a host_name
			}
			if has {
				return bad("two host names in server_name")
			}
			if n[len(n)-1] == '.' {
				return bad("server name ends with a dot")
			}
			name, has = string(n), true
		}
	}
	return name, has, nil
}

// reader is a tiny cursor over bytes for parsing TLS structures; each
// method reports false, consuming nothing useful, when the data is short.
type reader []byte

func (r *reader) skip(n int) bool {
	if len(*r) < n {
		return false
	}
	*r = (*r)[n:]
	return true
}

func (r *reader) u8() (byte, bool) {
	if len(*r) < 1 {
		return 0, false
	}
	v := (*r)[0]
	*r = (*r)[1:]
	return v, true
}

func (r *reader) u16() (uint16, bool) {
	if len(*r) < 2 {
		return 0, false
	}
	v := uint16((*r)[0])<<8 | uint16((*r)[1])
	*r = (*r)[2:]
	return v, true
}

func (r *reader) prefixed16() (reader, bool) {
	n, ok := r.u16()
	if !ok || len(*r) < int(n) {
		return nil, false
	}
	v := (*r)[:n]
	*r = (*r)[n:]
	return v, true
}

func (r *reader) skipPrefixed8() bool {
	n, ok := r.u8()
	return ok && r.skip(int(n))
}

func (r *reader) skipPrefixed16() bool {
	_, ok := r.prefixed16()
	return ok
}
