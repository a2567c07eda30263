package sessions

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// owner returns the registry's part of owner id. On the first use of an
// owner it asks the backend for the sessions a previous server left for
// it (Modal's outlive their server) and takes them in, within the limits:
// the newest first, one per name; the others are left to the backend,
// which ends them at their own expiry. A failed question is the call's
// error; the next call asks again.
func (r *Registry) owner(ctx context.Context, id string) (*owner, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	o := r.ownerLocked(id)
	found := o.found
	r.mu.Unlock()
	if found {
		return o, nil
	}
	select {
	case o.finder <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("sessions: wait for the sessions of %s: %w", id, ctx.Err())
	}
	defer func() { <-o.finder }()
	r.mu.Lock()
	found = o.found
	r.mu.Unlock()
	if found {
		return o, nil
	}
	left, err := r.backend.FindSessions(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sessions: find the sessions a previous server left: %w", err)
	}
	r.adopt(o, left)
	return o, nil
}

// adopt takes the sessions in left into o, within the limits, and marks o
// found.
func (r *Registry) adopt(o *owner, left []sandbox.Session) {
	slices.SortStableFunc(left, func(a, b sandbox.Session) int { return b.Created().Compare(a.Created()) })
	now := r.now()
	var adopted []*entry
	var skipped []sandbox.Session
	r.mu.Lock()
	for _, s := range left {
		name := s.Key().Name
		if dead(s) || s.Key().Owner != o.id || !ValidName(name) || o.sessions[name] != nil ||
			o.count >= r.cfg.MaxPerClient || r.total >= r.cfg.MaxTotal {
			skipped = append(skipped, s)
			continue
		}
		e := &entry{key: s.Key(), owner: o, session: s, started: make(chan struct{}), created: s.Created(), lastUsed: now,
			turn: make(chan struct{}, 1), done: make(chan struct{})}
		close(e.started)
		o.sessions[name] = e
		o.count++
		r.total++
		adopted = append(adopted, e)
	}
	o.found = true
	r.mu.Unlock()
	for _, e := range adopted {
		go r.watch(e)
		r.log.Info("session found again", zap.String("owner", o.id), zap.String("session", e.key.Name),
			zap.String("sandbox_id", e.session.ID()), zap.Int("calls", e.session.Calls()))
	}
	for _, s := range skipped {
		r.log.Warn("a session a previous server left was not taken in (ended, a duplicate, or over the session limits); the backend ends it at its own expiry",
			zap.String("owner", o.id), zap.String("session", s.Key().Name), zap.String("sandbox_id", s.ID()))
	}
	if len(adopted) > 0 {
		r.wakeReaper()
	}
}

// watch retires e when its interpreter dies while no call uses it, so that
// it stops counting against the limits, its sandbox is freed at once, and
// the next call of its name is told that its state was lost. A call in
// progress notices the death itself.
func (r *Registry) watch(e *entry) {
	select {
	case <-e.session.Done():
	case <-e.done:
		return
	case <-r.stop:
		return
	}
	r.mu.Lock()
	c := r.retireLocked(e, e.session.Reason(), true)
	r.mu.Unlock()
	_ = r.closeEntry(c)
}

// namesLocked returns the names of o's live sessions, sorted; r.mu is
// held.
func namesLocked(o *owner) []string {
	var names []string
	for name, e := range o.sessions {
		if e.session != nil && !dead(e.session) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// nextExpiryLocked is the earliest expiry of o's live sessions, zero
// when it has none; r.mu is held.
func (r *Registry) nextExpiryLocked(o *owner) time.Time {
	var next time.Time
	for _, e := range o.sessions {
		if e.session == nil {
			continue
		}
		if t := r.expiresAt(e); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}
