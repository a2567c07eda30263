package local

// CheckState is the verdict on one thing the local backend needs or offers.
type CheckState string

// The verdicts a check can give.
const (
	// CheckOK: present and working.
	CheckOK CheckState = "ok"
	// CheckDegraded: works, with a weaker guarantee (Detail says which).
	CheckDegraded CheckState = "degraded"
	// CheckUnavailable: not provided on this host or by this version.
	CheckUnavailable CheckState = "unavailable"
	// CheckFailed: required and missing; the backend cannot run.
	CheckFailed CheckState = "failed"
)

// Check is one line of `airlock-mcp doctor`.
type Check struct {
	Name   string
	State  CheckState
	Detail string
}
