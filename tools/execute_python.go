package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/policy/precheck"
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
func ExecutePython(p *policy.Policy, b sandbox.Backend, log *zap.Logger, opts ...Option) (Tool, error) {
	o := options{progressInterval: DefaultProgressInterval}
	for _, opt := range opts {
		opt(&o)
	}
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

	h := &executePython{policy: p, egress: p.Network.Egress(), enforced: enforcementFor(p, b), staticLedger: staticLedgerFor(p, b), backend: b, progress: o.progressInterval, log: log.With(zap.String("tool", ExecutePythonName))}
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
	policy *policy.Policy
	egress *policy.Egress
	// enforced says which denied destinations the backend blocks itself
	// while the code runs; the pre-check refuses code naming the others.
	enforced precheck.Enforcement
	// staticLedger, when not nil, is the enforcement and note of the
	// ledger this layer fills in from the static check (see fillNetwork).
	staticLedger *sandbox.Network
	backend      sandbox.Backend
	// progress is the interval of progress notifications.
	progress time.Duration
	log      *zap.Logger
}

// handle runs one execute_python call. Everything the model can act on is an
// isError result; it never returns a Go error.
func (h *executePython) handle(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var args executePythonArgs
	raw, err := RawArguments(req)
	if err == nil {
		err = json.Unmarshal(raw, &args)
	}
	out := OutcomeFrom(ctx)
	if err != nil {
		msg := "Invalid arguments for execute_python: " + err.Error()
		out.Set(OutcomeInvalid, msg)
		return mcp.NewToolResultError(msg), nil
	}
	out.SetCode(codeSHA256(args.Code), len(args.Code))

	limits, d := h.policy.DecideExecute(args.Code, args.TimeoutS)
	if !d.Allowed {
		h.log.Info("call refused by policy", zap.String("rule", d.Rule))
		out.Deny("limits", d.Reason)
		return mcp.NewToolResultError(d.Reason), nil
	}

	pre := precheck.Check(args.Code, h.egress, h.enforced)
	if pre.Refused != nil {
		h.log.Info("call refused by the network pre-check: the backend cannot enforce the rule", zap.String("host", pre.Refused.Host), zap.String("rule", pre.Refused.Rule))
		out.Deny("network", pre.Message())
		return mcp.NewToolResultError(pre.Message()), nil
	}

	stopProgress := startProgress(ctx, req, h.progress, limits.Timeout)
	res, err := h.backend.Execute(ctx, sandbox.Request{Code: args.Code, Limits: limits})
	stopProgress()
	if err != nil {
		if errors.Is(err, sandbox.ErrBusy) {
			h.log.Warn("call refused: server busy", zap.Error(err))
			msg := strings.Replace(err.Error(), "server busy", "Server busy", 1)
			out.Set(OutcomeBusy, msg)
			return mcp.NewToolResultError(msg), nil
		}
		if ctx.Err() != nil {
			h.log.Info("call cancelled", zap.Error(err))
			msg := "the call was cancelled before the code finished"
			out.Set(OutcomeCancelled, msg)
			return mcp.NewToolResultError(msg), nil
		}
		h.log.Error("sandbox could not be started", zap.String("backend", h.backend.Name()), zap.Error(err))
		msg := fmt.Sprintf("the sandbox could not be started: %v; the operator can run `airlock-mcp doctor`", err)
		out.Set(OutcomeFailed, msg)
		return mcp.NewToolResultError(msg), nil
	}
	h.fillNetwork(&res, pre)
	out.SetResult(res)
	text := FormatResult(res)
	if note := preCheckNote(res, pre); note != "" {
		text += "\n" + note
	}
	return &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.NewTextContent(text)},
		StructuredContent: res,
		IsError:           res.Status != sandbox.StatusOK,
	}, nil
}

// fillNetwork completes the result's network ledger with what the Airlock
// layer knows where the backend reports no connections: on Modal with
// egress, the destinations the static check found in the code; elsewhere,
// when the backend left it empty, no network.
func (h *executePython) fillNetwork(res *sandbox.Result, pre precheck.Result) {
	switch {
	case h.staticLedger != nil:
		res.Network = &sandbox.Network{Enforcement: h.staticLedger.Enforcement, Note: h.staticLedger.Note, Connections: staticConnections(pre)}
	case res.Network == nil:
		res.Network = &sandbox.Network{Enforcement: sandbox.EnforcementNone, Connections: []sandbox.Connection{}}
	}
}

// enforcementFor says which destinations the network policy denies backend
// b blocks itself while the code runs: all of them, except on Modal with
// egress, where Modal blocks only what its allowlists leave out (see
// policy.ModalFilter); with on_unenforceable: refuse no denied destination
// gets through, with advisory the gaps do.
func enforcementFor(p *policy.Policy, b sandbox.Backend) precheck.Enforcement {
	if !p.Network.AllowEgress || b.Name() != policy.BackendModal {
		return nil
	}
	m := p.Network.ModalFilter()
	return func(f precheck.Finding) bool { return m.Blocks(f.Host, f.Addr, f.Port) }
}

// staticLedgerFor is the enforcement and note of the ledger the Airlock
// layer fills in for backend b under p, or nil when the backend reports
// its own (or there is no network): Modal with egress, whose connections
// Modal does not report.
func staticLedgerFor(p *policy.Policy, b sandbox.Backend) *sandbox.Network {
	n := p.Network
	if !n.AllowEgress || b.Name() != policy.BackendModal {
		return nil
	}
	if n.OnUnenforceable == policy.Advisory && len(n.ModalGaps()) > 0 {
		return &sandbox.Network{Enforcement: sandbox.EnforcementAdvisory,
			Note: "Modal enforced part of the network policy natively; the rules it cannot enforce were only checked statically against the code (advisory). Modal does not report connections; listed are the destinations found in the code."}
	}
	return &sandbox.Network{Enforcement: sandbox.EnforcementModal,
		Note: "Modal enforced the network policy natively and does not report connections; listed are the destinations the Airlock layer found in the code before running it."}
}

// staticConnections lists the static check's findings as ledger entries.
func staticConnections(pre precheck.Result) []sandbox.Connection {
	out := make([]sandbox.Connection, 0, len(pre.Findings))
	for _, f := range pre.Findings {
		c := sandbox.Connection{Host: f.Host, Port: f.Port, Method: "static", Allowed: f.Verdict.Allowed, Rule: f.Verdict.Rule}
		if !c.Allowed {
			c.Reason = f.Verdict.Reason
		}
		out = append(out, c)
	}
	return out
}

// executePythonLogArgs describes a call's arguments for the log: the code's
// size and SHA-256, never the code, and the requested timeout. The hash
// comes from o when the handler got as far as computing it.
func executePythonLogArgs(raw []byte, o CallOutcome) []zap.Field {
	if o.CodeSHA256 != "" {
		var args struct {
			TimeoutS *float64 `json:"timeout_s"`
		}
		_ = json.Unmarshal(raw, &args) // the handler decoded them already
		return logFields(o.CodeBytes, o.CodeSHA256, args.TimeoutS)
	}
	var args executePythonArgs
	if err := json.Unmarshal(raw, &args); err != nil {
		return []zap.Field{zap.Int("args_bytes", len(raw))}
	}
	return logFields(len(args.Code), codeSHA256(args.Code), args.TimeoutS)
}

func logFields(codeBytes int, codeSHA256 string, timeoutS *float64) []zap.Field {
	fields := []zap.Field{zap.Int("code_bytes", codeBytes), zap.String("code_sha256", codeSHA256)}
	if timeoutS != nil {
		fields = append(fields, zap.Float64("timeout_s", *timeoutS))
	}
	return fields
}

// codeSHA256 is the hex SHA-256 of code.
func codeSHA256(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}
