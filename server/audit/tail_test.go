package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLastLine(t *testing.T) {
	long := strings.Repeat("x", 2*tailChunk+7) // spans three chunks
	tests := []struct {
		name    string
		content string
		want    string
		wantErr string
	}{
		{"empty file", "", "", ""},
		{"one line", "a\n", "a", ""},
		{"two lines", "a\nbc\n", "bc", ""},
		{"long last line", "a\n" + long + "\n", long, ""},
		{"long file of one line", long + "\n", long, ""},
		{"short last line after a long one", long + "\nz\n", "z", ""},
		{"last line ends exactly at a chunk", strings.Repeat("y", tailChunk-1) + "\n" + strings.Repeat("w", tailChunk-1) + "\n",
			strings.Repeat("w", tailChunk-1), ""},
		{"blank last line", "a\n\n", "", ""},
		{"torn", "a\nb", "", "does not end in a newline"},
		{"too long", strings.Repeat("x", MaxLineBytes+1) + "\n", "", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lastLine(bytes.NewReader([]byte(tt.content)), int64(len(tt.content)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("lastLine error = %v, want %q", err, tt.wantErr)
				}
				if tt.name == "torn" && !errors.Is(err, errTorn) {
					t.Errorf("error %v is not errTorn", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("lastLine = %.40q (%d bytes), want %.40q (%d bytes)", got, len(got), tt.want, len(tt.want))
			}
			if tt.content == "" && got != nil {
				t.Error("lastLine of an empty file is not nil")
			}
			if tt.name == "blank last line" && got == nil {
				t.Error("a blank last line read as an empty file")
			}
		})
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r *bytes.Reader
	n int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += n
	return n, err
}

// lastLine reads the end of a large file, not all of it.
func TestLastLineReadsOnlyTheTail(t *testing.T) {
	line := strings.Repeat("r", 500) + "\n"
	content := []byte(strings.Repeat(line, 20_000)) // 10 MB
	c := &countingReaderAt{r: bytes.NewReader(content)}
	got, err := lastLine(c, int64(len(content)))
	if err != nil || string(got)+"\n" != line {
		t.Fatalf("lastLine = %.20q, %v", got, err)
	}
	if c.n > tailChunk {
		t.Errorf("read %d bytes of a %d-byte file, want at most %d", c.n, len(content), tailChunk)
	}
}
