//go:build linux

package local_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// TestInterpreterIsTheSameWhoeverRuns: with no interpreter configured the
// backend runs /usr/bin/python3, whatever python3 comes first on PATH (as
// root on this host, pyenv's shim). scripts/test.sh runs this package as
// root and again as uid 65534, so both users get the same choice.
func TestInterpreterIsTheSameWhoeverRuns(t *testing.T) {
	dir := t.TempDir()
	shim := filepath.Join(dir, "python3")
	if err := os.WriteFile(shim, []byte("#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	in, err := local.FindInterpreter(context.Background(), "")
	if err != nil {
		t.Fatalf("FindInterpreter: %v", err)
	}
	if in.Requested != local.DefaultPython {
		t.Fatalf("uid %d: interpreter %s chosen (from PATH), want %s", os.Geteuid(), in.Requested, local.DefaultPython)
	}
}

// TestUnusableInterpreterFailsNamingIt: an interpreter that cannot be used
// is an error naming it, why, and the fix; never a switch to another.
func TestUnusableInterpreterFailsNamingIt(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	failing := filepath.Join(dir, "failing")
	if err := os.WriteFile(plain, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, python, why string
	}{
		{"missing", filepath.Join(dir, "absent"), "no such file"},
		{"not executable", plain, "not an executable file"},
		{"name on PATH", "python3", "not an absolute path"},
		{"does not run", failing, "does not run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := local.New(context.Background(), local.Options{Python: tt.python})
			if err == nil {
				t.Fatalf("New with %s succeeded", tt.python)
			}
			msg := err.Error()
			for _, want := range []string{tt.python, tt.why, "backend.local.python"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
		})
	}
}

// TestVenvUnderTmpIsRefused: a venv under /tmp, which each sandbox
// replaces with its own tmpfs, fails startup naming the reason, rather
// than running with its packages silently missing.
func TestVenvUnderTmpIsRefused(t *testing.T) {
	venv := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command("/usr/bin/python3", "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Skipf("/usr/bin/python3 cannot make a venv here: %v: %s", err, out)
	}
	_, err := local.New(context.Background(), local.Options{Python: filepath.Join(venv, "bin", "python")})
	if err == nil || !strings.Contains(err.Error(), "lies under /tmp") || !strings.Contains(err.Error(), "backend.local.python") {
		t.Fatalf("New on a venv under /tmp: %v; want a refusal naming /tmp and backend.local.python", err)
	}
}

// TestInterpreterHiddenFromSandboxUserFails: as root each sandbox runs as
// a uid of its own, so a venv whose site-packages only its owner can read
// fails startup, naming the directory, rather than importing nothing.
func TestInterpreterHiddenFromSandboxUserFails(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("rootless, the sandbox user is the server's user: it reads what the probe read")
	}
	venv := makeVenv(t)
	site := venvSitePackages(t, venv)
	if err := os.Chmod(site, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := local.New(context.Background(), local.Options{Python: filepath.Join(venv, "bin", "python")})
	if err == nil {
		t.Fatal("New succeeded with site-packages the sandbox user cannot read")
	}
	for _, want := range []string{filepath.Join(venv, "bin", "python"), site, "not readable by others", "chmod -R o+rX"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestVenvInterpreter: a venv's python as the interpreter: a package
// installed in the venv (from a directory the test writes, no index)
// imports in a fresh sandbox and in a session, and its site-packages are
// read-only there.
func TestVenvInterpreter(t *testing.T) {
	venv := makeVenv(t)
	installLocalPackage(t, venv)
	b, err := local.New(context.Background(), local.Options{Python: filepath.Join(venv, "bin", "python")})
	if err != nil {
		t.Fatalf("local backend on a venv: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	code := `import airlock_venv_probe, os
print(os.access(os.path.dirname(airlock_venv_probe.__file__), os.W_OK))
airlock_venv_probe.VALUE`
	check := func(where string, res sandbox.Result) {
		t.Helper()
		if res.Status != sandbox.StatusOK || res.Result == nil || *res.Result != "'from the venv'" {
			t.Fatalf("%s: %s result %v error %+v stderr %q", where, res.Status, res.Result, res.Error, res.Stderr)
		}
		if strings.TrimSpace(res.Stdout) != "False" {
			t.Fatalf("%s: the venv's site-packages are writable in the sandbox (stdout %q)", where, res.Stdout)
		}
	}
	res, err := b.Execute(context.Background(), sandbox.Request{Code: code, Limits: limits()})
	if err != nil {
		t.Fatal(err)
	}
	check("fresh sandbox", res)
	s := startSession(t, b)
	check("session", call(t, s, code))
}

// makeVenv makes a venv of /usr/bin/python3 under /var/tmp: not under
// /tmp, which every sandbox replaces with its own tmpfs.
func makeVenv(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "airlock-venv-test-")
	if err != nil {
		t.Skipf("no directory for a venv outside /tmp: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	venv := filepath.Join(dir, "venv")
	if out, err := exec.Command("/usr/bin/python3", "-m", "venv", venv).CombinedOutput(); err != nil {
		t.Skipf("/usr/bin/python3 cannot make a venv here: %v: %s", err, out)
	}
	return venv
}

func venvSitePackages(t *testing.T, venv string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages"))
	if len(m) != 1 {
		t.Fatalf("venv %s: site-packages %v", venv, m)
	}
	return m[0]
}

// installLocalPackage installs the package airlock_venv_probe into venv:
// with the venv's pip from a directory the test writes (no index; the
// legacy setup.py route, since a fresh venv has setuptools but no wheel), or, if
// the venv has no pip, by copying the module into its site-packages.
func installLocalPackage(t *testing.T, venv string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	mod := "VALUE = 'from the venv'\n"
	files := map[string]string{
		"setup.py":                       "from setuptools import setup\nsetup(name='airlock-venv-probe', version='1.0', packages=['airlock_venv_probe'])\n",
		"airlock_venv_probe/__init__.py": mod,
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pip := filepath.Join(venv, "bin", "pip")
	if _, err := os.Stat(pip); err == nil {
		cmd := exec.Command(filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-use-pep517", "--no-cache-dir", "--disable-pip-version-check", "--quiet", src)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pip install --no-index %s: %v: %s", src, err, out)
		}
		return
	}
	dst := filepath.Join(venvSitePackages(t, venv), "airlock_venv_probe")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "__init__.py"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
}
