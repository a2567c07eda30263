package tools

import (
	"context"
	"sync"

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

// Outcome is what became of one tool call, filled in by the layers it
// passes (validation, rate limit, policy, handler) so that the outermost
// one can audit and count it. Its methods are safe for concurrent use and
// on a nil *Outcome (a call made without one records nothing).
type Outcome struct {
	mu sync.Mutex
	v  CallOutcome
}

// CallOutcome is a snapshot of an Outcome.
type CallOutcome struct {
	// Status is a sandbox.Status or one of the Outcome* values; "" until
	// a layer sets it.
	Status string
	// Reason is the one-sentence reason of a denial, or of a failure.
	Reason string
	// Denied is true when the Airlock policy refused the call.
	Denied bool
	// Category says which part of the policy refused it: "limits" or
	// "network".
	Category string
	// Result is the sandbox's result when the code ran.
	Result *sandbox.Result
	// CodeSHA256 and CodeBytes identify the code, when the call had any.
	CodeSHA256 string
	CodeBytes  int
}

type outcomeKey struct{}

// WithOutcome returns ctx carrying a new, empty Outcome for one call.
func WithOutcome(ctx context.Context) (context.Context, *Outcome) {
	o := &Outcome{}
	return context.WithValue(ctx, outcomeKey{}, o), o
}

// OutcomeFrom returns the Outcome ctx carries, or nil.
func OutcomeFrom(ctx context.Context) *Outcome {
	o, _ := ctx.Value(outcomeKey{}).(*Outcome)
	return o
}

// Set records a status other than a policy refusal, and why.
func (o *Outcome) Set(status, reason string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.v.Status, o.v.Reason = status, reason
}

// Deny records a refusal by the policy: category is the part of the policy
// ("limits", "network"), reason the sentence the model got.
func (o *Outcome) Deny(category, reason string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.v.Status, o.v.Reason, o.v.Denied, o.v.Category = OutcomeDenied, reason, true, category
}

// SetResult records the sandbox's result.
func (o *Outcome) SetResult(r sandbox.Result) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.v.Status, o.v.Result = string(r.Status), &r
}

// SetCode records the code's hash and size.
func (o *Outcome) SetCode(sha256Hex string, n int) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.v.CodeSHA256, o.v.CodeBytes = sha256Hex, n
}

// Snapshot returns what o holds so far.
func (o *Outcome) Snapshot() CallOutcome {
	if o == nil {
		return CallOutcome{}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.v
}
