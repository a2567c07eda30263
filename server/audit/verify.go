package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Report is what Verify found.
type Report struct {
	// Records counts the records verified: all of them when the chain is
	// intact, those before the break otherwise.
	Records int
	// Head is the hex hash of the last record verified: the head of the
	// log when the chain is intact (ZeroHash for an empty log). Compare
	// it with the head the Writer logged at close to detect a log cut
	// short.
	Head string
}

// BreakError is Verify's error for a log whose chain is broken or whose
// content is not a log: it names the first line that does not verify.
type BreakError struct {
	// Line is the 1-based line number.
	Line int
	// Seq is the line's seq, or 0 when the line could not be decoded.
	Seq uint64
	// Problem says what is wrong and what probably happened.
	Problem string
}

// Error returns e.g. "line 7 (seq 7): prev hash does not match line 6: ...".
func (e *BreakError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Problem)
	}
	return fmt.Sprintf("line %d (seq %d): %s", e.Line, e.Seq, e.Problem)
}

// errLineTooLong is readLine's error for a line over MaxLineBytes.
var errLineTooLong = fmt.Errorf("line longer than %d bytes: not an audit record", MaxLineBytes)

// Verify reads an audit log from r to the end, line by line, and checks its
// chain: every line is one JSON object that decodes into a Record with no
// unknown field; the first record has seq 1 and prev ZeroHash; every other
// record has the seq after the previous one and, as prev, the hash of the
// previous line; the last line ends in a newline. It returns a *BreakError
// naming the first line that fails, with the Report of the lines before it,
// or another error when r cannot be read.
//
// An intact chain shows that no line was edited, inserted, deleted or moved,
// but not that the log is complete: see the package documentation. Compare
// Report.Head with a head recorded elsewhere.
func Verify(r io.Reader) (Report, error) {
	rep := Report{Head: ZeroHash}
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		buf     []byte
		prevSeq uint64
	)
	for lineNo := 1; ; lineNo++ {
		line, complete, err := readLine(br, buf[:0])
		buf = line
		switch {
		case errors.Is(err, errLineTooLong):
			return rep, &BreakError{Line: lineNo, Problem: err.Error()}
		case err != nil && err != io.EOF:
			return rep, fmt.Errorf("audit: read line %d: %w", lineNo, err)
		case len(line) == 0 && !complete: // the end
			return rep, nil
		}
		rec, decodeErr := decodeLine(line)
		if !complete {
			return rep, &BreakError{Line: lineNo, Seq: rec.Seq, Problem: "the last line does not end in a newline: " +
				"it is torn (the writer crashed during a write) or the file was cut in the middle of a line"}
		}
		if len(line) == 0 {
			return rep, &BreakError{Line: lineNo, Problem: "empty line: the writer never writes one, the file was edited"}
		}
		if decodeErr != nil {
			return rep, &BreakError{Line: lineNo, Problem: decodeErr.Error() +
				": the line was edited or damaged, or the file is not an airlock-mcp audit log"}
		}
		if problem := chainProblem(lineNo, rec, prevSeq, rep.Head); problem != "" {
			return rep, &BreakError{Line: lineNo, Seq: rec.Seq, Problem: problem}
		}
		sum := sha256.Sum256(line)
		rep.Head, prevSeq = hex.EncodeToString(sum[:]), rec.Seq
		rep.Records++
	}
}

// chainProblem says why the record on line lineNo does not follow the
// record of seq prevSeq whose line hashes to prevHash, or "" when it does.
// The seq is checked first: a gap or a step back tells a deletion or a
// reordering apart from an edit.
func chainProblem(lineNo int, rec Record, prevSeq uint64, prevHash string) string {
	if lineNo == 1 {
		switch {
		case rec.Seq > 1:
			return fmt.Sprintf("the first record has seq %d, want 1: %s before it, "+
				"or the file is not the beginning of an audit log", rec.Seq, deleted(rec.Seq-1))
		case rec.Seq != 1:
			return fmt.Sprintf("the first record has seq %d, want 1: the line was edited", rec.Seq)
		case rec.Prev != ZeroHash:
			return "the first record's prev is not 64 zeros: records before it were deleted, or the line was edited"
		}
		return ""
	}
	prevLine := lineNo - 1
	switch {
	case rec.Seq > prevSeq+1:
		return fmt.Sprintf("seq jumps from %d (line %d) to %d: %s before this line, or lines were reordered",
			prevSeq, prevLine, rec.Seq, deleted(rec.Seq-prevSeq-1))
	case rec.Seq <= prevSeq:
		return fmt.Sprintf("seq %d after seq %d (line %d): lines were reordered or duplicated, or a record was inserted",
			rec.Seq, prevSeq, prevLine)
	case rec.Prev != prevHash:
		return fmt.Sprintf("prev hash does not match line %d: line %d was edited, or this line was forged or edited, "+
			"or records between them were deleted or moved", prevLine, prevLine)
	}
	return ""
}

// deleted says that n records were deleted.
func deleted(n uint64) string {
	if n == 1 {
		return "1 record was deleted"
	}
	return fmt.Sprintf("%d records were deleted", n)
}

// readLine reads one line from br into buf, without its newline, however
// long it is up to MaxLineBytes. complete is false for a last line without a
// newline; at the end of the input it returns an empty line, false and
// io.EOF.
func readLine(br *bufio.Reader, buf []byte) (line []byte, complete bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > MaxLineBytes+1 {
			return buf, false, errLineTooLong
		}
		buf = append(buf, frag...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, false, err
		}
	}
}

// VerifyFile is Verify of the log at path; errors other than a
// *BreakError name the path.
func VerifyFile(path string) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{Head: ZeroHash}, err
	}
	defer f.Close()
	rep, err := Verify(f)
	if _, broken := errors.AsType[*BreakError](err); err != nil && !broken {
		err = fmt.Errorf("read %s: %w", path, err)
	}
	return rep, err
}
