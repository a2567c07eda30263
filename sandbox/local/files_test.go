//go:build linux

package local_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// Files in and out, and figures, on real sandboxes: fresh calls and
// session calls alike (package sandbox, "Files").

// fileLimits are generous bounds for the tests that are not about them.
var fileLimits = sandbox.FileLimits{MaxOutBytes: 8 << 20, MaxOutCount: 16}

// executor runs one request: in a fresh sandbox, or in a session.
type executor struct {
	name string
	run  func(t *testing.T, req sandbox.Request) sandbox.Result
}

// executors are a fresh sandbox per call, and one session for the test,
// on be.
func executors(be *local.Backend) []executor {
	fresh := func(t *testing.T, req sandbox.Request) sandbox.Result {
		t.Helper()
		res, err := be.Execute(context.Background(), req)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		return res
	}
	inSession := func(t *testing.T, req sandbox.Request) sandbox.Result {
		t.Helper()
		s := startSession(t, be)
		res, err := s.Execute(context.Background(), req)
		if err != nil {
			t.Fatalf("Execute in a session: %v", err)
		}
		return res
	}
	return []executor{{"fresh", fresh}, {"session", inSession}}
}

// request is code with files in, under limits() and fl.
func request(code string, fl sandbox.FileLimits, files ...sandbox.InFile) sandbox.Request {
	return sandbox.Request{Code: code, Limits: limits(), Files: files, FileLimits: fl}
}

// mustRun fails unless res is ok.
func mustRun(t *testing.T, res sandbox.Result) {
	t.Helper()
	if res.Status != sandbox.StatusOK {
		t.Fatalf("status %s, error %+v, stderr %q", res.Status, res.Error, res.Stderr)
	}
}

// byPath indexes returned files by path.
func byPath(files []sandbox.OutFile) map[string]sandbox.OutFile {
	m := map[string]sandbox.OutFile{}
	for _, f := range files {
		m[f.Path] = f
	}
	return m
}

// allBytes is every byte value, twice: content no text encoding survives.
var allBytes = func() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// TestFilesInAndOut: files the call brings are under the working directory
// (nested directories created, binary content intact, owned by the code's
// user) before the code runs; every regular file the code leaves under
// out/, nested ones included, comes back with its content.
func TestFilesInAndOut(t *testing.T) {
	code := `import os
assert open("data/sub/table.csv").read() == "a,b\n1,2\n"
assert open("raw.bin", "rb").read() == bytes(range(256)) * 2
st = os.stat("data/sub/table.csv")
assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid()), (st.st_uid, os.getuid())
os.makedirs("out/deep/er")
open("out/deep/er/sum.txt", "w").write(str(1 + 2))
open("out/raw.bin", "wb").write(open("raw.bin", "rb").read())
open("out/empty", "w").close()
`
	for _, ex := range executors(newBackend(t)) {
		t.Run(ex.name, func(t *testing.T) {
			res := ex.run(t, request(code, fileLimits,
				sandbox.InFile{Path: "data/sub/table.csv", Data: []byte("a,b\n1,2\n")},
				sandbox.InFile{Path: "raw.bin", Data: allBytes}))
			mustRun(t, res)
			got := byPath(res.Files)
			want := map[string][]byte{"deep/er/sum.txt": []byte("3"), "raw.bin": allBytes, "empty": {}}
			if len(res.Files) != len(want) {
				t.Fatalf("files %+v, want %d", res.Files, len(want))
			}
			for p, data := range want {
				f, ok := got[p]
				if !ok || f.Omitted != "" || !bytes.Equal(f.Data, data) || f.Size != int64(len(data)) {
					t.Errorf("out/%s: %+v, want %d bytes %q", p, f, len(data), data)
				}
			}
			if res.Files[0].Path != "deep/er/sum.txt" || res.Files[2].Path != "raw.bin" {
				t.Errorf("files not in path order: %+v", res.Files)
			}
		})
	}
}

// TestFilesOutBounds: what comes back is bounded by the call's limits
// (count, then bytes), the rest listed Omitted with the reason; a symbolic
// link in out/ is not followed and a FIFO does not hang the harness (both
// are listed as not regular files); nothing at all comes back under zero
// limits.
func TestFilesOutBounds(t *testing.T) {
	code := `import os
os.makedirs("out")
for name, size in (("a", 10), ("b", 20), ("c", 30), ("d", 5000)):
    open("out/" + name, "wb").write(b"x" * size)
open("/tmp/secret", "w").write("host secret")
os.symlink("/tmp/secret", "out/link")
os.mkfifo("out/pipe")
`
	tests := []struct {
		name string
		fl   sandbox.FileLimits
		want map[string]string // path: "" returned, or the reason it was omitted
	}{
		{"within", sandbox.FileLimits{MaxOutBytes: 1 << 20, MaxOutCount: 10},
			map[string]string{"a": "", "b": "", "c": "", "d": "", "link": "not a regular file", "pipe": "not a regular file"}},
		{"count", sandbox.FileLimits{MaxOutBytes: 1 << 20, MaxOutCount: 2},
			map[string]string{"a": "", "b": "", "c": "more than files.max_out_count files", "d": "more than files.max_out_count files",
				"link": "not a regular file", "pipe": "not a regular file"}},
		{"bytes", sandbox.FileLimits{MaxOutBytes: 35, MaxOutCount: 10},
			map[string]string{"a": "", "b": "", "c": "over files.max_out_mb", "d": "over files.max_out_mb",
				"link": "not a regular file", "pipe": "not a regular file"}},
		{"nothing", sandbox.FileLimits{}, map[string]string{}},
	}
	for _, ex := range executors(newBackend(t)) {
		for _, tt := range tests {
			t.Run(ex.name+"/"+tt.name, func(t *testing.T) {
				res := ex.run(t, request(code, tt.fl))
				mustRun(t, res)
				got := byPath(res.Files)
				if len(got) != len(tt.want) {
					t.Errorf("files %+v, want %v", res.Files, tt.want)
				}
				for p, reason := range tt.want {
					f, ok := got[p]
					switch {
					case !ok:
						t.Errorf("out/%s is not listed", p)
					case f.Omitted != reason:
						t.Errorf("out/%s omitted %q, want %q", p, f.Omitted, reason)
					case reason == "" && int64(len(f.Data)) != f.Size:
						t.Errorf("out/%s: size %d, %d bytes", p, f.Size, len(f.Data))
					case reason != "" && f.Data != nil:
						t.Errorf("out/%s omitted but has content %q", p, f.Data)
					}
				}
			})
		}
	}
}

// TestSessionFilesNotThroughLinks: in a session, a symbolic link the code
// left on the way to a file (a directory, or the file itself) cannot
// redirect the next call's files: the call is refused, naming the file,
// its code does not run, and nothing is written where the link points.
func TestSessionFilesNotThroughLinks(t *testing.T) {
	s := startSession(t, newBackend(t))
	mustOK(t, s, `import os
os.makedirs("/tmp/elsewhere")
os.symlink("/tmp/elsewhere", "data")
open("/tmp/target", "w").write("before")
os.symlink("/tmp/target", "file.txt")`)
	for _, path := range []string{"data/x.txt", "file.txt"} {
		res, err := s.Execute(context.Background(), request("ran = True", fileLimits, sandbox.InFile{Path: path, Data: []byte("after")}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != sandbox.StatusError || res.Error == nil || res.Error.Type != "FileError" || !strings.Contains(res.Error.Message, path) {
			t.Errorf("%s through a link: status %s, error %+v; want a FileError naming it", path, res.Status, res.Error)
		}
	}
	if got := mustOK(t, s, `import os
(os.listdir("/tmp/elsewhere"), open("/tmp/target").read(), "ran" in globals())`); got != "([], 'before', False)" {
		t.Errorf("after the refused calls: %s, want nothing written through the links and no code run", got)
	}
}

// TestSessionOutFilesComeBackEachCall: in a session, /work persists, so a
// file left in out/ comes back with every call until the code removes it.
func TestSessionOutFilesComeBackEachCall(t *testing.T) {
	s := startSession(t, newBackend(t))
	for i, code := range []string{`import os; os.makedirs("out"); open("out/a.txt", "w").write("A")`, `1`, `os.remove("out/a.txt")`} {
		res, err := s.Execute(context.Background(), request(code, fileLimits))
		if err != nil {
			t.Fatal(err)
		}
		mustRun(t, res)
		if want := i < 2; (len(res.Files) == 1 && string(res.Files[0].Data) == "A") != want {
			t.Errorf("call %d: files %+v, want out/a.txt returned: %v", i+1, res.Files, want)
		}
	}
}

var (
	plotOnce    sync.Once
	plotBackend *local.Backend
	plotErr     error
)

// withMatplotlib returns a backend whose interpreter has matplotlib and
// PIL: AIRLOCK_TEST_PYTHON, else Debian's /usr/bin/python3 (scripts/test.sh
// installs python3-matplotlib); it skips the test when that has none.
func withMatplotlib(t *testing.T) *local.Backend {
	t.Helper()
	py := os.Getenv("AIRLOCK_TEST_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if err := exec.Command(py, "-I", "-c", "import matplotlib, PIL").Run(); err != nil {
		t.Skipf("%s cannot import matplotlib and PIL: %v (apt-get install python3-matplotlib)", py, err)
	}
	plotOnce.Do(func() { plotBackend, plotErr = local.New(context.Background(), local.Options{Python: py}) })
	if plotErr != nil {
		t.Fatalf("local backend on %s: %v", py, plotErr)
	}
	return plotBackend
}

// TestFigures: Debian's matplotlib imports and plots inside the sandbox
// (its /etc/matplotlibrc and fontconfig are visible), with no display;
// every figure open when the code ends comes back as a PNG, by number,
// also after plt.show(); a PIL image as the final expression comes back
// too, its repr still the result; and figures count against the bounds.
func TestFigures(t *testing.T) {
	be := withMatplotlib(t)
	tests := []struct {
		name, code string
		fl         sandbox.FileLimits
		want       []string // figure names with content, in order
		omitted    []string
	}{
		{"two figures", `import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9])
plt.figure()
plt.bar(["a", "b"], [3, 5])
plt.title("ünïcode")`, fileLimits, []string{"figure-1.png", "figure-2.png"}, nil},
		{"after show", `import matplotlib.pyplot as plt
plt.plot([0, 1])
plt.show()`, fileLimits, []string{"figure-1.png"}, nil},
		{"PIL image", `from PIL import Image
Image.new("RGB", (4, 3), "red")`, fileLimits, []string{"result.png"}, nil},
		{"over the count", `import matplotlib.pyplot as plt
for i in range(3):
    plt.figure()`, sandbox.FileLimits{MaxOutBytes: 8 << 20, MaxOutCount: 2}, []string{"figure-1.png", "figure-2.png"}, []string{"figure-3.png"}},
	}
	for _, ex := range executors(be) {
		for _, tt := range tests {
			t.Run(ex.name+"/"+tt.name, func(t *testing.T) {
				res := ex.run(t, request(tt.code, tt.fl))
				mustRun(t, res)
				var got, omitted []string
				for _, f := range res.Figures {
					if f.Omitted != "" {
						omitted = append(omitted, f.Path)
						continue
					}
					got = append(got, f.Path)
					img, err := png.Decode(bytes.NewReader(f.Data))
					if err != nil || f.Size != int64(len(f.Data)) || img.Bounds().Dx() == 0 {
						t.Errorf("%s is not a valid PNG of its size (%d bytes, size %d): %v", f.Path, len(f.Data), f.Size, err)
					}
				}
				if strings.Join(got, " ") != strings.Join(tt.want, " ") || strings.Join(omitted, " ") != strings.Join(tt.omitted, " ") {
					t.Errorf("figures %v, omitted %v; want %v, omitted %v (stderr %q)", got, omitted, tt.want, tt.omitted, res.Stderr)
				}
				if res.Stderr != "" {
					t.Errorf("stderr %q, want nothing (no display warnings, no font cache noise)", res.Stderr)
				}
				if tt.name == "PIL image" && !strings.HasPrefix(resultString(res), "<PIL.Image.Image image mode=RGB size=4x3") {
					t.Errorf("result %q, want the image's repr", resultString(res))
				}
			})
		}
	}
}
