package policy

import (
	"fmt"
	"strconv"
	"time"
)

// Sessions is the policy of the clients' Python sessions: interpreters
// that keep their state across calls of one client (execute_python's
// session argument). The limits of the limits section apply to each
// session's sandbox (memory, processes, scratch space for its whole life;
// CPU time and timeout per call).
type Sessions struct {
	// Enabled offers sessions to clients; false refuses the session
	// argument and hides end_session and list_sessions.
	Enabled bool `json:"enabled"`
	// MaxPerClient is the most sessions one client identity keeps at once.
	MaxPerClient int `json:"max_per_client"`
	// MaxTotal is the most sessions the server keeps at once, across every
	// client.
	MaxTotal int `json:"max_total"`
	// IdleTTLS ends a session this many seconds after its last call.
	IdleTTLS int `json:"idle_ttl_s"`
	// MaxLifetimeS ends a session this many seconds after it started.
	MaxLifetimeS int `json:"max_lifetime_s"`
	// EndOnShutdown ends every session when the server shuts down, for
	// backends whose sessions outlive the server (Modal); a local
	// session's sandbox dies with the server whatever this says.
	EndOnShutdown bool `json:"end_on_shutdown"`
}

// IdleTTL is IdleTTLS as a duration.
func (s Sessions) IdleTTL() time.Duration { return time.Duration(s.IdleTTLS) * time.Second }

// MaxLifetime is MaxLifetimeS as a duration.
func (s Sessions) MaxLifetime() time.Duration { return time.Duration(s.MaxLifetimeS) * time.Second }

// Summary is one line for people: whether sessions are offered, and their
// limits.
func (s Sessions) Summary() string {
	if !s.Enabled {
		return "off (sessions.enabled: false): every call runs in a fresh sandbox"
	}
	shutdown := "kept at shutdown where the backend lets them outlive the server"
	if s.EndOnShutdown {
		shutdown = "ended at shutdown"
	}
	return "up to " + strconv.Itoa(s.MaxPerClient) + " per client and " + strconv.Itoa(s.MaxTotal) + " in all; each ends " +
		strconv.Itoa(s.IdleTTLS) + " s after its last call or " + strconv.Itoa(s.MaxLifetimeS) + " s after it started; " + shutdown
}

// problems are the sessions section's semantic problems.
func (s Sessions) problems(pl *place) []Problem {
	if s.MaxPerClient <= s.MaxTotal {
		return nil
	}
	at, perNote, totalNote := []string{"sessions", "max_per_client"}, "", ""
	if !pl.written(at...) {
		at, perNote = []string{"sessions", "max_total"}, " (the default)"
	}
	if !pl.written("sessions", "max_total") {
		totalNote = " (the default)"
	}
	return []Problem{pl.problem(at, fmt.Sprintf(
		"sessions.max_per_client %d%s is greater than sessions.max_total %d%s; lower max_per_client or raise max_total",
		s.MaxPerClient, perNote, s.MaxTotal, totalNote))}
}
