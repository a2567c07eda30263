package sessions

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Outcome is what became of a call in a session.
type Outcome struct {
	// Result is the backend's result, its Session filled in.
	Result sandbox.Result
	// Ended, when not "", is why the session's interpreter ended during
	// this call (the backend's Reason): the next call of its name starts a
	// new one, and is told so.
	Ended string
}

// maxAttempts bounds how many sessions a call tries in turn when each
// ends (or fails to start) before the call could run in it.
const maxAttempts = 3

// Execute runs req in the session name of owner, which it starts on first
// use (within the limits: a *LimitError otherwise). A call waits while
// another runs in the same session, up to the configured TurnTimeout (a
// *BusyError) or the end of ctx; calls in different sessions run side by
// side. When the session's interpreter ended since the last call (a crash,
// a memory kill, a kill after a timeout, its expiry), a new one is started
// and the result says so: Session.Restarted and Reason. A non-nil error
// means no call ran: refused, cancelled, or the backend failed.
func (r *Registry) Execute(ctx context.Context, ownerID, name string, req sandbox.Request) (Outcome, error) {
	if !ValidName(name) {
		return Outcome{}, fmt.Errorf("sessions: %q is not a session name: 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", name)
	}
	o, err := r.owner(ctx, ownerID)
	if err != nil {
		return Outcome{}, err
	}
	for range maxAttempts {
		e, starter, expired, err := r.join(o, name)
		r.closeAll(expired)
		if err != nil {
			return Outcome{}, err
		}
		out, retry, err := r.runIn(ctx, e, starter, req)
		if !retry {
			return out, err
		}
	}
	return Outcome{}, fmt.Errorf("sessions: session %q ended before the call could run in it, %d times in a row", name, maxAttempts)
}

// join returns the live session name of o for a call to use, counting the
// call in; or a new entry for the call to start (starter), within the
// limits. A session whose interpreter died or that expired is retired
// first (returned in expired, for the caller to close), and its
// successor's first call is told why. r.mu is taken.
func (r *Registry) join(o *owner, name string) (e *entry, starter bool, expired []*entry, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false, nil, ErrClosed
	}
	now := r.now()
	if e := o.sessions[name]; e != nil {
		switch {
		case e.session != nil && dead(e.session):
			expired = appendEntry(expired, r.retireLocked(e, e.session.Reason(), true))
		case e.session != nil && (r.lifetimeOver(e, now) || (e.users == 0 && !now.Before(r.expiresAt(e)))):
			expired = appendEntry(expired, r.retireLocked(e, r.expiryReason(e, now), true))
		default:
			e.users++
			return e, false, expired, nil
		}
	}
	if o.count >= r.cfg.MaxPerClient || r.total >= r.cfg.MaxTotal {
		// Sessions that expired but were not reaped yet make room.
		more, _ := r.reapLocked(now)
		expired = append(expired, more...)
	}
	if o.count >= r.cfg.MaxPerClient {
		return nil, false, expired, &LimitError{Limit: LimitPerClient, Max: r.cfg.MaxPerClient, Yours: namesLocked(o), NextExpiry: r.nextExpiryLocked(o), IdleTTL: r.cfg.IdleTTL}
	}
	if r.total >= r.cfg.MaxTotal {
		return nil, false, expired, &LimitError{Limit: LimitTotal, Max: r.cfg.MaxTotal, Yours: namesLocked(o), NextExpiry: r.nextExpiryLocked(o), IdleTTL: r.cfg.IdleTTL}
	}
	e = &entry{key: sandbox.SessionKey{Owner: o.id, Name: name}, owner: o, started: make(chan struct{}),
		created: now, lastUsed: now, turn: make(chan struct{}, 1), users: 1, restart: o.ended[name], done: make(chan struct{})}
	o.sessions[name] = e
	o.count++
	r.total++
	return e, true, expired, nil
}

// appendEntry appends e to es unless it is nil.
func appendEntry(es []*entry, e *entry) []*entry {
	if e == nil {
		return es
	}
	return append(es, e)
}

// runIn runs req in e once e has started (the starter starts it) and the
// call has its turn. retry says that e ended, or failed to start for
// another call, before this call could run: the caller tries again.
func (r *Registry) runIn(ctx context.Context, e *entry, starter bool, req sandbox.Request) (out Outcome, retry bool, err error) {
	defer func() { _ = r.leave(e) }()
	if starter {
		if err := r.start(ctx, e); err != nil {
			return Outcome{}, false, err
		}
	} else {
		select {
		case <-e.started:
		case <-ctx.Done():
			return Outcome{}, false, fmt.Errorf("sessions: wait for session %q to start: %w", e.key.Name, ctx.Err())
		}
		if e.startErr != nil {
			return Outcome{}, true, nil
		}
	}
	if err := r.takeTurn(ctx, e, false); err != nil {
		return Outcome{}, false, err
	}
	defer func() { <-e.turn }()

	r.mu.Lock()
	if e.gone || dead(e.session) {
		r.retireLocked(e, e.session.Reason(), true)
		r.mu.Unlock()
		return Outcome{}, true, nil
	}
	e.lastUsed = r.now()
	restarted := e.restart
	e.restart = ""
	r.mu.Unlock()

	res, err := e.session.Execute(ctx, req)

	r.mu.Lock()
	e.lastUsed = r.now()
	ended := ""
	if dead(e.session) {
		ended = e.session.Reason()
		r.retireLocked(e, ended, true)
	} else if err != nil && restarted != "" {
		e.restart = restarted
	}
	r.mu.Unlock()
	if err != nil {
		return Outcome{}, false, fmt.Errorf("sessions: run the call in session %q: %w", e.key.Name, err)
	}
	res.Session = &sandbox.SessionInfo{Name: e.key.Name, Call: e.session.Calls(), Restarted: restarted != "", Reason: restarted}
	return Outcome{Result: res, Ended: ended}, false, nil
}

// start starts e's session on the backend. On failure e leaves the
// registry, and calls waiting for it try again.
func (r *Registry) start(ctx context.Context, e *entry) error {
	s, err := r.backend.StartSession(ctx, e.key, r.cfg.Limits)
	r.mu.Lock()
	if err != nil {
		e.startErr = err
		r.retireLocked(e, "its sandbox could not be started", false)
		r.mu.Unlock()
		close(e.started)
		return fmt.Errorf("sessions: start session %q: %w", e.key.Name, err)
	}
	e.session = s
	restarted := e.restart != ""
	e.owner.forget(e.key.Name)
	if r.closed {
		r.retireLocked(e, "the server shut down while it started", false)
	}
	r.mu.Unlock()
	close(e.started)
	go r.watch(e)
	r.log.Info("session started", zap.String("owner", e.key.Owner), zap.String("session", e.key.Name),
		zap.String("sandbox_id", s.ID()), zap.Bool("restarted", restarted))
	return nil
}

// takeTurn waits until no other call uses e, then holds it (release by
// receiving from e.turn): up to TurnTimeout (a *BusyError; ending says the
// caller is end_session) or the end of ctx.
func (r *Registry) takeTurn(ctx context.Context, e *entry, ending bool) error {
	select {
	case e.turn <- struct{}{}:
		return nil
	default:
	}
	var timeout <-chan time.Time
	if r.cfg.TurnTimeout > 0 {
		t := time.NewTimer(r.cfg.TurnTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case e.turn <- struct{}{}:
		return nil
	case <-timeout:
		return &BusyError{Name: e.key.Name, Waited: r.cfg.TurnTimeout, Ending: ending}
	case <-ctx.Done():
		return fmt.Errorf("sessions: wait for session %q: %w", e.key.Name, ctx.Err())
	}
}
