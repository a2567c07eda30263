package modaltest

import "testing"

func TestParseStat(t *testing.T) {
	tests := []struct {
		stat  string
		state string
		pgrp  int
		ok    bool
	}{
		{"123 (sleep) S 1 120 120 0", "S", 120, true},
		{"7 (a (weird) name) Z 1 7 7", "Z", 7, true},
		{"garbage", "", 0, false},
	}
	for _, tt := range tests {
		state, pgrp, ok := parseStat(tt.stat)
		if state != tt.state || pgrp != tt.pgrp || ok != tt.ok {
			t.Errorf("parseStat(%q) = %q, %d, %v", tt.stat, state, pgrp, ok)
		}
	}
}
