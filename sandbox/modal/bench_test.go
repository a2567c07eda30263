package modal

import (
	"slices"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// benchCreateDelay stands in for Modal's sandbox creation (median 2.7 s in
// an independent benchmark).
const benchCreateDelay = 2 * time.Second

// BenchmarkExecutePool measures one execute of print(1), end to end through
// the SDK and the test control plane, with creation slowed to 2 s: from a
// full warm pool, and with the pool off. It reports the median as
// median-ms. Run with -benchtime=Nx (each cold call takes over 2 s):
//
//	go test -run '^$' -bench ExecutePool -benchtime 8x ./sandbox/modal/
func BenchmarkExecutePool(b *testing.B) {
	for _, bc := range []struct {
		name string
		pool int
	}{{"pool=off", 0}, {"pool=on", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := startCP(b, modaltest.Options{CreateDelay: benchCreateDelay})
			be, clk := newPoolBackend(b, srv, baseOptions(), bc.pool)
			if _, err := be.session(testContext(b)); err != nil {
				b.Fatal(err)
			}
			req := sandbox.Request{Code: "print(1)", Limits: callLimits}
			var took []time.Duration
			b.ResetTimer()
			for b.Loop() {
				if bc.pool > 0 {
					b.StopTimer()
					waitPoolFull(b, be, clk, bc.pool)
					b.StartTimer()
				}
				start := time.Now()
				res, err := be.Execute(testContext(b), req)
				took = append(took, time.Since(start))
				if err != nil || res.Status != sandbox.StatusOK {
					b.Fatalf("Execute: %+v, %v", res, err)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// BenchmarkPooledSandboxCheck measures what checking a pooled sandbox
// before use adds to a call from the pool: one Poll of a live sandbox on
// the test control plane.
//
//	go test -run '^$' -bench PooledSandboxCheck ./sandbox/modal/
func BenchmarkPooledSandboxCheck(b *testing.B) {
	srv := startCP(b, modaltest.Options{})
	be, clk := newPoolBackend(b, srv, baseOptions(), 1)
	waitPoolFull(b, be, clk, 1)
	be.pool.mu.Lock()
	sb := be.pool.ready[0].sb
	be.pool.mu.Unlock()
	ctx := testContext(b)
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		alive, err := be.alive(ctx, sb)
		took = append(took, time.Since(start))
		if err != nil || !alive {
			b.Fatalf("alive = %v, %v", alive, err)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
}
