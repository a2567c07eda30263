package egress

import (
	"context"
	"errors"
	"os/exec"
	"time"
)

// lookPython finds a Python 3 interpreter for the tests that check what
// Python's http.client shows; Debian's is preferred (no site start-up cost).
func lookPython() (string, error) {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", errors.New("no python3 on this machine")
}

// runPython runs script with python and returns its combined output.
func runPython(python, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-I", "-c", script).CombinedOutput()
	return string(out), err
}
