package server

import (
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestEveryStatusIsAMetricsLabel: every status a call can be recorded with
// is a label value of its own in the metrics, not "other".
func TestEveryStatusIsAMetricsLabel(t *testing.T) {
	for _, s := range []string{
		string(sandbox.StatusOK), string(sandbox.StatusError), string(sandbox.StatusTimeout), string(sandbox.StatusKilled),
		tools.OutcomeInvalid, tools.OutcomeDenied, tools.OutcomeRateLimited, tools.OutcomeBusy, tools.OutcomeCancelled, tools.OutcomeFailed,
	} {
		if !metrics.KnownStatus(s) {
			t.Errorf("status %q is recorded as %q in the metrics", s, metrics.Other)
		}
	}
}
