package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// runFile runs one Python file (or stdin) through the same Airlock policy
// and backend as the server, and prints the result: the text a model would
// read, or with --json the structured result. It exits 0 when the code ran
// ok, 1 when it did not, 2 when it could not run at all.
func runFile(ctx context.Context, o options, p *policy.Policy, log *zap.Logger, path string, stdin io.Reader, stdout, stderr io.Writer) int {
	code, err := readCode(path, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 2
	}
	var timeout *float64
	if o.timeoutS != 0 {
		timeout = &o.timeoutS
	}
	limits, decision := p.DecideExecute(code, timeout)
	if !decision.Allowed {
		fmt.Fprintf(stderr, "airlock-mcp: refused by policy: %s\n", decision.Reason)
		return 2
	}
	backend, err := openBackend(ctx, o.backend, p, true, log)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 2
	}
	defer backend.Close()
	res, err := backend.Execute(ctx, sandbox.Request{Code: code, Limits: limits})
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 2
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		fmt.Fprintln(stdout, tools.FormatResult(res))
	}
	if res.Status != sandbox.StatusOK {
		return 1
	}
	return 0
}

func readCode(path string, stdin io.Reader) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("read code: %w", err)
	}
	return string(b), nil
}
