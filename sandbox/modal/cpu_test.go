package modal

import (
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestCPUBelowModalGranularityIsRefused: a CPU request Modal would drop
// (under a thousandth of a core) stops New with a message naming the key.
func TestCPUBelowModalGranularityIsRefused(t *testing.T) {
	opts := baseOptions()
	opts.CPU = 0.0004
	_, err := New(opts)
	if err == nil || err.Error() != "modal: cpu must be at least 0.001 (Modal allocates CPU in thousandths of a core), got 0.0004 (policy backend.modal.cpu)" {
		t.Errorf("New with cpu 0.0004 = %v", err)
	}
}

// TestCPURequestReachesModalExactly: Modal gets the CPU request in whole
// thousandths of a core, rounded to the nearest (the SDK alone truncates
// 1.001 to 1.000), and a request that had to be rounded is logged.
func TestCPURequestReachesModalExactly(t *testing.T) {
	tests := []struct {
		cpu     float64
		milli   uint32
		warning bool
	}{
		{0.5, 500, false},
		{1.001, 1001, false},
		{2.003, 2003, false},
		{0.001, 1, false},
		{0.0015, 2, true},
	}
	for _, tt := range tests {
		srv := startCP(t, modaltest.Options{})
		opts := baseOptions()
		opts.CPU = tt.cpu
		b := newBackend(t, srv, opts)
		if _, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits}); err != nil {
			t.Fatalf("cpu %g: %v", tt.cpu, err)
		}
		if got := srv.Sandboxes()[0].Definition.GetResources().GetMilliCpu(); got != tt.milli {
			t.Errorf("cpu %g reached Modal as %d thousandths, want %d", tt.cpu, got, tt.milli)
		}
		warned := b.logs.FilterMessageSnippet("not a whole number of thousandths").Len() == 1
		if warned != tt.warning {
			t.Errorf("cpu %g: rounding warning %v, want %v (%v)", tt.cpu, warned, tt.warning, b.logs.All())
		}
		if warned && !strings.Contains(b.logs.FilterMessageSnippet("thousandths").All()[0].Message, "Modal gets the nearest one") {
			t.Errorf("the warning does not say what Modal gets")
		}
	}
}
