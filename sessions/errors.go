package sessions

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// LimitError refuses a new session: its owner, or the server, already
// keeps as many sessions as the operator allows. Its text says which
// limit, and what to do.
type LimitError struct {
	// Limit is the policy key that refused: "sessions.max_per_client" or
	// "sessions.max_total".
	Limit string
	// Max is that limit's value.
	Max int
	// Yours are the names of the caller's sessions, sorted.
	Yours []string
	// NextExpiry is when the first of the caller's sessions expires unless
	// used; zero when the caller has none.
	NextExpiry time.Time
	// IdleTTL is the operator's idle expiry.
	IdleTTL time.Duration
}

// Error is one sentence for the model.
func (e *LimitError) Error() string {
	wait := ""
	if !e.NextExpiry.IsZero() {
		wait = ", or wait for one to expire (the first at " + FormatTime(e.NextExpiry) + " unless it is used before)"
	}
	if e.Limit == LimitPerClient {
		return fmt.Sprintf("Session limit reached: you already have %d sessions (%s), the most one client may keep (the operator's %s); end one you no longer need with end_session%s, or reuse one of them.",
			len(e.Yours), quoteList(e.Yours), e.Limit, wait)
	}
	yours := "the server has no room until other clients' sessions end (each expires after " + formatDuration(e.IdleTTL) + " without a call); try again later"
	if len(e.Yours) > 0 {
		yours = "end one of yours (" + quoteList(e.Yours) + ") with end_session" + wait + ", or try again later"
	}
	return fmt.Sprintf("Session limit reached: the server already keeps %d sessions across all clients, the most it allows (the operator's %s); %s.", e.Max, e.Limit, yours)
}

// The policy keys a LimitError names.
const (
	LimitPerClient = "sessions.max_per_client"
	LimitTotal     = "sessions.max_total"
)

// UnknownError refuses to end a session the caller does not have.
type UnknownError struct {
	// Name is the session asked for.
	Name string
	// Live are the names of the caller's live sessions, sorted.
	Live []string
	// Ended, when not "", says why a session of that name ended earlier.
	Ended string
}

// Error is one sentence for the model, naming the caller's live sessions.
func (e *UnknownError) Error() string {
	live := "you have no live sessions"
	if len(e.Live) > 0 {
		live = "your live sessions are " + quoteList(e.Live)
	}
	if e.Ended != "" {
		return fmt.Sprintf("Session %q has already ended (%s), so there is nothing to end; %s.", e.Name, e.Ended, live)
	}
	return fmt.Sprintf("There is no session %q to end; %s.", e.Name, live)
}

// BusyError: a call waited for its session, which was running another
// call, for as long as the operator lets calls wait. It wraps
// sandbox.ErrBusy.
type BusyError struct {
	// Name is the session.
	Name string
	// Waited is how long the call waited.
	Waited time.Duration
	// Ending is true for end_session, which waits for the running call too.
	Ending bool
}

// Error is one sentence for the model.
func (e *BusyError) Error() string {
	what := "wait for it to finish, or use another session"
	if e.Ending {
		what = "end_session waits for the call to finish; try again once it has, or cancel that call"
	}
	return fmt.Sprintf("Session %q is still running another call (a session runs one call at a time), which did not finish within %s; %s.", e.Name, formatDuration(e.Waited), what)
}

// Unwrap makes a BusyError a sandbox.ErrBusy.
func (e *BusyError) Unwrap() error { return sandbox.ErrBusy }

// FormatTime formats t as the registry reports times: RFC 3339, UTC,
// whole seconds.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// quoteList quotes names and joins them: "a", "b" and "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
