package local

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkSandboxAccess reports, naming the interpreter, why the sandbox user
// could not run it: as root each sandbox runs as a uid of its own, neither
// owner nor group of the operator's files, so the interpreter, its standard
// library and its site-packages must be readable by others. (The probe ran
// as the server's user, who may read more; rootless, the sandbox runs as
// that same user and the probe already proved it.) Bind mounts make the
// directories above these irrelevant; the entries themselves are checked.
func (in *Interpreter) checkSandboxAccess() error {
	type need struct {
		path string
		mode os.FileMode
		what string
	}
	needs := []need{{in.Executable, 0o005, "the interpreter binary"}}
	for _, d := range in.StdlibPath {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			needs = append(needs, need{d, 0o005, "a standard library directory"})
			if _, err := os.Stat(filepath.Join(d, "os.py")); err == nil {
				needs = append(needs, need{filepath.Join(d, "os.py"), 0o004, "the standard library"})
			}
		}
	}
	for _, d := range in.SitePackages {
		needs = append(needs, need{d, 0o005, "a site-packages directory"})
	}
	for _, n := range needs {
		st, err := os.Stat(n.path)
		if err != nil {
			return fmt.Errorf("interpreter %s cannot be used by the sandbox user: %s %s: %w; set backend.local.python to an interpreter every user can read", in.Requested, n.what, n.path, err)
		}
		if st.Mode().Perm()&n.mode != n.mode {
			return fmt.Errorf("interpreter %s cannot be used by the sandbox user: %s %s has mode %s, not readable by others; run chmod -R o+rX on the interpreter's environment or set backend.local.python to one every user can read", in.Requested, n.what, n.path, st.Mode().Perm())
		}
	}
	return nil
}
