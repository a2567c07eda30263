//go:build linux

package local_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// TestDoctorShowsPythonAsTheSandboxSeesIt: doctor prints the interpreter's
// version and sys.path from inside a sandbox (a venv's site-packages
// included), and for numpy, pandas, matplotlib and requests whether they
// import there, which for /usr/bin/python3's packages is what the host's
// interpreter says.
func TestDoctorShowsPythonAsTheSandboxSeesIt(t *testing.T) {
	venv := makeVenv(t)
	site := venvSitePackages(t, venv)
	tests := []struct {
		name, python, inPath string
		hostAgrees           bool // else a fresh venv: none of them
	}{
		{"default", "", "/usr/lib/python3.", true},
		{"venv", filepath.Join(venv, "bin", "python"), site, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks, ok := local.Diagnose(context.Background(), local.Options{Python: tt.python})
			if !ok {
				t.Fatalf("doctor says the backend cannot run: %+v", checks)
			}
			lines := map[string]string{}
			for _, c := range checks {
				lines[c.Name] = c.Detail
			}
			if p := lines["python sys.path"]; !strings.HasPrefix(p, "Python 3.") || !strings.Contains(p, tt.inPath) {
				t.Errorf("python sys.path line %q: want the version and %s", p, tt.inPath)
			}
			pk := lines["python packages"]
			for _, name := range []string{"numpy", "pandas", "matplotlib", "requests"} {
				want := name + " no"
				if tt.hostAgrees && exec.Command("/usr/bin/python3", "-c", "import "+name).Run() == nil {
					want = name + " yes"
				}
				if !strings.Contains(pk, want) {
					t.Errorf("python packages line %q: want %q", pk, want)
				}
			}
		})
	}
}
