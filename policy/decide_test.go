package policy

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

func ptr(f float64) *float64 { return &f }

func TestDecideExecute(t *testing.T) {
	p := Default()
	p.Limits.MaxCodeBytes = 10
	limits := func(timeout time.Duration) sandbox.Limits {
		return sandbox.Limits{
			Timeout:        timeout,
			MemoryBytes:    512 << 20,
			CPUTime:        60 * time.Second,
			MaxProcesses:   64,
			MaxOutputBytes: 65536,
			MaxFileBytes:   64 << 20,
			MaxOpenFiles:   256,
		}
	}
	tests := []struct {
		name     string
		code     string
		timeoutS *float64
		want     sandbox.Limits // zero when refused
		rule     string         // "" when allowed
		reason   []string       // substrings of the reason when refused
	}{
		{name: "default timeout", code: "print(1)", want: limits(30 * time.Second)},
		{name: "explicit timeout", code: "print(1)", timeoutS: ptr(5), want: limits(5 * time.Second)},
		{name: "fractional timeout", code: "print(1)", timeoutS: ptr(0.25), want: limits(250 * time.Millisecond)},
		{name: "tiny timeout is not zero", code: "1", timeoutS: ptr(1e-12), want: limits(1)},
		{name: "timeout at max", code: "print(1)", timeoutS: ptr(300), want: limits(300 * time.Second)},
		{name: "code at byte limit", code: strings.Repeat("x", 10), want: limits(30 * time.Second)},
		{name: "timeout over max", code: "print(1)", timeoutS: ptr(900),
			rule:   "limits.max_timeout_s",
			reason: []string{"timeout_s 900 exceeds the operator's maximum of 300 s (policy limits.max_timeout_s); retry with timeout_s <= 300."}},
		{name: "timeout just over max", code: "print(1)", timeoutS: ptr(300.5),
			rule: "limits.max_timeout_s", reason: []string{"timeout_s 300.5 exceeds", "300 s"}},
		{name: "zero timeout", code: "print(1)", timeoutS: ptr(0),
			rule: RuleTimeoutS, reason: []string{"timeout_s 0 is not positive", "default of 30 s", "up to 300"}},
		{name: "negative timeout", code: "print(1)", timeoutS: ptr(-1),
			rule: RuleTimeoutS, reason: []string{"timeout_s -1 is not positive"}},
		{name: "NaN timeout", code: "print(1)", timeoutS: ptr(math.NaN()),
			rule: RuleTimeoutS, reason: []string{"finite number"}},
		{name: "infinite timeout", code: "print(1)", timeoutS: ptr(math.Inf(1)),
			rule: RuleTimeoutS, reason: []string{"finite number"}},
		{name: "empty code", code: "", rule: RuleCode, reason: []string{"code is empty"}},
		{name: "code over byte limit", code: strings.Repeat("x", 11),
			rule:   "limits.max_code_bytes",
			reason: []string{"code is 11 bytes (UTF-8), over the operator's limit of 10 bytes (policy limits.max_code_bytes)", "split"}},
		// 4 characters, 12 bytes: under the limit in characters, over it in bytes.
		{name: "multibyte code over byte limit", code: "€€€€",
			rule: "limits.max_code_bytes", reason: []string{"code is 12 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, d := p.DecideExecute(tt.code, tt.timeoutS)
			if got != tt.want {
				t.Errorf("limits = %+v, want %+v", got, tt.want)
			}
			if d.Allowed != (tt.rule == "") || d.Rule != tt.rule {
				t.Errorf("decision = %+v, want allowed=%v rule %q", d, tt.rule == "", tt.rule)
			}
			if d.Allowed && d.Reason != "" {
				t.Errorf("allowed decision has a reason: %q", d.Reason)
			}
			for _, s := range tt.reason {
				if !strings.Contains(d.Reason, s) {
					t.Errorf("reason %q does not contain %q", d.Reason, s)
				}
			}
			if !d.Allowed && (!strings.HasSuffix(d.Reason, ".") || strings.Count(d.Reason, ". ") > 0) {
				t.Errorf("reason %q is not one sentence", d.Reason)
			}
		})
	}
}

// TestDefaultLimits: the limits sandboxes are built with ahead of calls are
// exactly those of a call that gives no timeout_s, even under a policy
// whose code limit no code would fit.
func TestDefaultLimits(t *testing.T) {
	for _, p := range []*Policy{Default(), with(func(p *Policy) {
		p.Limits.DefaultTimeoutS, p.Limits.MemoryMB, p.Limits.MaxCodeBytes = 2.5, 1024, 1
	})} {
		want, _ := p.DecideExecute("1", nil)
		if got := p.DefaultLimits(); got != want {
			t.Errorf("DefaultLimits() = %+v, want %+v", got, want)
		}
		if err := p.DefaultLimits().Validate(); err != nil {
			t.Errorf("DefaultLimits() are not valid limits: %v", err)
		}
	}
}

func TestDecideExecuteAllocs(t *testing.T) {
	p := Default()
	timeout := 2.5
	allocs := testing.AllocsPerRun(100, func() {
		if _, d := p.DecideExecute("print('hello')", &timeout); !d.Allowed {
			t.Fatal(d.Reason)
		}
	})
	if allocs != 0 {
		t.Errorf("an allowed DecideExecute allocates %v times, want 0", allocs)
	}
}

func BenchmarkDecideExecute(b *testing.B) {
	p := Default()
	code := strings.Repeat("print('hello, world')\n", 100)
	timeout := 10.0
	b.ReportAllocs()
	for b.Loop() {
		if _, d := p.DecideExecute(code, &timeout); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}
