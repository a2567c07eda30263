//go:build linux

package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// protections is what a sandbox reports about itself, so doctor states
// what is in force rather than what should be.
type protections struct {
	seccomp    bool // a seccomp filter is installed
	landlock   bool // a Landlock domain denies a write the mounts allow
	noNewPrivs bool
	noCaps     bool
}

// probeScript reads the sandbox's own status and tries one write only
// Landlock forbids (a process may normally rename itself via
// /proc/self/comm).
const probeProtectionsScript = `st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
try:
    open("/proc/self/comm", "w").write("probe")
    ll = "no"
except PermissionError:
    ll = "yes"
print(st["Seccomp"], st["NoNewPrivs"], st["CapEff"], st["CapBnd"], ll)`

func (b *Backend) probeProtections(ctx context.Context) (protections, error) {
	res, err := b.Execute(ctx, sandbox.Request{Code: probeProtectionsScript, Limits: selfTestLimits})
	if err != nil {
		return protections{}, err
	}
	f := strings.Fields(res.Stdout)
	if res.Status != sandbox.StatusOK || len(f) != 5 {
		return protections{}, fmt.Errorf("protection probe failed: %s %q %q", res.Status, res.Stdout, res.Stderr)
	}
	zero := func(s string) bool { return strings.Trim(s, "0") == "" }
	return protections{
		seccomp:    f[0] == "2",
		noNewPrivs: f[1] == "1",
		noCaps:     zero(f[2]) && zero(f[3]),
		landlock:   f[4] == "yes",
	}, nil
}
