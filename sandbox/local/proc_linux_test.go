package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// TestAwaitSetupCancelled: a call cancelled while its sandbox is being set
// up ends with an error that starts with the package's name, wraps the
// context's, and kills the half-built sandbox.
func TestAwaitSetupCancelled(t *testing.T) {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer statusW.Close() // held open: the helper is still setting up
	cmd := exec.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, statusR: statusR, done: make(chan struct{}), cleanup: func() {}}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = p.awaitSetup(ctx)
	if !errors.Is(err, context.Canceled) || err.Error() != "local: sandbox setup: context canceled" {
		t.Errorf("awaitSetup = %v, want local: sandbox setup: context canceled", err)
	}
	if !p.exited() {
		t.Error("the sandbox still runs")
	}
}
