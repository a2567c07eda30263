//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestOpenRefusesALogInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "another process is writing this audit log") {
		t.Errorf("second Open = %v, want it refused", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = w2.Close()
}
