package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Interpreter describes a Python interpreter as it reported itself: the real
// binary behind any shim, its prefixes and the directories it imports from.
type Interpreter struct {
	// Requested is the path or name the operator configured (or "python3").
	Requested string `json:"requested"`
	// Executable is the real binary, symlinks and shims resolved.
	Executable string `json:"executable"`
	// Version is sys.version's first word, e.g. "3.11.2".
	Version string `json:"version"`
	// Prefixes are sys.prefix, sys.base_prefix, sys.exec_prefix and
	// sys.base_exec_prefix, deduplicated.
	Prefixes []string `json:"prefixes"`
	// StdlibPath is sys.path as the interpreter starts with -I -S.
	StdlibPath []string `json:"stdlib_path"`
	// SitePackages are the existing site-packages directories; the harness
	// adds them to sys.path itself because the interpreter runs with -S.
	SitePackages []string `json:"site_packages"`
}

// DefaultPython is the interpreter the local backend runs when the policy
// names none (backend.local.python). It is a fixed path, never a PATH
// lookup, so the choice is the same whoever starts the server: root's PATH
// may lead to a shim in a home directory the sandbox cannot read, another
// user's PATH to a different Python with different packages.
const DefaultPython = "/usr/bin/python3"

// probeScript prints what the sandbox needs to know about the interpreter.
// It runs outside the sandbox, once, on the operator's own interpreter,
// with -I -S like the harness. -S skips the site module's setup, which is
// what reads a venv's pyvenv.cfg, so the probe applies that one step
// itself (site.venv): a venv's (or uv's) site-packages are then listed,
// and the harness adds them to sys.path. Nothing else of site runs: .pth
// files are not processed.
const probeScript = `import json, os, site, sys
if getattr(site, "venv", None) is not None:
    site.venv(None)
print(json.dumps({
    "executable": os.path.realpath(sys.executable),
    "version": sys.version.split()[0],
    "prefixes": [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix],
    "stdlib_path": sys.path,
    "site_packages": [p for p in site.getsitepackages() if os.path.isdir(p)],
}))`

// FindInterpreter resolves the interpreter to use: path when given,
// otherwise DefaultPython; there is no fallback. It runs the interpreter
// once (with -I -S) so that shims such as pyenv's resolve to the real
// binary, and so that an interpreter that does not run is reported now,
// naming it, why and the fix, rather than on the first call.
func FindInterpreter(ctx context.Context, path string) (*Interpreter, error) {
	fix := "set backend.local.python in the policy to a Python 3 interpreter every user can read and run"
	if path == "" {
		path = DefaultPython
		fix = "install Debian's python3 (apt-get install python3) or " + fix
	}
	in, err := probeInterpreter(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%w; %s", err, fix)
	}
	return in, nil
}

func probeInterpreter(ctx context.Context, path string) (*Interpreter, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("interpreter %q cannot be used: not an absolute path (a name looked up on PATH would depend on who runs the server)", path)
	}
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("interpreter %s cannot be used: %w", path, err)
	} else if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("interpreter %s cannot be used: not an executable file (mode %s)", path, st.Mode())
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-I", "-S", "-c", probeScript)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANG=C.UTF-8"}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("interpreter %s cannot be used: it does not run: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	in := &Interpreter{Requested: path}
	if err := json.Unmarshal(stdout.Bytes(), in); err != nil {
		return nil, fmt.Errorf("interpreter %s cannot be used: unreadable self-description: %w", path, err)
	}
	in.Requested = path
	if !strings.HasPrefix(in.Version, "3.") {
		return nil, fmt.Errorf("interpreter %s cannot be used: it is Python %s; Python 3 is required", path, in.Version)
	}
	in.Prefixes = dedupe(in.Prefixes)
	return in, nil
}

// compileHarness has the interpreter compile the harness once, so that each
// sandbox loads the code object instead of compiling the harness's source
// at every start (see sandbox.PrecompiledHarnessArgs). Like the probe, it
// runs the operator's interpreter outside any sandbox, on the server's own
// input; it runs in.Executable, the binary the sandboxes run, since the
// code object's format is private to one Python version.
func compileHarness(ctx context.Context, in *Interpreter) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args, stdin := sandbox.HarnessCompiler()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, in.Executable, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &stdout, &stderr
	cmd.Env = []string{"LANG=C.UTF-8"}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("interpreter %s cannot compile the harness: %w: %s", in.Executable, err, strings.TrimSpace(stderr.String()))
	}
	if stdout.Len() == 0 {
		return nil, fmt.Errorf("interpreter %s compiled the harness to nothing", in.Executable)
	}
	return stdout.Bytes(), nil
}

// forbiddenBindRoots are host directories the sandbox must never see whole,
// even when an interpreter claims one of them as its prefix.
var forbiddenBindRoots = map[string]bool{
	"/": true, "/root": true, "/home": true, "/etc": true, "/var": true, "/proc": true,
	"/sys": true, "/dev": true, "/run": true, "/tmp": true, "/boot": true, "/srv": true, "/opt": true,
}

// bindSources returns the host directories to bind read-only into the
// sandbox so the interpreter can run: /usr (which holds the C libraries on a
// merged-/usr system), the interpreter's prefixes and its site-packages, with
// nested entries folded into their parents.
func (in *Interpreter) bindSources() ([]string, error) {
	var dirs []string
	dirs = append(dirs, "/usr")
	dirs = append(dirs, in.Prefixes...)
	dirs = append(dirs, filepath.Dir(in.Executable))
	dirs = append(dirs, in.SitePackages...)
	for _, p := range in.StdlibPath {
		// python311.zip may not exist; bind only what does.
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			dirs = append(dirs, p)
		}
	}
	var clean []string
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("interpreter path %q is not absolute", d)
		}
		d = filepath.Clean(d)
		if forbiddenBindRoots[d] {
			return nil, fmt.Errorf("interpreter directory %s would expose a whole host tree; use an interpreter installed under its own prefix", d)
		}
		clean = append(clean, d)
	}
	return foldNested(clean), nil
}

// foldNested drops every directory that lies inside another in the list.
func foldNested(dirs []string) []string {
	dirs = dedupe(dirs)
	sort.Strings(dirs)
	var out []string
	for _, d := range dirs {
		if len(out) > 0 {
			last := out[len(out)-1]
			if strings.HasPrefix(d, last+"/") {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	var out []string
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
