//go:build linux

package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// layout is the part of the sandbox configuration that is the same for
// every execution: what to bind, which links to recreate, what to run.
type layout struct {
	binds     []string
	fileBinds []string
	symlinks  map[string]string
	env       []string
	// mounts are the operator's (Options.Mounts), checked against the rest.
	mounts []initconfig.Mount
}

// checkNotHidden refuses an interpreter with a directory where the sandbox
// mounts its own (a venv under /tmp, say): bound there, the sandbox's
// tmpfs would hide it, and its packages would silently not import.
func checkNotHidden(in *Interpreter, binds []string) error {
	for _, d := range binds {
		for _, r := range reservedPaths {
			if r != "/" && (d == r || strings.HasPrefix(d, r+"/")) {
				return fmt.Errorf("interpreter %s cannot be used: its directory %s lies under %s, which every sandbox replaces with its own; move the environment elsewhere (e.g. /opt/venvs/NAME) and set backend.local.python to its python", in.Requested, d, r)
			}
		}
	}
	return nil
}

// buildLayout works out what every sandbox of interpreter in gets: the
// directories and files it sees read-only, the links it recreates, and the
// environment the interpreter starts with.
func buildLayout(in *Interpreter) (layout, error) {
	binds, err := in.bindSources()
	if err != nil {
		return layout{}, err
	}
	if err := checkNotHidden(in, binds); err != nil {
		return layout{}, err
	}
	lay := layout{symlinks: map[string]string{}}
	// Mirror the top-level merged-/usr links, or bind the directories when
	// the host keeps them separate.
	for _, top := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		st, err := os.Lstat(top)
		if err != nil {
			continue
		}
		if st.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(top)
			if err != nil {
				return layout{}, fmt.Errorf("read link %s: %w", top, err)
			}
			lay.symlinks[top] = target
		} else if st.IsDir() {
			binds = append(binds, top)
		}
	}
	lay.binds = foldNested(binds)
	// The linker cache speeds up library loading; /etc/alternatives holds
	// the links Debian uses for BLAS and friends. Neither holds secrets.
	for _, f := range []string{"/etc/ld.so.cache"} {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			lay.fileBinds = append(lay.fileBinds, f)
		}
	}
	if st, err := os.Stat("/etc/alternatives"); err == nil && st.IsDir() {
		lay.binds = append(lay.binds, "/etc/alternatives")
	}
	// Debian's matplotlib reads its defaults from /etc/matplotlibrc (it
	// refuses to import without), and fontconfig its configuration from
	// /etc/fonts: exactly these, read-only, and nothing else of /etc.
	if st, err := os.Stat("/etc/matplotlibrc"); err == nil && st.Mode().IsRegular() {
		lay.fileBinds = append(lay.fileBinds, "/etc/matplotlibrc")
	}
	if st, err := os.Stat("/etc/fonts"); err == nil && st.IsDir() {
		lay.binds = append(lay.binds, "/etc/fonts")
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		lay.symlinks["/etc/localtime"] = target
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	if dir := filepath.Dir(in.Executable); dir != "/usr/bin" && dir != "/bin" && dir != "/usr/local/bin" {
		path = dir + ":" + path
	}
	lay.env = []string{
		"PATH=" + path,
		"HOME=" + initconfig.Workdir,
		"TMPDIR=/tmp",
		"LANG=C.UTF-8",
		"USER=sandbox",
		"LOGNAME=sandbox",
	}
	return lay, nil
}
