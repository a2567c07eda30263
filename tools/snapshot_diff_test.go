package tools_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// snapshotDiff is what a snapshot test prints when a tool's definition got
// differs from its golden file want: the lines that changed, whole, "-" for
// the golden file's and "+" for the tool's, with a couple of lines of
// context, and every other run of identical lines elided (go-cmp's diff of
// the two documents' lines). It is "" when they are equal.
func snapshotDiff(want, got []byte) string {
	// Whole lines: left to itself, go-cmp diffs two similar strings byte
	// by byte; compared as opaque values, a changed line shows whole.
	wholeLines := cmp.Comparer(func(a, b string) bool { return a == b })
	return cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n"), wholeLines)
}

// TestSnapshotDiff: a one-line change in a long JSON document shows as
// that whole line removed and added, with its neighbours as context, and
// not as the whole document.
func TestSnapshotDiff(t *testing.T) {
	tests := []struct {
		name string
		line string // line i of the document; %d is i
		from string // a part of line 100
		to   string // what it becomes
	}{
		{"a small edit within escaped quotes", `  "key%03d": "the \"value\" %[1]d",`, `\"value\" 100"`, `\"value\" 1000"`},
		{"a word replaced in a description", `  "description%03d": "Runs Python in a sandbox.\n\nLimits: %[1]d s.",`, "in a sandbox", "somewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := make([]string, 200)
			for i := range lines {
				lines[i] = fmt.Sprintf(tt.line, i)
			}
			want := "{\n" + strings.Join(lines, "\n") + "\n}\n"
			changed := strings.Replace(lines[100], tt.from, tt.to, 1)
			got := strings.Replace(want, lines[100], changed, 1)

			if d := snapshotDiff([]byte(want), []byte(want)); d != "" {
				t.Errorf("equal documents differ:\n%s", d)
			}
			d := snapshotDiff([]byte(want), []byte(got))
			marked := func(prefix, line string) bool {
				for _, l := range strings.Split(d, "\n") {
					if l = strings.TrimSpace(l); strings.HasPrefix(l, prefix) && strings.Contains(l, strings.TrimSpace(line)) {
						return true
					}
				}
				return false
			}
			if !marked("-", lines[100]) || !marked("+", changed) {
				t.Errorf("the diff does not show the changed line, whole, removed and added:\n%s", d)
			}
			if !strings.Contains(d, fmt.Sprintf("%03d", 99)) || !strings.Contains(d, fmt.Sprintf("%03d", 101)) {
				t.Errorf("the diff lacks the changed line's neighbours as context:\n%s", d)
			}
			if strings.Contains(d, fmt.Sprintf("%03d", 10)) || strings.Contains(d, fmt.Sprintf("%03d", 190)) {
				t.Errorf("the diff shows lines far from the change:\n%s", d)
			}
			if n := strings.Count(d, "\n"); n > 20 {
				t.Errorf("the diff of a one-line change is %d lines long:\n%s", n, d)
			}
		})
	}
}
