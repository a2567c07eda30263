package tools

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Statuses of a call that did not run to a sandbox result, as the audit log
// and the metrics record them. A call that ran has its sandbox.Status.
const (
	// OutcomeInvalid: the arguments failed the input schema.
	OutcomeInvalid = "invalid"
	// OutcomeDenied: the Airlock policy refused the call.
	OutcomeDenied = "denied"
	// OutcomeRateLimited: the client exceeded its call rate.
	OutcomeRateLimited = "rate_limited"
	// OutcomeBusy: no execution slot freed up.
	OutcomeBusy = "busy"
	// OutcomeCancelled: the client or a shutdown cancelled the call.
	OutcomeCancelled = "cancelled"
	// OutcomeFailed: the backend could not run the call.
	OutcomeFailed = "failed"
)

// Call is the record of one tool call. NewCall makes it when the call
// arrives, decoding its arguments once; the server adds who made it; each
// layer the call passes fills in its part (the rate limit and the argument
// validation may refuse it, the tool's handler records the code, the
// policy's decision and the sandbox's result); the server sets the final
// status and duration, then logs, counts and audits the call from it.
//
// A Call belongs to the goroutine serving the call: the layers run one
// after another, and nothing reads the record while one of them writes it.
type Call struct {
	// Tool is the name of the tool called.
	Tool string
	// Request is the tools/call request as received (its _meta carries
	// the client's progress token).
	Request mcp.CallToolRequest
	// Received is when the call arrived.
	Received time.Time
	// RawArgs is the arguments' JSON exactly as it came over the wire (see
	// NewCall); "{}" when the call had none.
	RawArgs []byte
	// Args is RawArgs decoded, once, as JSON values: objects are
	// map[string]any, numbers json.Number (jsonschema.UnmarshalJSON). The
	// server validates it against the tool's input schema, and the handler
	// reads its arguments from it. Nil when ArgsErr is set.
	Args any
	// ArgsErr says why the arguments could not be read, or is nil.
	ArgsErr error

	// Client is the identity the call is audited and rate limited under:
	// the authenticated client's name, else the server's name for callers
	// without one ("stdio", "anonymous").
	Client string
	// Authenticated is true when Client is an authenticated identity (a
	// bearer token's name).
	Authenticated bool
	// Session is the MCP session id, or "".
	Session string

	// SessionName is the Python session the call names (execute_python's
	// or end_session's session argument), once the handler has read it;
	// "" for a call in a fresh sandbox.
	SessionName string

	// CodeSHA256 and CodeBytes identify the code, once the handler has
	// read it (SetCode).
	CodeSHA256 string
	CodeBytes  int
	// Status is a sandbox.Status or one of the Outcome* values; "" until
	// a layer sets it. The server sets the final one when the call is over.
	Status string
	// Reason is the one-sentence reason of a refusal or a failure, as the
	// model got it.
	Reason string
	// Denied is true when the Airlock policy refused the call; Category
	// says which part of it ("limits", "network") and Rule which rule.
	Denied   bool
	Category string
	Rule     string
	// Result is the sandbox's result when the code ran.
	Result *sandbox.Result
	// Duration is the wall-clock time from Received until the call's
	// result; set by the server when the call is over.
	Duration time.Duration
}

// NewCall makes the record of the call req, received now: it reads the
// arguments' JSON (a Go value is marshalled; missing or null arguments are
// the empty object "{}") and decodes it once into Args.
func NewCall(req mcp.CallToolRequest) *Call {
	c := &Call{Tool: req.Params.Name, Request: req, Received: time.Now()}
	c.RawArgs, c.ArgsErr = rawArguments(req)
	if c.ArgsErr != nil {
		return c
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.RawArgs))
	if err != nil {
		c.ArgsErr = fmt.Errorf("not valid JSON: %w", err)
		return c
	}
	c.Args = v
	return c
}

// rawArguments returns the JSON of a call's arguments exactly as they came
// over the wire; arguments given as a Go value are marshalled. Missing or
// null arguments are the empty object "{}".
func rawArguments(req mcp.CallToolRequest) ([]byte, error) {
	var raw []byte
	switch a := req.GetRawArguments().(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		raw = a
	case []byte:
		raw = a
	default:
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("tools: marshal arguments of %s: %w", req.Params.Name, err)
		}
		raw = b
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return []byte("{}"), nil
	}
	return raw, nil
}

// SetStatus records how a call ended without a sandbox result or a policy
// refusal (invalid, rate limited, busy, cancelled, failed), and why.
func (c *Call) SetStatus(status, reason string) {
	c.Status, c.Reason = status, reason
}

// Deny records a refusal by the policy: category is the part of the policy
// ("limits", "network"), rule the rule that refused, reason the sentence
// the model got.
func (c *Call) Deny(category, rule, reason string) {
	c.Status, c.Reason, c.Denied, c.Category, c.Rule = OutcomeDenied, reason, true, category, rule
}

// SetResult records the sandbox's result.
func (c *Call) SetResult(r sandbox.Result) {
	c.Status, c.Result = string(r.Status), &r
}

// SetCode records the code's size and SHA-256.
func (c *Call) SetCode(code string) {
	c.CodeSHA256, c.CodeBytes = codeSHA256(code), len(code)
}

// codeSHA256 is the hex SHA-256 of code.
func codeSHA256(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}
