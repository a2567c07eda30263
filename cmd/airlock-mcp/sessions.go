package main

import (
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/sessions"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// sessionsOff says in one sentence why the server offers no Python
// sessions under p on backend b, or "" when it does: the operator turned
// them off, or the backend does not keep sessions (it does not implement
// sandbox.SessionBackend). Any backend that does gets sessions, with no
// change here.
func sessionsOff(p *policy.Policy, b sandbox.Backend) string {
	switch {
	case !p.Sessions.Enabled:
		return "the operator turned sessions off (sessions.enabled: false)"
	case sandbox.SessionsOf(b) == nil:
		return "the " + b.Name() + " backend does not keep sessions yet"
	}
	return ""
}

// openSessions starts the registry of the clients' Python sessions on
// backend, under p, and keeps it in c, whose shutdown closes it; or says
// why there are none.
func (c *calls) openSessions(p *policy.Policy, backend sandbox.Backend, log *zap.Logger) (tools.Sessions, error) {
	if off := sessionsOff(p, backend); off != "" {
		log.Info("Python sessions are not offered", zap.String("why", off))
		return tools.Sessions{Off: off}, nil
	}
	reg, err := sessions.New(sessions.Options{Config: tools.SessionsConfig(p), Backend: sandbox.SessionsOf(backend), Log: log.Named("sessions")})
	if err != nil {
		return tools.Sessions{}, err
	}
	c.sessions, c.endSessions = reg, p.Sessions.EndOnShutdown
	return tools.Sessions{Registry: reg}, nil
}

// closeSessions stops the session registry, before the backend closes:
// with sessions.end_on_shutdown it ends every session (their sandboxes
// are removed); without, it leaves them to the backend, whose Close ends
// those that die with the server (local) and leaves those a restarted
// server finds again (Modal).
func (c *calls) closeSessions(log *zap.Logger) {
	if c.sessions == nil {
		return
	}
	if err := c.sessions.Close(c.endSessions); err != nil {
		log.Error("ending the sessions at shutdown", zap.Error(err))
	}
}

// keepsSessions reports whether the backend named name keeps Python
// sessions (its Backend implements sandbox.SessionBackend).
func keepsSessions(name string) bool {
	var b any
	switch name {
	case local.Name:
		b = (*local.Backend)(nil)
	case modal.Name:
		b = (*modal.Backend)(nil)
	}
	_, ok := b.(sandbox.SessionBackend)
	return ok
}

// sessionsDetail says in one sentence whether Python sessions are offered
// on the backend named name under p, and how they live, or why not.
func sessionsDetail(p *policy.Policy, name string) string {
	switch {
	case !p.Sessions.Enabled:
		return "turned off by the policy (sessions.enabled: false): every call runs in a fresh sandbox"
	case !keepsSessions(name):
		return "not available: the " + name + " backend does not keep sessions yet, so a call naming a session is refused; every call runs in a fresh sandbox"
	}
	return sessionsHow(p, name)
}

// sessionsHow says in one sentence how a session lives on the backend
// named name, which keeps them.
func sessionsHow(p *policy.Policy, name string) string {
	if name == modal.Name {
		shutdown := "it outlives the server, which finds it again after a restart, and is billed until it expires (sessions.end_on_shutdown: false)"
		if p.Sessions.EndOnShutdown {
			shutdown = "the server ends it at shutdown (sessions.end_on_shutdown: true)"
		}
		return "each session is a Modal sandbox of its own, with Modal's idle timeout and lifetime set from sessions.idle_ttl_s and max_lifetime_s; " + shutdown
	}
	return "each session is a sandbox of its own with every protection of a fresh one; it dies with the server"
}

// sessionsVerdict is the line doctor and policy check print on sessions
// on the backend named name.
func sessionsVerdict(p *policy.Policy, name string) string {
	return "sessions on " + name + ": " + sessionsDetail(p, name) + "\n"
}
