package sandbox

import "context"

// SessionsOf returns the sessions b keeps: b itself when it is a
// SessionBackend; for a Limited backend, the sessions of the backend it
// limits, each call of which waits for and holds one of its execution
// slots, exactly as a fresh call does; nil when b keeps no sessions.
// Starting a session's sandbox takes no slot (the session limits bound
// how many there are).
func SessionsOf(b Backend) SessionBackend {
	if l, ok := b.(*Limited); ok {
		inner, ok := l.b.(SessionBackend)
		if !ok {
			return nil
		}
		return limitedSessions{Limited: l, inner: inner}
	}
	s, _ := b.(SessionBackend)
	return s
}

// limitedSessions is a Limited backend's SessionBackend: fresh calls go
// through the Limited, session calls through limitedSession.
type limitedSessions struct {
	*Limited
	inner SessionBackend
}

// StartSession starts a session on the limited backend.
func (l limitedSessions) StartSession(ctx context.Context, key SessionKey, limits Limits) (Session, error) {
	s, err := l.inner.StartSession(ctx, key, limits)
	if err != nil {
		return nil, err
	}
	return limitedSession{Session: s, l: l.Limited}, nil
}

// FindSessions finds the sessions of owner on the limited backend.
func (l limitedSessions) FindSessions(ctx context.Context, owner string) ([]Session, error) {
	found, err := l.inner.FindSessions(ctx, owner)
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(found))
	for i, s := range found {
		out[i] = limitedSession{Session: s, l: l.Limited}
	}
	return out, nil
}

// limitedSession is a session whose calls each take an execution slot.
type limitedSession struct {
	Session
	l *Limited
}

// Execute runs req in the session once a slot is free.
func (s limitedSession) Execute(ctx context.Context, req Request) (Result, error) {
	return s.l.inSlot(ctx, func() (Result, error) { return s.Session.Execute(ctx, req) })
}
