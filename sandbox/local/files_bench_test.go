//go:build linux

package local_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
)

// BenchmarkFileOut measures what returning a file costs: a call whose
// code leaves a 100 KB PNG in out/, with the file returned and without
// (a zero FileLimits: no walk, no frame), alternately on a warm backend,
// each call waiting off the clock for a warm sandbox as BenchmarkPrint1's
// sandbox-warm does. It reports the median of each and of their
// differences pair by pair (issue 12: under 5 ms added):
//
//	go test -run '^$' -bench FileOut -benchtime 40x ./sandbox/local/
func BenchmarkFileOut(b *testing.B) {
	be, err := local.New(context.Background(), local.Options{Python: os.Getenv("AIRLOCK_TEST_PYTHON"), WarmSandboxes: 1, WarmLimits: limits()})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	code := `import os
os.mkdir("out")
with open("out/plot.png", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + os.urandom(100_000 - 8))`
	call := func(fl sandbox.FileLimits, files int) time.Duration {
		if err := be.WaitWarm(context.Background()); err != nil { // the event: a warm sandbox is ready
			b.Fatal(err)
		}
		start := time.Now()
		res, err := be.Execute(context.Background(), sandbox.Request{Code: code, Limits: limits(), FileLimits: fl})
		took := time.Since(start)
		if err != nil || res.Status != sandbox.StatusOK || len(res.Files) != files || files == 1 && len(res.Files[0].Data) != 100_000 {
			b.Fatalf("%+v %v", res, err)
		}
		return took
	}
	b.StopTimer()
	var without, returned, added []time.Duration
	for i := 0; i < b.N; i++ {
		w := call(sandbox.FileLimits{}, 0)
		r := call(sandbox.FileLimits{MaxOutBytes: 1 << 20, MaxOutCount: 4}, 1)
		without, returned, added = append(without, w), append(returned, r), append(added, r-w)
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2]) / float64(time.Millisecond)
	}
	b.ReportMetric(median(without), "ms-without")
	b.ReportMetric(median(returned), "ms-returned")
	b.ReportMetric(median(added), "ms-added")
}
