package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
)

// TestAuditedConcurrentCalls: calls made at once through the MCP server
// each get one audit record with its own code and output hashes, and the
// log verifies. The audit writer hashes results on its own goroutine while
// the server is still encoding them for the client: run with -race (as
// scripts/test.sh does) this catches any data shared between the two.
func TestAuditedConcurrentCalls(t *testing.T) {
	for _, protocol := range protocols {
		t.Run(protocol, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			w, err := audit.Open(path, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			p := policy.Default()
			p.Limits.CallsPerMinute = 0 // every call runs
			s, err := New(Options{Policy: p, Backend: noopBackend{}, Version: "test", Audit: w})
			if err != nil {
				t.Fatal(err)
			}
			c := connect(t, s, protocol)
			const calls = 40
			var wg sync.WaitGroup
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := callTool(context.Background(), c, fmt.Sprintf(`{"code":"print(%d)"}`, i))
					if err != nil || res.IsError {
						t.Errorf("call %d: %v %+v", i, err, res)
					}
				}()
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if rep, err := audit.VerifyFile(path); err != nil || rep.Records != calls {
				t.Fatalf("verify: %+v %v", rep, err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			codes, outputs := map[string]bool{}, map[string]bool{}
			for sc := bufio.NewScanner(f); sc.Scan(); {
				var r audit.Record
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					t.Fatal(err)
				}
				if r.Status != "ok" || len(r.OutputSHA256) != 64 {
					t.Errorf("record %+v", r)
				}
				codes[r.CodeSHA256], outputs[r.OutputSHA256] = true, true
			}
			// The no-op backend answers every call alike: one output hash.
			if len(codes) != calls || len(outputs) != 1 {
				t.Errorf("%d code hashes and %d output hashes for %d calls", len(codes), len(outputs), calls)
			}
		})
	}
}
