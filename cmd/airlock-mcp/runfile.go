package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// runFile runs one Python file (or stdin) through the same Airlock layer
// and backend as the server — the execute_python tool's own handler, with
// its policy decision and static network check — and prints the result:
// the text a model would read, or with --json the structured result. It
// exits 0 when the code ran ok, 1 when it did not, 2 when it could not run
// at all (refused, or no sandbox).
func runFile(ctx context.Context, o options, p *policy.Policy, log *zap.Logger, path string, stdin io.Reader, stdout, stderr io.Writer) int {
	code, err := readCode(path, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 2
	}
	args := map[string]any{"code": code}
	var timeout *float64
	if o.timeoutS != 0 {
		args["timeout_s"] = o.timeoutS
		timeout = &o.timeoutS
	}
	// Refuse what the policy refuses before building a sandbox, in the
	// words of the command line.
	if _, d := p.DecideExecute(code, timeout); !d.Allowed {
		fmt.Fprintf(stderr, "airlock-mcp: refused by policy: %s\n", asFlags(d.Reason))
		return 2
	}
	backend, err := openBackend(ctx, o.backend, p, true, log, nil)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 2
	}
	defer backend.Close()
	tool, err := tools.ExecutePython(p, backend, tools.Sessions{Off: "`airlock-mcp run` runs each file in a fresh sandbox"}, nil, log)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 2
	}
	var req mcp.CallToolRequest
	req.Params.Name = tools.ExecutePythonName
	req.Params.Arguments = args
	out := tool.Handler(ctx, tools.NewCall(req))
	res, ran := out.StructuredContent.(tools.ExecuteResult)
	if !ran {
		// Refused by the Airlock layer, or no sandbox: the text says why.
		fmt.Fprintf(stderr, "airlock-mcp: %s\n", resultText(out))
		return 2
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		fmt.Fprintln(stdout, resultText(out))
	}
	if res.Status != sandbox.StatusOK {
		return 1
	}
	return 0
}

// resultText is the text of a tool result's first text content.
func resultText(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if t, ok := c.(mcp.TextContent); ok {
			return t.Text
		}
	}
	return "(no text)"
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

// toolArgument matches the execute_python argument a run flag stands for,
// as a word of its own (not inside a policy key such as
// limits.max_timeout_s).
var toolArgument = regexp.MustCompile(`(^|[^\w.])timeout_s\b`)

// asFlags rewrites a reason worded for the model, which names the tool's
// arguments, for a person at the command line, who typed flags: timeout_s
// becomes --timeout.
func asFlags(reason string) string {
	return toolArgument.ReplaceAllString(reason, "${1}--timeout")
}
