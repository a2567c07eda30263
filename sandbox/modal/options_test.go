package modal

import (
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestOptionProblems: the settings that do not fit the limits are named by
// their policy key, with what to change, and New refuses them.
func TestOptionProblems(t *testing.T) {
	tests := []struct {
		name string
		set  func(o *Options)
		want []string // "pointer|message"
	}{
		{"the test options fit", func(o *Options) {}, nil},
		{"a memory request as large as the cap", func(o *Options) { o.MemoryMiB = 512 }, nil},
		{"a memory request above the cap", func(o *Options) { o.MemoryMiB = 1024 }, []string{
			"/backend/modal/memory_mb|memory_mb 1024 (the memory Modal reserves for each sandbox) is greater than limits.memory_mb 512 (each sandbox's hard cap); lower backend.modal.memory_mb or raise limits.memory_mb"}},
		{"a pool larger than the concurrency", func(o *Options) { o.PoolSize, o.MaxConcurrent = 5, 4 }, []string{
			"/backend/modal/pool_size|pool_size 5 is greater than limits.max_concurrent 4: at most 4 calls run at once, so the extra idle sandboxes would only cost money; lower backend.modal.pool_size"}},
		{"a pool as large as the concurrency", func(o *Options) { o.PoolSize, o.MaxConcurrent = 4, 4 }, nil},
		{"no concurrency limit", func(o *Options) { o.PoolSize, o.MaxConcurrent = 5, 0 }, nil},
		{"a session lifetime longer than Modal allows", func(o *Options) { o.SessionLifetime = 25 * time.Hour }, []string{
			"/sessions/max_lifetime_s|max_lifetime_s 90000 is longer than Modal lets a sandbox live (86400 s); lower sessions.max_lifetime_s"}},
		{"a session lifetime of a day", func(o *Options) { o.SessionLifetime = 24 * time.Hour }, nil},
		{"both, in order", func(o *Options) { o.MemoryMiB, o.PoolSize, o.MaxConcurrent = 1024, 2, 1 }, []string{
			"/backend/modal/memory_mb|memory_mb 1024*", "/backend/modal/pool_size|pool_size 2*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions()
			tt.set(&o)
			probs := o.Problems()
			if len(probs) != len(tt.want) {
				t.Fatalf("Problems = %+v, want %d", probs, len(tt.want))
			}
			for i, p := range probs {
				want := strings.SplitN(tt.want[i], "|", 2)
				msg, prefix := strings.CutSuffix(want[1], "*")
				if p.Pointer != want[0] || prefix && !strings.HasPrefix(p.Message, msg) || !prefix && p.Message != msg {
					t.Errorf("problem %d = %+v, want %q", i, p, tt.want[i])
				}
			}
			err := o.validate()
			if len(probs) > 0 && (err == nil || !strings.Contains(err.Error(), probs[0].Message)) {
				t.Errorf("validate = %v, want the first problem", err)
			}
			if len(probs) == 0 && err != nil {
				t.Errorf("validate = %v", err)
			}
		})
	}
}

// TestExecuteRefusesLimitsNotPositive: a call's limits are checked as on
// every backend (sandbox.Limits.Validate), the process cap included, which
// Modal does not enforce but the local backend does: no sandbox is created
// for limits the local backend would refuse.
func TestExecuteRefusesLimitsNotPositive(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	for name, zero := range map[string]func(l *sandbox.Limits){
		"MaxProcesses": func(l *sandbox.Limits) { l.MaxProcesses = 0 },
		"MemoryBytes":  func(l *sandbox.Limits) { l.MemoryBytes = 0 },
	} {
		limits := callLimits
		zero(&limits)
		if res, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: limits}); err == nil {
			t.Errorf("%s 0: Execute = %+v, want an error", name, res)
		}
	}
	if n := len(srv.Requests("SandboxCreateV2")); n != 0 {
		t.Errorf("%d sandboxes asked for, want none", n)
	}
}
