package main_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSandboxHelperInitializesEarly: the local backend's init helper takes
// the re-exec'd binary over from its package's init function, which Go runs
// only after every package it depends on. Every sandbox built on demand
// waits for the packages initialized before it, so the helper must come
// before the server's heavy ones (JSON Schema's meta-schemas, protobuf
// descriptors, logging, HTTP).
func TestSandboxHelperInitializesEarly(t *testing.T) {
	cmd := exec.Command(airlockBinary(t), "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	position := map[string]int{}
	for i, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			position[f[1]] = i
		}
	}
	helper, ok := position["github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit"]
	if !ok {
		t.Fatalf("the helper package is not initialized at all:\n%s", out)
	}
	for _, heavy := range []string{
		"github.com/santhosh-tekuri/jsonschema/v6",
		"github.com/modal-labs/modal-client/go/proto/modal_proto",
		"google.golang.org/grpc",
		"go.uber.org/zap",
		"net/http",
		"github.com/airlock-mcp/airlock-mcp/policy",
	} {
		if p, ok := position[heavy]; !ok {
			t.Errorf("%s is not initialized: the test's list is out of date", heavy)
		} else if p < helper {
			t.Errorf("%s is initialized before the sandbox helper: every sandbox would wait for it", heavy)
		}
	}
}
