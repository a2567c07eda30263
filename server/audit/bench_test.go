package audit

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/zap"
)

// BenchmarkWrite measures what Write costs a tool call, with calls from
// many goroutines at once. Sustained for b.N records, the queue fills and
// Write blocks, so this measures how fast the background goroutine writes
// the file; BenchmarkWriteQueued measures a call that finds room in the
// queue, the usual case.
func BenchmarkWrite(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "audit.jsonl"), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	r := testRecord(1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Write(r)
		}
	})
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteQueued measures Write alone, when the queue has room (the
// usual case): parallel bursts of QueueSize records to a writer whose
// goroutine is not running, the queue emptied, untimed, after each burst.
func BenchmarkWriteQueued(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	w, err := newWriter(f, path, zap.NewNop()) // no goroutine yet
	if err != nil {
		b.Fatal(err)
	}
	r := testRecord(1)
	const goroutines = 4
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += QueueSize {
		n := min(QueueSize, b.N-sent)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := g; i < n; i += goroutines {
					w.Write(r)
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		for range n {
			<-w.queue
		}
		b.StartTimer()
	}
	b.StopTimer()
	go w.run()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
