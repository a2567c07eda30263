package netrules

// Verdict is the Airlock layer's decision, in words a model can act on: on
// one connection attempt (Egress), or on one tool call (the policy's
// DecideExecute).
type Verdict struct {
	// Allowed is true when the connection or the call may go ahead.
	Allowed bool
	// Rule names what decided, as the operator wrote it:
	// "network.allow[0] (host pypi.org, port 443)", "built-in deny (cloud
	// metadata 169.254.169.254/32)", "network.allow_egress: false",
	// "limits.max_timeout_s", ... For a call, "" when allowed.
	Rule string
	// Reason is one sentence saying why, naming the host or the limit and
	// the rule; for a refused call, also how to retry. For a call, "" when
	// allowed.
	Reason string
}
