//go:build linux

package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// reservedPaths are the sandbox's own layout, besides the interpreter's
// directories and the host paths the layout binds: no mount may be one of
// them, lie inside one, or hold one.
var reservedPaths = []string{"/", initconfig.Workdir, "/tmp", "/proc", "/dev", "/etc", "/.scratch"}

// checkMounts refuses a mount whose host directory does not exist, or
// whose path in the sandbox is not absolute and clean, or collides with
// lay or another mount; the error names the mount and what to change.
func checkMounts(mounts []Mount, lay layout) ([]initconfig.Mount, error) {
	taken := append([]string{}, reservedPaths...)
	taken = append(taken, lay.binds...)
	taken = append(taken, lay.fileBinds...)
	for link := range lay.symlinks {
		taken = append(taken, link)
	}
	var out []initconfig.Mount
	for i, m := range mounts {
		name := fmt.Sprintf("mount %d (host %q, path %q)", i, m.Host, m.Path)
		if !filepath.IsAbs(m.Host) {
			return nil, fmt.Errorf("local: %s: the host path must be absolute", name)
		}
		if st, err := os.Stat(m.Host); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("local: %s: the host path is not an existing directory; create it or fix the path", name)
		}
		if !filepath.IsAbs(m.Path) || filepath.Clean(m.Path) != m.Path || strings.ContainsRune(m.Path, 0) {
			return nil, fmt.Errorf("local: %s: the path in the sandbox must be absolute and clean, like /data/name", name)
		}
		for _, p := range taken {
			if overlaps(m.Path, p) {
				return nil, fmt.Errorf("local: %s: the path in the sandbox collides with %s, which the sandbox needs; choose a path such as /data/name", name, p)
			}
		}
		taken = append(taken, m.Path)
		out = append(out, initconfig.Mount{Source: m.Host, Target: m.Path, Writable: !m.ReadOnly})
	}
	return out, nil
}

// overlaps reports whether a and b are the same path or one lies inside
// the other; "/" overlaps only itself (every mount lies inside it).
func overlaps(a, b string) bool {
	inside := func(x, dir string) bool { return dir != "/" && strings.HasPrefix(x, dir+"/") }
	return a == b || inside(a, b) || inside(b, a)
}
