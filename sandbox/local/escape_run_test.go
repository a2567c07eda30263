//go:build linux

package local_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// runEscapeCase runs one attack in a fresh sandbox of b, or, with
// execute, through execute (a session's), and checks it.
func runEscapeCase(t *testing.T, b *local.Backend, tc escapeCase, execute func(sandbox.Limits) sandbox.Result) {
	if tc.amd64Only && runtime.GOARCH != "amd64" {
		t.Skip("x86-64 machine code")
	}
	if tc.needsCgroups && !b.CgroupsActive() {
		t.Skip("no cgroups for this server (rootless): memory is bounded per process only; see doctor")
	}
	if tc.withoutCgroupsOnly && b.CgroupsActive() {
		t.Skip("a memory cgroup bounds each sandbox: memfd and System V IPC are charged to it")
	}
	l := limits()
	l.MaxFileBytes = 16 << 20
	if tc.limits != nil {
		tc.limits(&l)
	}
	var res sandbox.Result
	if execute != nil {
		res = execute(l)
	} else {
		var err error
		if res, err = b.Execute(context.Background(), sandbox.Request{Code: pyPrelude + tc.code, Limits: l}); err != nil {
			t.Fatalf("Execute: %v", err)
		}
	}
	check := tc.check
	if check == nil {
		check = defaultEscapeCheck
	}
	check(t, res)
	if testing.Verbose() {
		t.Logf("stdout:\n%s", res.Stdout)
	}
	// Whatever the attack, the next call gets a working sandbox.
	after, err := b.Execute(context.Background(), sandbox.Request{Code: "6*7", Limits: limits()})
	if err != nil || after.Status != sandbox.StatusOK || resultString(after) != "42" {
		t.Errorf("the sandbox does not work after the attack: %+v %v", after, err)
	}
}
