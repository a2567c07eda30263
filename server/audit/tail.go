package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// tailChunk is how much lastLine reads at a time, backwards from the end.
const tailChunk = 64 << 10

// lastLine's errors about the content of the file.
var (
	errTorn            = errors.New("does not end in a newline")
	errLastLineTooLong = fmt.Errorf("the last line is longer than %d bytes", MaxLineBytes)
)

// lastLine returns the last line of the size bytes of r, without its
// newline, reading backwards from the end in chunks: it reads only the tail
// of the file, however large the file is. It returns nil for an empty file,
// errTorn when the last byte is not a newline.
func lastLine(r io.ReaderAt, size int64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	// tail holds the bytes from pos to the end of the file.
	var tail []byte
	pos := size
	for {
		n := min(int64(tailChunk), pos)
		pos -= n
		chunk := make([]byte, n, int(n)+len(tail))
		if _, err := r.ReadAt(chunk, pos); err != nil {
			return nil, fmt.Errorf("read the end of the file: %w", err)
		}
		firstChunk := tail == nil
		tail = append(chunk, tail...)
		if firstChunk && tail[len(tail)-1] != '\n' {
			return nil, errTorn
		}
		// The newline that ends the line before the last one, or the
		// start of the file.
		line, found := tail[:len(tail)-1], false
		if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
			line, found = line[i+1:], true
		}
		if len(line) > MaxLineBytes {
			return nil, errLastLineTooLong
		}
		if found || pos == 0 {
			return line, nil
		}
	}
}
