package sandbox

import (
	"fmt"
	"strings"
	"testing"
)

// entry is one entry of a files frame's payload, as the harness writes it.
func entry(kind, reason string, size int, path, data string) string {
	return fmt.Sprintf("%s %s %d %d %d\n%s%s", kind, reason, size, len(data), len(path), path, data)
}

// TestParseFiles: a files frame's payload is taken only within the call's
// bounds, each size checked against the content, each path valid and
// listed once; anything else is refused whole, whatever the sandbox
// claims.
func TestParseFiles(t *testing.T) {
	fl := FileLimits{MaxOutBytes: 10, MaxOutCount: 2}
	tests := []struct {
		name    string
		payload string
		files   int
		figures int
		err     string
	}{
		{"files and a figure", entry("figure", "-", 3, "figure-1.png", "PNG") + entry("file", "-", 2, "a/b.txt", "hi") + entry("file", "bytes", 900, "big", ""), 2, 1, ""},
		{"result image", entry("figure", "-", 1, "result.png", "x"), 0, 1, ""},
		{"omitted past the count", entry("file", "count", 5, "c", ""), 1, 0, ""},
		{"size is not the content's", entry("file", "-", 1, "a", "hi"), 0, 0, "size"},
		{"over the bytes", entry("file", "-", 11, "a", strings.Repeat("x", 11)), 0, 0, "limits"},
		{"over the count", entry("file", "-", 1, "a", "x") + entry("file", "-", 1, "b", "x") + entry("file", "-", 1, "c", "x"), 0, 0, "limits"},
		{"absolute path", entry("file", "-", 1, "/etc/passwd", "x"), 0, 0, "path"},
		{"dot-dot path", entry("file", "-", 1, "../x", "x"), 0, 0, "path"},
		{"listed twice", entry("file", "-", 1, "a", "x") + entry("file", "-", 1, "a", "x"), 0, 0, "twice"},
		{"not a figure name", entry("figure", "-", 1, "evil.sh", "x"), 0, 0, "path"},
		{"unknown reason", entry("file", "because", 1, "a", ""), 0, 0, "reason"},
		{"omitted with content", entry("file", "bytes", 1, "a", "x"), 0, 0, "reason"},
		{"unknown kind", entry("dir", "-", 1, "a", "x"), 0, 0, "path"},
		{"runs past the frame", "file - 5 5 1\nax", 0, 0, "past"},
		{"lengths not canonical", "file - 01 1 1\nax", 0, 0, "malformed"},
		{"header not terminated", "file - 1 1 1", 0, 0, "terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, figures, err := ParseFiles([]byte(tt.payload), fl)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || len(files) != tt.files || len(figures) != tt.figures {
				t.Errorf("files %+v figures %+v err %v; want %d files, %d figures", files, figures, err, tt.files, tt.figures)
			}
		})
	}
	more := ""
	for i := 0; i <= MaxOmittedListed; i++ {
		more += entry("file", "type", 0, fmt.Sprintf("f%d", i), "")
	}
	if _, _, err := ParseFiles([]byte(more), fl); err == nil {
		t.Errorf("%d entries listed omitted accepted; at most %d are", MaxOmittedListed+1, MaxOmittedListed)
	}
}

// TestSplitFiles: only a whole files frame carrying the call's nonce, at
// the start of the channel, is taken off; anything else stays for
// ParseEnvelope to refuse.
func TestSplitFiles(t *testing.T) {
	nonce := strings.Repeat("ab", 16)
	payload := entry("file", "-", 1, "a", "x")
	frame := fmt.Sprintf("AIRLOCK-FILES/1 %s %d\n%s\n", nonce, len(payload), payload)
	env := "AIRLOCK-ENVELOPE/1 " + nonce + " 2\n{}\n"
	tests := []struct {
		name, channel, envelope, files string
	}{
		{"frame then envelope", frame + env, env, payload},
		{"envelope only", env, env, ""},
		{"another nonce", strings.Replace(frame, nonce, strings.Repeat("cd", 16), 1) + env, strings.Replace(frame, nonce, strings.Repeat("cd", 16), 1) + env, ""},
		{"short frame", frame[:len(frame)-3], frame[:len(frame)-3], ""},
		{"no newline after the payload", strings.TrimSuffix(frame, "\n") + "X" + env, strings.TrimSuffix(frame, "\n") + "X" + env, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotEnv, gotFiles := SplitFiles([]byte(tt.channel), nonce)
			if string(gotEnv) != tt.envelope || string(gotFiles) != tt.files {
				t.Errorf("envelope %q files %q; want %q, %q", gotEnv, gotFiles, tt.envelope, tt.files)
			}
		})
	}
}

// TestCheckInPath: a file the call brings is named by a clean relative
// path; the harness refuses the others again.
func TestCheckInPath(t *testing.T) {
	for _, p := range []string{"a.csv", "data/sub/a.csv", ".hidden", "a..b"} {
		if err := CheckInPath(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..", "a\x00b", strings.Repeat("a", MaxFilePathBytes+1)} {
		if err := CheckInPath(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	if _, err := NewInvocation("1", HarnessOptions{EnvelopeFD: 3, Files: []InFile{{Path: "../x"}}}); err == nil {
		t.Error("NewInvocation accepted a file outside the working directory")
	}
	if _, err := NewSessionCall("1", 0, []InFile{{Path: "/x"}}, FileLimits{}); err == nil {
		t.Error("NewSessionCall accepted an absolute path")
	}
	if _, err := NewSessionCall("1", 0, nil, FileLimits{MaxOutCount: -1}); err == nil {
		t.Error("NewSessionCall accepted negative file limits")
	}
	if b := MaxFilesFrameBytes(FileLimits{MaxOutBytes: 100}); b != 0 {
		t.Errorf("a call returning no file has a files frame bound of %d", b)
	}
}
