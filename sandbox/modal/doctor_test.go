package modal

import (
	"strings"
	"testing"
	"time"
)

// TestDiagnosePoolLifetime: doctor warns when a pooled sandbox's idle
// lifetime is so short that Modal's slow creations (22 s at p99) would
// have the pool replacing sandboxes all the time, and says what to set.
func TestDiagnosePoolLifetime(t *testing.T) {
	tests := []struct {
		name     string
		pool     int
		lifetime time.Duration
		warn     bool
	}{
		{"default timeout_s with a pool", 1, 30 * time.Second, true},
		{"long enough", 1, 45 * time.Second, false},
		{"no pool", 0, 30 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOptions()
			opts.PoolSize, opts.Lifetime = tt.pool, tt.lifetime
			checks, _ := Diagnose(opts)
			var pool Check
			for _, c := range checks {
				if c.Name == "pool" {
					pool = c
				}
			}
			if !pool.OK || pool.Warn != tt.warn {
				t.Fatalf("pool check %+v, want ok and warn %v", pool, tt.warn)
			}
			if tt.warn && (!strings.Contains(pool.Detail, "up to about 22 s (p99), more than half of backend.modal.timeout_s (30 s)") ||
				!strings.Contains(pool.Detail, "raise timeout_s to 44 or more") || !strings.HasPrefix(pool.String(), "warn\tpool\t")) {
				t.Errorf("warning %q", pool)
			}
		})
	}
}
