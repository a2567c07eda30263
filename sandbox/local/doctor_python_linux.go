//go:build linux

package local

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// commonPackages are the packages doctor reports on, in this order.
var commonPackages = []string{"numpy", "pandas", "matplotlib", "requests"}

// pythonView is what the interpreter sees inside a sandbox.
type pythonView struct {
	Version  string          `json:"version"`
	SysPath  []string        `json:"sys_path"`
	Imported map[string]bool `json:"imported"`
}

// probePythonScript reports sys.path as the code sees it and whether each
// common package imports; the code runs in a real sandbox, so the answer is
// the sandbox's, not the host's.
const probePythonScript = `import json, sys
ok = {}
for name in %s:
    try:
        __import__(name)
        ok[name] = True
    except Exception:
        ok[name] = False
print(json.dumps({"version": sys.version.split()[0], "sys_path": sys.path, "imported": ok}))`

// probePython runs probePythonScript in a fresh sandbox.
func (b *Backend) probePython(ctx context.Context) (pythonView, error) {
	names, _ := json.Marshal(commonPackages)
	limits := selfTestLimits
	limits.MaxOutputBytes = 64 << 10
	limits.MemoryBytes = 1 << 30
	res, err := b.Execute(ctx, sandbox.Request{Code: fmt.Sprintf(probePythonScript, names), Limits: limits})
	if err != nil {
		return pythonView{}, err
	}
	var v pythonView
	if res.Status != sandbox.StatusOK || json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &v) != nil {
		return pythonView{}, fmt.Errorf("the Python probe failed in a sandbox: %s %q", res.Status, res.Stderr)
	}
	return v, nil
}

// pythonChecks are doctor's lines on the interpreter as the sandbox sees it.
func pythonChecks(v pythonView) []Check {
	var found []string
	for _, n := range commonPackages {
		found = append(found, n+" "+map[bool]string{true: "yes", false: "no"}[v.Imported[n]])
	}
	return []Check{
		{Name: "python sys.path", State: CheckOK, Detail: fmt.Sprintf("Python %s in a sandbox imports from %s", v.Version, strings.Join(v.SysPath, ":"))},
		{Name: "python packages", State: CheckOK, Detail: strings.Join(found, ", ") + " (imported inside a sandbox)"},
	}
}
