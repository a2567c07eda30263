package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/schemas"
)

// ExecutePythonName is the name of the execute_python tool.
const ExecutePythonName = "execute_python"

// executePythonArgs are execute_python's arguments, decoded from the wire
// bytes that already passed the input schema.
type executePythonArgs struct {
	Code     string   `json:"code"`
	TimeoutS *float64 `json:"timeout_s"`
}

// ExecutePython builds the execute_python tool: its definition with the
// policy's limits filled into the input schema and description, and a
// handler that checks each call against p and runs it on b.
func ExecutePython(p *policy.Policy, b sandbox.Backend, log *zap.Logger) (Tool, error) {
	if p == nil || b == nil {
		return Tool{}, errors.New("tools: execute_python needs a policy and a backend")
	}
	if log == nil {
		log = zap.NewNop()
	}
	doc, err := schemas.Read(executePythonInputFile)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: execute_python input schema: %w", err)
	}
	input, err := deriveExecutePythonInput(doc, p.Limits)
	if err != nil {
		return Tool{}, err
	}
	inSchema, err := schemas.Compile(executePythonInputFile, input)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: execute_python input schema: %w", err)
	}
	output, err := schemas.Read(executePythonOutputFile)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: execute_python output schema: %w", err)
	}
	outSchema, err := schemas.Compile(executePythonOutputFile, output)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: execute_python output schema: %w", err)
	}

	def := mcp.NewToolWithRawSchema(ExecutePythonName, executePythonDescription(p.Limits, p.Network, b.Name()), input)
	def.RawOutputSchema = output
	def.Title = "Run Python in a sandbox"
	def.Annotations = mcp.ToolAnnotation{
		Title:           def.Title,
		ReadOnlyHint:    mcp.ToBoolPtr(false),
		DestructiveHint: mcp.ToBoolPtr(false),
		IdempotentHint:  mcp.ToBoolPtr(false),
		OpenWorldHint:   mcp.ToBoolPtr(p.Network.AllowEgress),
	}

	h := &executePython{policy: p, backend: b, log: log.With(zap.String("tool", ExecutePythonName))}
	return Tool{
		Definition: def,
		Input:      inSchema,
		Output:     outSchema,
		Handler:    h.handle,
		LogArgs:    executePythonLogArgs,
	}, nil
}

// executePython holds the handler's dependencies.
type executePython struct {
	policy  *policy.Policy
	backend sandbox.Backend
	log     *zap.Logger
}

// handle runs one execute_python call. Everything the model can act on is an
// isError result; it never returns a Go error.
func (h *executePython) handle(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var args executePythonArgs
	raw, err := RawArguments(req)
	if err == nil {
		err = json.Unmarshal(raw, &args)
	}
	if err != nil {
		return mcp.NewToolResultError("Invalid arguments for execute_python: " + err.Error()), nil
	}

	limits, d := h.policy.DecideExecute(args.Code, args.TimeoutS)
	if !d.Allowed {
		h.log.Info("call refused by policy", zap.String("rule", d.Rule))
		return mcp.NewToolResultError(d.Reason), nil
	}

	res, err := h.backend.Execute(ctx, sandbox.Request{Code: args.Code, Limits: limits})
	if err != nil {
		if ctx.Err() != nil {
			h.log.Info("call cancelled", zap.Error(err))
			return mcp.NewToolResultError("the call was cancelled before the code finished"), nil
		}
		h.log.Error("sandbox could not be started", zap.String("backend", h.backend.Name()), zap.Error(err))
		return mcp.NewToolResultError(fmt.Sprintf(
			"the sandbox could not be started: %v; the operator can run `airlock-mcp doctor`", err)), nil
	}
	return &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.NewTextContent(FormatResult(res))},
		StructuredContent: res,
		IsError:           res.Status != sandbox.StatusOK,
	}, nil
}

// executePythonLogArgs describes a call's arguments for the log: the code's
// size and SHA-256, never the code, and the requested timeout.
func executePythonLogArgs(raw []byte) []zap.Field {
	var args executePythonArgs
	if err := json.Unmarshal(raw, &args); err != nil {
		return []zap.Field{zap.Int("args_bytes", len(raw))}
	}
	sum := sha256.Sum256([]byte(args.Code))
	fields := []zap.Field{
		zap.Int("code_bytes", len(args.Code)),
		zap.String("code_sha256", hex.EncodeToString(sum[:])),
	}
	if args.TimeoutS != nil {
		fields = append(fields, zap.Float64("timeout_s", *args.TimeoutS))
	}
	return fields
}
