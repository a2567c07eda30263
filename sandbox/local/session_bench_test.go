//go:build linux

package local_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// BenchmarkSessionPrint1 measures print(1) as a call in a live session
// against the same call on a warm fresh sandbox (as BenchmarkPrint1's
// sandbox-warm), side by side in one run; a session's call is to add at
// most 1 ms:
//
//	go test -run '^$' -bench SessionPrint1 -count 10 ./sandbox/local/ | benchstat -
func BenchmarkSessionPrint1(b *testing.B) {
	be, err := local.New(context.Background(), local.Options{
		Python:        os.Getenv("AIRLOCK_TEST_PYTHON"),
		WarmSandboxes: 1,
		WarmLimits:    limits(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	req := sandbox.Request{Code: "print(1)", Limits: limits()}
	check := func(b *testing.B, res sandbox.Result, err error) {
		if err != nil || res.Status != sandbox.StatusOK || res.Stdout != "1\n" {
			b.Fatalf("print(1): %+v %v", res, err)
		}
	}
	b.Run("fresh-warm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if err := be.WaitWarm(context.Background()); err != nil { // the event: a warm sandbox is ready
				b.Fatal(err)
			}
			b.StartTimer()
			res, err := be.Execute(context.Background(), req)
			check(b, res, err)
		}
	})
	s, err := be.StartSession(context.Background(), sandbox.SessionKey{Owner: "bench", Name: "print1"}, limits())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("session", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := s.Execute(context.Background(), req)
			check(b, res, err)
		}
	})
}

// BenchmarkSessionNumpy measures what a session saves on real work: a
// fresh call that imports numpy and sums an array, against the same sum in
// a session that imported numpy in an earlier call, side by side in one
// run (the session's call is to be at least 20× faster). It needs an
// interpreter with numpy: AIRLOCK_BENCH_NUMPY_PYTHON, else Debian's
// /usr/bin/python3.
//
//	go test -run '^$' -bench SessionNumpy -count 6 ./sandbox/local/
func BenchmarkSessionNumpy(b *testing.B) {
	python := os.Getenv("AIRLOCK_BENCH_NUMPY_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	if err := exec.Command(python, "-I", "-c", "import numpy").Run(); err != nil {
		b.Skipf("%s cannot import numpy: %v", python, err)
	}
	be, err := local.New(context.Background(), local.Options{Python: python, WarmSandboxes: 1, WarmLimits: limits()})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	run := func(b *testing.B, execute func(context.Context, sandbox.Request) (sandbox.Result, error), code string) {
		res, err := execute(context.Background(), sandbox.Request{Code: code, Limits: limits()})
		if err != nil || res.Status != sandbox.StatusOK || res.Result == nil || *res.Result != "np.float64(0.0)" && *res.Result != "0.0" {
			b.Fatalf("%q: %+v %v", code, res, err)
		}
	}
	b.Run("fresh-import-and-sum", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if err := be.WaitWarm(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			run(b, be.Execute, "import numpy\nnumpy.zeros(3).sum()")
		}
	})
	s, err := be.StartSession(context.Background(), sandbox.SessionKey{Owner: "bench", Name: "numpy"}, limits())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	run(b, s.Execute, "import numpy\nnumpy.zeros(3).sum()")
	b.Run("session-sum", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			run(b, s.Execute, "numpy.zeros(3).sum()")
		}
	})
}
