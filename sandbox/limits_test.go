package sandbox

import (
	"testing"
	"time"
)

// validLimits are limits with every field set.
var validLimits = Limits{Timeout: time.Second, MemoryBytes: 1 << 20, CPUTime: time.Second, MaxProcesses: 1,
	MaxOutputBytes: 1, MaxFileBytes: 1, MaxOpenFiles: 1}

// TestLimitsValidate: every limit the struct defines must be positive, the
// process cap included (a backend that does not cap processes gets the
// same limits as one that does).
func TestLimitsValidate(t *testing.T) {
	if err := validLimits.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for name, zero := range map[string]func(*Limits){
		"Timeout":        func(l *Limits) { l.Timeout = 0 },
		"MemoryBytes":    func(l *Limits) { l.MemoryBytes = 0 },
		"CPUTime":        func(l *Limits) { l.CPUTime = -time.Second },
		"MaxProcesses":   func(l *Limits) { l.MaxProcesses = 0 },
		"MaxOutputBytes": func(l *Limits) { l.MaxOutputBytes = 0 },
		"MaxFileBytes":   func(l *Limits) { l.MaxFileBytes = 0 },
		"MaxOpenFiles":   func(l *Limits) { l.MaxOpenFiles = -1 },
	} {
		l := validLimits
		zero(&l)
		if err := l.Validate(); err == nil {
			t.Errorf("Validate() with %s not positive = nil, want an error", name)
		}
	}
}

// TestPoolKey: limits that differ only in the timeout share a key; any
// other limit makes another key.
func TestPoolKey(t *testing.T) {
	longer := validLimits
	longer.Timeout = time.Hour
	if validLimits.PoolKey() != longer.PoolKey() {
		t.Error("limits differing only in the timeout have different keys")
	}
	if validLimits.PoolKey().Timeout != 0 {
		t.Error("the key keeps the timeout")
	}
	fewer := validLimits
	fewer.MaxProcesses = 2
	if validLimits.PoolKey() == fewer.PoolKey() {
		t.Error("limits differing in MaxProcesses share a key")
	}
}
