package sessions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Info describes one live session.
type Info struct {
	// Name is the session's name.
	Name string
	// Created is when its sandbox was started.
	Created time.Time
	// LastUsed is when a call last started or ended in it (for a session
	// found again after a server restart, when it was found).
	LastUsed time.Time
	// Calls is how many calls its interpreter has run.
	Calls int
	// MemoryBytes is the memory it uses now; 0 when the backend cannot
	// tell.
	MemoryBytes int64
	// ExpiresAt is when it ends unless a call uses it first: the earlier
	// of its idle expiry and the end of its lifetime.
	ExpiresAt time.Time
	// Busy is true while a call runs in it or waits for it.
	Busy bool
}

// List returns the live sessions of owner, sorted by name. Sessions still
// starting are left out; sessions whose interpreter died are retired
// (their next call is told).
func (r *Registry) List(ctx context.Context, ownerID string) ([]Info, error) {
	o, err := r.owner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	type item struct {
		info Info
		e    *entry
	}
	var items []item
	var expired []*entry
	r.mu.Lock()
	for name, e := range o.sessions {
		switch {
		case e.session == nil:
		case dead(e.session):
			expired = appendEntry(expired, r.retireLocked(e, e.session.Reason(), true))
		default:
			items = append(items, item{Info{Name: name, Created: e.created, LastUsed: e.lastUsed, ExpiresAt: r.expiresAt(e), Busy: e.users > 0}, e})
		}
	}
	r.mu.Unlock()
	r.closeAll(expired)
	out := make([]Info, len(items))
	for i, it := range items {
		it.info.Calls = it.e.session.Calls()
		it.info.MemoryBytes = it.e.session.MemoryBytes()
		out[i] = it.info
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// End ends the session name of owner and frees its sandbox: it waits for a
// call running there to finish (up to TurnTimeout: a *BusyError), then
// closes it. It returns how many calls the session's interpreter ran, or
// an *UnknownError naming the owner's live sessions when there is no such
// session.
func (r *Registry) End(ctx context.Context, ownerID, name string) (calls int, err error) {
	o, err := r.owner(ctx, ownerID)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	e := o.sessions[name]
	if e != nil && e.session != nil && dead(e.session) {
		c := r.retireLocked(e, e.session.Reason(), true)
		e = nil
		defer func() { _ = r.closeEntry(c) }()
	}
	if e == nil {
		err := &UnknownError{Name: name, Live: namesLocked(o), Ended: o.ended[name]}
		r.mu.Unlock()
		return 0, err
	}
	e.users++
	r.mu.Unlock()
	calls, err = r.end(ctx, o, e)
	if lerr := r.leave(e); err == nil {
		err = lerr
	}
	return calls, err
}

// end ends e, a session of o the caller has counted itself in to; the
// caller then leaves it, which closes it.
func (r *Registry) end(ctx context.Context, o *owner, e *entry) (calls int, err error) {
	select {
	case <-e.started:
	case <-ctx.Done():
		return 0, fmt.Errorf("sessions: wait for session %q to start: %w", e.key.Name, ctx.Err())
	}
	if e.startErr == nil {
		if err := r.takeTurn(ctx, e, true); err != nil {
			return 0, err
		}
		defer func() { <-e.turn }()
		calls = e.session.Calls()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.startErr != nil || e.gone {
		return 0, &UnknownError{Name: e.key.Name, Live: namesLocked(o), Ended: o.ended[e.key.Name]}
	}
	r.retireLocked(e, "ended by its client (end_session)", false)
	return calls, nil
}
