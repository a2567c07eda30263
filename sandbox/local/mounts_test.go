//go:build linux

package local_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// TestMounts: an operator's mounts are in every sandbox, fresh and
// session alike: a read-only one reads, and refuses writes with EROFS; a
// writable one writes through to the host directory.
func TestMounts(t *testing.T) {
	ro, rw := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "table.csv"), []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(rw, 0o777); err != nil { // as root, the code runs as a uid of its own
		t.Fatal(err)
	}
	be, err := local.New(context.Background(), local.Options{
		Python: os.Getenv("AIRLOCK_TEST_PYTHON"),
		Mounts: []local.Mount{{Host: ro, Path: "/data/ro", ReadOnly: true}, {Host: rw, Path: "/data/rw"}},
	})
	if err != nil {
		t.Fatalf("New with mounts: %v", err)
	}
	t.Cleanup(func() { be.Close() })
	code := `import errno
def write(path):
    try:
        open(path, "w").write("from the sandbox")
        return "written"
    except OSError as e:
        return errno.errorcode[e.errno]
(open("/data/ro/table.csv").read(), write("/data/ro/new.txt"), write("/data/ro/table.csv"), write("/data/rw/%s.txt"))`
	for _, ex := range executors(be) {
		t.Run(ex.name, func(t *testing.T) {
			res := ex.run(t, request(strings.Replace(code, "%s", ex.name, 1), sandbox.FileLimits{}))
			mustRun(t, res)
			if got, want := resultString(res), `('a,b\n1,2\n', 'EROFS', 'EROFS', 'written')`; got != want {
				t.Errorf("in the sandbox: %s, want %s", got, want)
			}
			if data, err := os.ReadFile(filepath.Join(rw, ex.name+".txt")); err != nil || string(data) != "from the sandbox" {
				t.Errorf("the writable mount's host directory: %q %v", data, err)
			}
			if _, err := os.Stat(filepath.Join(ro, "new.txt")); !os.IsNotExist(err) {
				t.Errorf("a file appeared in the read-only mount's host directory: %v", err)
			}
		})
	}
}

// TestBadMountsAreRefused: New refuses a mount whose host directory does
// not exist or whose path in the sandbox is not absolute and clean or
// collides with the sandbox's layout or another mount, naming it.
func TestBadMountsAreRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mounts []local.Mount
		want   string
	}{
		{"relative host", []local.Mount{{Host: "data", Path: "/data/x"}}, "host path must be absolute"},
		{"missing host", []local.Mount{{Host: filepath.Join(dir, "missing"), Path: "/data/x"}}, "not an existing directory"},
		{"host is a file", []local.Mount{{Host: file, Path: "/data/x"}}, "not an existing directory"},
		{"relative path", []local.Mount{{Host: dir, Path: "data/x"}}, "absolute and clean"},
		{"unclean path", []local.Mount{{Host: dir, Path: "/data/../x"}}, "absolute and clean"},
		{"root", []local.Mount{{Host: dir, Path: "/"}}, "collides with /"},
		{"workdir", []local.Mount{{Host: dir, Path: "/work"}}, "collides with /work"},
		{"inside /tmp", []local.Mount{{Host: dir, Path: "/tmp/data"}}, "collides with /tmp"},
		{"/proc", []local.Mount{{Host: dir, Path: "/proc"}}, "collides with /proc"},
		{"inside /dev", []local.Mount{{Host: dir, Path: "/dev/x"}}, "collides with /dev"},
		{"inside /etc", []local.Mount{{Host: dir, Path: "/etc/data"}}, "collides with /etc"},
		{"inside /usr", []local.Mount{{Host: dir, Path: "/usr/share/data"}}, "collides with /usr"},
		{"twice", []local.Mount{{Host: dir, Path: "/data"}, {Host: dir, Path: "/data/x"}}, "mount 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be, err := local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON"), Mounts: tt.mounts})
			if err == nil {
				be.Close()
				t.Fatalf("New accepted %+v", tt.mounts)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "mount ") {
				t.Errorf("error %q does not name the mount and say %q", err, tt.want)
			}
		})
	}
}
