package modal

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// Files in and out and figures on Modal, fresh calls and session calls:
// the files travel with the code on the exec's stdin, and come back in a
// frame split out of stderr, as the envelope does.

// filesCode checks the files the call brought and leaves files in out/.
const filesCode = `import os
assert open("in/sub/table.csv").read() == "a,b\n1,2\n"
assert open("raw.bin", "rb").read() == bytes(range(256))
os.makedirs("out/deep", exist_ok=True)
open("out/deep/sum.txt", "w").write("3")
open("out/raw.bin", "wb").write(bytes(range(256)))
open("out/big", "wb").write(b"x" * 5000)
os.mkfifo("out/pipe")
`

// TestFilesOnModal: files in (nested, binary) are there before the code
// runs; out/'s regular files come back in path order, within the bounds
// (the rest listed Omitted), a FIFO listed as not a regular file without
// hanging the call; the same in a session.
func TestFilesOnModal(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, sessionOptions())
	raw := make([]byte, 256)
	for i := range raw {
		raw[i] = byte(i)
	}
	req := sandbox.Request{Code: filesCode, Limits: callLimits,
		Files:      []sandbox.InFile{{Path: "in/sub/table.csv", Data: []byte("a,b\n1,2\n")}, {Path: "raw.bin", Data: raw}},
		FileLimits: sandbox.FileLimits{MaxOutBytes: 1024, MaxOutCount: 8}}
	s := startSession(t, b, srv, "owner", "files")
	for name, execute := range map[string]func() (sandbox.Result, error){
		"fresh":   func() (sandbox.Result, error) { return b.Execute(testContext(t), req) },
		"session": func() (sandbox.Result, error) { return s.Execute(testContext(t), req) },
	} {
		t.Run(name, func(t *testing.T) {
			res, err := execute()
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != sandbox.StatusOK {
				t.Fatalf("status %s, error %+v, stderr %q", res.Status, res.Error, res.Stderr)
			}
			want := []sandbox.OutFile{
				{Path: "big", Size: 5000, Omitted: "over files.max_out_mb"},
				{Path: "deep/sum.txt", Size: 1, Data: []byte("3")},
				{Path: "pipe", Omitted: "not a regular file"},
				{Path: "raw.bin", Size: 256, Data: raw},
			}
			if len(res.Files) != len(want) {
				t.Fatalf("files %+v, want %+v", res.Files, want)
			}
			for i, w := range want {
				g := res.Files[i]
				if g.Path != w.Path || g.Size != w.Size || g.Omitted != w.Omitted || !bytes.Equal(g.Data, w.Data) {
					t.Errorf("file %d: %+v, want %+v", i, g, w)
				}
			}
			if res.Stderr != "" {
				t.Errorf("stderr %q: the files frame leaked into the code's output", res.Stderr)
			}
		})
	}
}

// TestFiguresOnModal: matplotlib's open figures come back as PNGs, when
// the control plane's interpreter has matplotlib.
func TestFiguresOnModal(t *testing.T) {
	py := testPython(t)
	if err := exec.Command(py, "-I", "-c", "import matplotlib").Run(); err != nil {
		t.Skipf("%s has no matplotlib: %v", py, err)
	}
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	res, err := b.Execute(testContext(t), sandbox.Request{Limits: callLimits, FileLimits: sandbox.FileLimits{MaxOutBytes: 1 << 20, MaxOutCount: 4},
		Code: "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.figure()\nplt.show()"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sandbox.StatusOK || len(res.Figures) != 2 || res.Figures[1].Path != "figure-2.png" ||
		!bytes.HasPrefix(res.Figures[0].Data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("status %s, error %+v, figures %d; want two PNGs (stderr %q)", res.Status, res.Error, len(res.Figures), res.Stderr)
	}
}

// TestMountsOnModal: a mount's files are uploaded into every sandbox,
// fresh and session, before the code runs, a read-only one made read-only;
// mounts over MaxMountBytes, or at a bad path, are refused at New, naming
// the bound or the mount. (The test control plane runs its sandboxes on
// this machine, so the mount's path is a temporary directory here.)
func TestMountsOnModal(t *testing.T) {
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "sub", "table.csv"), []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "data")
	srv := startCP(t, modaltest.Options{})
	opts := sessionOptions()
	opts.Mounts, opts.MaxMountBytes = []Mount{{Host: host, Path: target, ReadOnly: true}}, 1024
	b := newBackend(t, srv, opts)
	code := fmt.Sprintf("import os\n(open(%q).read(), oct(os.stat(%q).st_mode & 0o777))", target+"/sub/table.csv", target+"/sub/table.csv")
	s := startSession(t, b, srv, "owner", "mounts")
	for name, execute := range map[string]func() (sandbox.Result, error){
		"fresh": func() (sandbox.Result, error) {
			return b.Execute(testContext(t), sandbox.Request{Code: code, Limits: callLimits})
		},
		"session": func() (sandbox.Result, error) {
			return s.Execute(testContext(t), sandbox.Request{Code: code, Limits: callLimits})
		},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := execute()
			if err != nil {
				t.Fatal(err)
			}
			wantValue(t, res, `('a,b\n1,2\n', '0o444')`)
		})
	}
	for _, bad := range []struct {
		mounts []Mount
		max    int64
		want   string
	}{
		{[]Mount{{Host: host, Path: "/data/x"}}, 4, "more than 4 bytes (policy files.max_mount_mb)"},
		{[]Mount{{Host: filepath.Join(host, "missing"), Path: "/data/x"}}, 1024, "not an existing directory"},
		{[]Mount{{Host: host, Path: "data"}}, 1024, "absolute and clean"},
		{[]Mount{{Host: host, Path: "/proc/x"}}, 1024, "lies in /proc"},
	} {
		o := baseOptions()
		o.Mounts, o.MaxMountBytes = bad.mounts, bad.max
		if be, err := New(o); err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "mount 0") {
			if be != nil {
				be.Close()
			}
			t.Errorf("New with %+v (max %d): %v; want a refusal naming the mount and saying %q", bad.mounts, bad.max, err, bad.want)
		}
	}
}
