//go:build linux

package local_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	// The tests build sandboxes, each of which starts this test binary as
	// its init helper: link the helper, as the server's main package does.
	_ "github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// TestBinaryWithoutTheHelperRefuses: a binary that links package local
// but not the init helper cannot build sandboxes (every sandbox starts the
// binary as its helper). New must refuse, naming the import that is
// missing, before it starts any process.
func TestBinaryWithoutTheHelperRefuses(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain on PATH to build the test program")
	}
	bin := filepath.Join(t.TempDir(), "nohelper")
	build := exec.Command(gotool, "build", "-buildvcs=false", "-o", bin, "./testdata/nohelper")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test program: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("the program without the helper: %v, output %q; want New to fail (exit 3)", err, out)
	}
	for _, want := range []string{"local sandbox unavailable", "does not link the sandbox init helper", `blank import _ "` + initconfig.HelperPackage + `"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("New's error %q does not say %q", out, want)
		}
	}
}
