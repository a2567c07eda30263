package sessions

import (
	"strconv"
	"time"
)

// expiresAt is when e expires unless a call uses it first: the earlier of
// its idle expiry and the end of its lifetime.
func (r *Registry) expiresAt(e *entry) time.Time {
	idle := e.lastUsed.Add(r.cfg.IdleTTL)
	life := e.created.Add(r.cfg.MaxLifetime)
	if life.Before(idle) {
		return life
	}
	return idle
}

// lifetimeOver reports whether e has reached its maximum lifetime at now.
func (r *Registry) lifetimeOver(e *entry, now time.Time) bool {
	return !now.Before(e.created.Add(r.cfg.MaxLifetime))
}

// expiryReason says why e expired at now.
func (r *Registry) expiryReason(e *entry, now time.Time) string {
	if r.lifetimeOver(e, now) {
		return "the session reached its maximum lifetime of " + formatDuration(r.cfg.MaxLifetime) + " (the operator's sessions.max_lifetime_s) and was ended"
	}
	return "the session was unused for " + formatDuration(r.cfg.IdleTTL) + " (the operator's sessions.idle_ttl_s) and was ended"
}

// formatDuration formats d in seconds ("900 s").
func formatDuration(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// reaper ends each session at its expiry until Close: it sleeps until the
// earliest expiry of the sessions no call uses, or until a call changes
// one (wake).
func (r *Registry) reaper() {
	defer close(r.reaped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		next := r.reap()
		var fire <-chan time.Time
		if !next.IsZero() {
			timer.Reset(max(next.Sub(r.now()), 0))
			fire = timer.C
		}
		select {
		case <-fire:
		case <-r.wake:
			timer.Stop()
		case <-r.stop:
			timer.Stop()
			return
		}
	}
}

// reap ends the sessions that have expired by now and that no call uses,
// and returns the earliest expiry of the rest that no call uses (zero when
// there is none).
func (r *Registry) reap() time.Time {
	r.mu.Lock()
	expired, next := r.reapLocked(r.now())
	r.mu.Unlock()
	r.closeAll(expired)
	return next
}

// reapLocked retires the sessions that have expired at now and that no
// call uses, and returns them, for the caller to close outside the lock,
// with the earliest expiry of the rest that no call uses (zero when there
// is none). r.mu is held.
func (r *Registry) reapLocked(now time.Time) (expired []*entry, next time.Time) {
	for _, o := range r.owners {
		for _, e := range o.sessions {
			if e.session == nil || e.users > 0 {
				continue
			}
			if at := r.expiresAt(e); now.Before(at) {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				continue
			}
			if c := r.retireLocked(e, r.expiryReason(e, now), true); c != nil {
				expired = append(expired, c)
			}
		}
	}
	return expired, next
}
