//go:build linux

package local_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// BenchmarkPrint1 measures execute_python of print(1) through the local
// backend against the reference, a bare `python -I -S -c 'print(1)'` spawn
// of the same interpreter, in the same run. The sandbox's overhead is the
// difference of the two medians:
//
//	go test -run '^$' -bench Print1 -count 10 ./sandbox/local/ | benchstat -
//
// sandbox-cold builds each sandbox on demand; sandbox-warm takes one built
// ahead of the call (Options.WarmSandboxes), as the server does, and waits
// (off the clock) for the pool to refill and 50 ms more between calls, as
// calls spaced by a model's turns find it. Either way every call gets a
// fresh sandbox.
func BenchmarkPrint1(b *testing.B) {
	be := newBackend(b)
	python := be.Interpreter().Executable
	b.Run("bare-python", func(b *testing.B) {
		for b.Loop() {
			out, err := exec.Command(python, "-I", "-S", "-c", "print(1)").Output()
			if err != nil || string(out) != "1\n" {
				b.Fatalf("bare python: %q %v", out, err)
			}
		}
	})
	req := sandbox.Request{Code: "print(1)", Limits: limits()}
	execute := func(b *testing.B, be sandbox.Backend) {
		for b.Loop() {
			res, err := be.Execute(context.Background(), req)
			if err != nil || res.Status != sandbox.StatusOK || res.Stdout != "1\n" {
				b.Fatalf("sandbox: %+v %v", res, err)
			}
		}
	}
	b.Run("sandbox-cold", func(b *testing.B) { execute(b, be) })
	warm, err := local.New(context.Background(), local.Options{
		Python:        os.Getenv("AIRLOCK_TEST_PYTHON"),
		WarmSandboxes: 1,
		WarmLimits:    limits(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer warm.Close()
	b.Run("sandbox-warm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if err := warm.WaitWarm(context.Background()); err != nil {
				b.Fatal(err)
			}
			// A model's turn passes between calls: let the kernel finish
			// tearing the previous sandbox down (namespaces, cgroups).
			time.Sleep(50 * time.Millisecond)
			b.StartTimer()
			res, err := warm.Execute(context.Background(), req)
			if err != nil || res.Status != sandbox.StatusOK || res.Stdout != "1\n" {
				b.Fatalf("sandbox: %+v %v", res, err)
			}
		}
	})
}
