package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// rechain renumbers lines[from:] and recomputes their prev, as someone
// rebuilding the chain after an edit would.
func rechain(t *testing.T, lines [][]byte, from int) [][]byte {
	t.Helper()
	for i := from; i < len(lines); i++ {
		r, err := decodeLine(lines[i])
		if err != nil {
			t.Fatal(err)
		}
		r.Seq, r.Prev = uint64(i+1), ZeroHash
		if i > 0 {
			r.Prev = SHA256Hex(lines[i-1])
		}
		lines[i] = marshalLine(t, r)
	}
	return lines
}

// marshalLine encodes r as the Writer would, without the newline.
func marshalLine(t *testing.T, r Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := newEncoder(&buf).Encode(r); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestVerifyDetectsTampering(t *testing.T) {
	path, _ := writeLog(t, 10)
	original := readLines(t, path)
	// edit returns the file's content after changing a copy of the lines.
	edit := func(f func(lines [][]byte) [][]byte) []byte {
		return joinLines(f(slices.Clone(original)))
	}
	tests := []struct {
		name     string
		content  []byte
		wantLine int
		wantSeq  uint64
		want     string
	}{
		{"a middle line edited", edit(func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`"status":"ok"`), []byte(`"status":"error"`), 1)
			return l
		}), 6, 6, "prev hash does not match line 5: line 5 was edited"},
		{"a middle line deleted", edit(func(l [][]byte) [][]byte { return slices.Delete(l, 4, 5) }),
			5, 6, "seq jumps from 4 (line 4) to 6: 1 record was deleted before this line"},
		{"three middle lines deleted", edit(func(l [][]byte) [][]byte { return slices.Delete(l, 3, 6) }),
			4, 7, "seq jumps from 3 (line 3) to 7: 3 records were deleted before this line"},
		{"two lines swapped", edit(func(l [][]byte) [][]byte { l[3], l[4] = l[4], l[3]; return l }),
			4, 5, "seq jumps from 3 (line 3) to 5: 1 record was deleted before this line, or lines were reordered"},
		{"a line duplicated", edit(func(l [][]byte) [][]byte { return slices.Insert(l, 5, l[4]) }),
			6, 5, "seq 5 after seq 5 (line 5): lines were reordered or duplicated"},
		{"the first line deleted", edit(func(l [][]byte) [][]byte { return l[1:] }),
			1, 2, "the first record has seq 2, want 1: 1 record was deleted before it"},
		{"the first record's prev changed", edit(func(l [][]byte) [][]byte {
			l[0] = bytes.Replace(l[0], []byte(ZeroHash), []byte(SHA256Hex(nil)), 1)
			return l
		}), 1, 1, "the first record's prev is not 64 zeros"},
		{"a forged line inserted, the chain after it rebuilt", edit(func(l [][]byte) [][]byte {
			forged := testRecord(42)
			forged.Seq, forged.Prev = 6, SHA256Hex([]byte("not line 5"))
			l = slices.Insert(l, 5, marshalLine(t, forged))
			return rechain(t, l, 6)
		}), 6, 6, "prev hash does not match line 5"},
		{"a torn last line", func() []byte {
			b := joinLines(original)
			return b[:len(b)-30]
		}(), 10, 0, "the last line does not end in a newline"},
		{"a complete last line without its newline", bytes.TrimSuffix(joinLines(original), []byte("\n")),
			10, 10, "the last line does not end in a newline"},
		{"invalid JSON", edit(func(l [][]byte) [][]byte { l[2] = l[2][:40]; return l }),
			3, 0, "not valid JSON (unexpected end of JSON input): the line was edited or damaged"},
		{"an unknown field", edit(func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`{"seq":3,`), []byte(`{"seq":3,"admin":true,`), 1)
			return l
		}), 3, 0, `not an audit record: unknown field "admin"`},
		{"a JSON value that is not an object", edit(func(l [][]byte) [][]byte { l[2] = []byte(`[3]`); return l }),
			3, 0, "not an audit record: not a JSON object"},
		{"a field of the wrong type", edit(func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`"seq":3`), []byte(`"seq":"3"`), 1)
			return l
		}), 3, 0, "not an audit record: cannot unmarshal string"},
		{"an empty line", edit(func(l [][]byte) [][]byte { return slices.Insert(l, 7, []byte{}) }),
			8, 0, "empty line"},
		{"a line longer than MaxLineBytes", edit(func(l [][]byte) [][]byte {
			return slices.Insert(l, 1, bytes.Repeat([]byte("x"), MaxLineBytes+1))
		}), 2, 0, "line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(bytes.NewReader(tt.content))
			var be *BreakError
			if !errors.As(err, &be) {
				t.Fatalf("Verify = %+v, %v; want a *BreakError", rep, err)
			}
			t.Log(err)
			if be.Line != tt.wantLine || be.Seq != tt.wantSeq || !strings.Contains(be.Problem, tt.want) {
				t.Errorf("got line %d seq %d %q\nwant line %d seq %d, problem containing %q",
					be.Line, be.Seq, be.Problem, tt.wantLine, tt.wantSeq, tt.want)
			}
			if rep.Records != tt.wantLine-1 {
				t.Errorf("Report.Records = %d, want the %d lines before the break", rep.Records, tt.wantLine-1)
			}
			wantPrefix := fmt.Sprintf("line %d", tt.wantLine)
			if tt.wantSeq != 0 {
				wantPrefix = fmt.Sprintf("line %d (seq %d): ", tt.wantLine, tt.wantSeq)
			}
			if !strings.HasPrefix(err.Error(), wantPrefix) {
				t.Errorf("message %q, want it to start with %q", err, wantPrefix)
			}
		})
	}
}

func TestVerifyIntactLogs(t *testing.T) {
	path, head := writeLog(t, 10)
	lines := readLines(t, path)
	tests := []struct {
		name        string
		content     []byte
		wantRecords int
		wantHead    string
	}{
		{"as written", joinLines(lines), 10, head},
		{"empty", nil, 0, ZeroHash},
		// What a hash chain without a key cannot show on its own: the
		// last line cut off, or the chain rebuilt after an edit. Both
		// change the head.
		{"the last line cut off", joinLines(lines[:9]), 9, SHA256Hex(lines[8])},
		{"an edit with the chain rebuilt after it", func() []byte {
			l := slices.Clone(lines)
			l[4] = bytes.Replace(l[4], []byte(`"status":"ok"`), []byte(`"status":"error"`), 1)
			l = rechain(t, l, 5)
			return joinLines(l)
		}(), 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(bytes.NewReader(tt.content))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.Records != tt.wantRecords {
				t.Errorf("Records = %d, want %d", rep.Records, tt.wantRecords)
			}
			if tt.wantHead != "" && rep.Head != tt.wantHead {
				t.Errorf("Head = %s, want %s", rep.Head, tt.wantHead)
			}
			if tt.wantRecords > 0 && tt.name != "as written" && rep.Head == head {
				t.Errorf("Head = the writer's head %s, want it changed", head)
			}
		})
	}
}

// Lines longer than the reader's buffer verify.
func TestVerifyLongLines(t *testing.T) {
	r := testRecord(1)
	r.Seq, r.Prev, r.Reason = 1, ZeroHash, strings.Repeat("a", 300<<10)
	line1 := marshalLine(t, r)
	r = testRecord(2)
	r.Seq, r.Prev = 2, SHA256Hex(line1)
	line2 := marshalLine(t, r)
	rep, err := Verify(bytes.NewReader(joinLines([][]byte{line1, line2})))
	if err != nil || rep.Records != 2 || rep.Head != SHA256Hex(line2) {
		t.Errorf("Verify = %+v, %v; want 2 records", rep, err)
	}
}

func TestVerifyReadError(t *testing.T) {
	path, _ := writeLog(t, 3)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The second read fails, after the whole file was read.
	_, err = Verify(iotest.TimeoutReader(bytes.NewReader(b)))
	var be *BreakError
	if err == nil || errors.As(err, &be) || !strings.HasPrefix(err.Error(), "audit: read line") {
		t.Errorf("Verify = %v, want a read error", err)
	}
}
