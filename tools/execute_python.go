package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/policy/precheck"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/schemas"
)

// ExecutePythonName is the name of the execute_python tool.
const ExecutePythonName = "execute_python"

// executePythonArgs are execute_python's arguments.
type executePythonArgs struct {
	Code     string
	TimeoutS *float64 // nil: the policy's default
	Session  string   // "": a fresh sandbox
	Files    []fileArg
}

// executePythonArgsOf reads execute_python's arguments from v, a call's
// arguments as decoded once (Call.Args), without parsing any JSON again.
// Properties it does not know are ignored and null reads as absent, as
// encoding/json would; a property of the wrong type is an error. The input
// schema refuses all of these before the handler runs; the log reads the
// arguments of refused calls too.
func executePythonArgsOf(v any) (executePythonArgs, error) {
	var args executePythonArgs
	m, ok := v.(map[string]any)
	if !ok {
		return args, fmt.Errorf("the arguments are %T, not an object", v)
	}
	switch c := m["code"].(type) {
	case nil:
	case string:
		args.Code = c
	default:
		return args, fmt.Errorf("code is %T, not a string", c)
	}
	switch t := m["timeout_s"].(type) {
	case nil:
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return args, fmt.Errorf("timeout_s: %w", err)
		}
		args.TimeoutS = &f
	default:
		return args, fmt.Errorf("timeout_s is %T, not a number", t)
	}
	session, err := sessionArgOf(v)
	if err != nil {
		return args, err
	}
	args.Session = session
	args.Files, err = fileArgsOf(v)
	return args, err
}

// ExecutePython builds the execute_python tool: its definition with the
// policy's limits filled into the input schema and description, and a
// handler that checks each call against p and runs it on b, or, with a
// session argument, in the caller's session of that name (s; refused with
// a sentence saying why when s offers none). The files a call returns are
// kept in files for the calling client to read by their URIs; nil keeps
// them in a store of the tool's own, which nothing else reads.
func ExecutePython(p *policy.Policy, b sandbox.Backend, s Sessions, files *filestore.Store, log *zap.Logger) (Tool, error) {
	if p == nil || b == nil {
		return Tool{}, errors.New("tools: execute_python needs a policy and a backend")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if files == nil {
		var err error
		if files, err = filestore.New(filestore.Options{TTL: p.Files.TTL()}); err != nil {
			return Tool{}, fmt.Errorf("tools: execute_python: %w", err)
		}
	}
	doc, err := schemas.Read(executePythonInputFile)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: execute_python input schema: %w", err)
	}
	input, err := deriveExecutePythonInput(doc, p, s)
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

	caps := sandbox.CapabilitiesOf(b)
	def := mcp.NewToolWithRawSchema(ExecutePythonName, executePythonDescription(p, caps, s), input)
	def.RawOutputSchema = output
	def.Title = "Run Python in a sandbox"
	def.Annotations = mcp.ToolAnnotation{
		Title:           def.Title,
		ReadOnlyHint:    mcp.ToBoolPtr(false),
		DestructiveHint: mcp.ToBoolPtr(false),
		IdempotentHint:  mcp.ToBoolPtr(false),
		OpenWorldHint:   mcp.ToBoolPtr(p.Network.AllowEgress),
	}

	h := &executePython{policy: p, egress: p.Network.Egress(), enforced: enforcementFor(p, caps), staticLedger: staticLedgerFor(p, caps), backend: b, sessions: s,
		files: files, fileBounds: FileBoundsOf(p), progress: ProgressInterval, log: log.With(zap.String("tool", ExecutePythonName))}
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
	egress *netrules.Egress
	// enforced says which denied destinations the backend blocks itself
	// while the code runs; the pre-check refuses code naming the others.
	enforced precheck.Enforcement
	// staticLedger, when not nil, is the enforcement and note of the
	// ledger this layer fills in from the static check (see fillNetwork).
	staticLedger *sandbox.Network
	backend      sandbox.Backend
	// sessions runs the calls that name a session.
	sessions Sessions
	// files keeps the files calls return; fileBounds bound them.
	files      *filestore.Store
	fileBounds FileBounds
	// progress is the interval of progress notifications.
	progress time.Duration
	log      *zap.Logger
}

// handle runs one execute_python call, whose arguments it reads from the
// call's record, and records in it what became of the call. Everything the
// model can act on is an isError result.
func (h *executePython) handle(ctx context.Context, call *Call) *mcp.CallToolResult {
	err := call.ArgsErr
	var args executePythonArgs
	if err == nil {
		args, err = executePythonArgsOf(call.Args)
	}
	if err != nil {
		msg := "Invalid arguments for execute_python: " + err.Error()
		call.SetStatus(OutcomeInvalid, msg)
		return mcp.NewToolResultError(msg)
	}
	call.SetCode(args.Code)
	call.SessionName = args.Session
	if args.Session != "" && h.sessions.Registry == nil {
		msg := "Sessions are not available on this server: " + h.sessions.offReason() + "; leave out the session argument to run the code in a fresh sandbox (send everything it needs in one call)."
		call.Deny("sessions", "sessions", msg)
		return mcp.NewToolResultError(msg)
	}

	limits, d := h.policy.DecideExecute(args.Code, args.TimeoutS)
	if !d.Allowed {
		h.log.Info("call refused by policy", zap.String("rule", d.Rule))
		call.Deny("limits", d.Rule, d.Reason)
		return mcp.NewToolResultError(d.Reason)
	}

	in, err := inFiles(args.Files, h.policy)
	if err != nil {
		var fe *fileError
		if errors.As(err, &fe) && fe.Limit != "" {
			h.log.Info("call refused by policy", zap.String("rule", fe.Limit))
			call.Deny("files", fe.Limit, err.Error())
		} else {
			call.SetStatus(OutcomeInvalid, err.Error())
		}
		return mcp.NewToolResultError(err.Error())
	}

	pre := precheck.Check(args.Code, h.egress, h.enforced)
	if pre.Refused != nil {
		h.log.Info("call refused by the network pre-check: the backend cannot enforce the rule", zap.String("host", pre.Refused.Host), zap.String("rule", pre.Refused.Rule))
		call.Deny("network", pre.Refused.Rule, pre.Message())
		return mcp.NewToolResultError(pre.Message())
	}

	req := sandbox.Request{Code: args.Code, Limits: limits, Files: in, FileLimits: h.fileBounds.Out}
	if args.Session != "" {
		return h.runInSession(ctx, call, args.Session, req, pre)
	}
	stopProgress := startProgress(ctx, call.Request, h.progress, limits.Timeout)
	res, err := h.backend.Execute(ctx, req)
	stopProgress()
	if err != nil {
		if errors.Is(err, sandbox.ErrBusy) {
			h.log.Warn("call refused: server busy", zap.Error(err))
			msg := strings.Replace(err.Error(), "server busy", "Server busy", 1)
			call.SetStatus(OutcomeBusy, msg)
			return mcp.NewToolResultError(msg)
		}
		if ctx.Err() != nil {
			h.log.Info("call cancelled", zap.Error(err))
			msg := "the call was cancelled before the code finished"
			call.SetStatus(OutcomeCancelled, msg)
			return mcp.NewToolResultError(msg)
		}
		h.log.Error("sandbox could not be started", zap.String("backend", h.backend.Name()), zap.Error(err))
		msg := fmt.Sprintf("the sandbox could not be started: %v; the operator can run `airlock-mcp doctor`", err)
		call.SetStatus(OutcomeFailed, msg)
		return mcp.NewToolResultError(msg)
	}
	return h.respond(call, res, pre)
}

// executePythonLogArgs describes a call's arguments for the log: the code's
// size and SHA-256, never the code, and the requested timeout; only their
// size when they are not execute_python's arguments (a refused call). The
// hash is the one the handler recorded, when it got as far as the code.
func executePythonLogArgs(call *Call) []zap.Field {
	args, err := executePythonArgsOf(call.Args)
	if err != nil {
		return []zap.Field{zap.Int("args_bytes", len(call.RawArgs))}
	}
	codeBytes, sha := call.CodeBytes, call.CodeSHA256
	if sha == "" {
		codeBytes, sha = len(args.Code), codeSHA256(args.Code)
	}
	fields := []zap.Field{zap.Int("code_bytes", codeBytes), zap.String("code_sha256", sha)}
	if args.TimeoutS != nil {
		fields = append(fields, zap.Float64("timeout_s", *args.TimeoutS))
	}
	if args.Session != "" {
		fields = append(fields, zap.String("python_session", args.Session))
	}
	if len(args.Files) > 0 {
		n := 0
		for _, f := range args.Files {
			n += len(f.Content)
		}
		fields = append(fields, zap.Int("files", len(args.Files)), zap.Int("files_content_bytes", n))
	}
	return fields
}
