// Package sessions keeps the Python sessions of every client: which
// sessions each client identity owns, the limits on how many there are,
// their expiry, the bookkeeping of restarts (a call after a session's
// interpreter ended is told so), and one call at a time per session. The
// sessions themselves are a sandbox.SessionBackend's; the registry only
// decides which one a call runs in, and when each ends.
package sessions

import (
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Config is the operator's session policy.
type Config struct {
	// MaxPerClient is the most sessions one owner keeps at once.
	MaxPerClient int
	// MaxTotal is the most sessions the registry keeps at once, across
	// every owner.
	MaxTotal int
	// IdleTTL ends a session this long after its last call.
	IdleTTL time.Duration
	// MaxLifetime ends a session this long after it started.
	MaxLifetime time.Duration
	// Limits bound each session's sandbox for its whole life (memory,
	// processes, scratch space, open files); each call brings its own
	// timeout and CPU time.
	Limits sandbox.Limits
	// TurnTimeout bounds how long a call waits for its session while
	// another call runs there; 0 leaves only the call's context to bound
	// it.
	TurnTimeout time.Duration
}

// Options are a Registry's dependencies.
type Options struct {
	Config
	// Backend runs the sessions; required.
	Backend sandbox.SessionBackend
	// Now is the registry's clock, by which sessions expire; nil means
	// time.Now.
	Now func() time.Time
	// Log receives a line when a session starts, is found again, or ends;
	// nil discards.
	Log *zap.Logger
}

// maxEnded bounds how many ended sessions each owner's registry entry
// remembers, to tell the next call of that name that its state was lost.
const maxEnded = 64

// namePattern is what a session name may be: the input schema's pattern.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidName reports whether name may name a session: 1 to 64 characters
// of [A-Za-z0-9._-].
func ValidName(name string) bool { return namePattern.MatchString(name) }

// ErrClosed is returned for a call that arrives once the registry is
// closed (the server is shutting down).
var ErrClosed = errors.New("the server is shutting down, so no session call can run")

// Registry keeps the sessions of every owner. Its methods are safe for
// concurrent use.
type Registry struct {
	backend sandbox.SessionBackend
	cfg     Config
	now     func() time.Time
	log     *zap.Logger

	wake   chan struct{} // a session's expiry may have changed
	stop   chan struct{} // closed by Close
	reaped chan struct{} // closed when the reaper has stopped

	mu     sync.Mutex
	owners map[string]*owner
	total  int // sessions holding a sandbox or starting one, every owner
	closed bool
}

// owner is one client identity's part of the registry.
type owner struct {
	id string
	// sessions are the live and starting sessions by name.
	sessions map[string]*entry
	// count is the sessions holding a sandbox or starting one, including
	// those ended but still in use by a call.
	count int
	// ended remembers why the last session of a name ended, when it ended
	// without end_session, until a new session of that name starts.
	ended      map[string]string
	endedOrder []string
	// finder is held while the backend is asked for sessions a previous
	// server left; found is true once it answered.
	finder chan struct{}
	found  bool
}

// entry is one session.
type entry struct {
	key     sandbox.SessionKey
	owner   *owner
	session sandbox.Session // nil while it starts
	// started is closed once the start finished: session is set, or
	// startErr says why it failed.
	started  chan struct{}
	startErr error
	created  time.Time
	lastUsed time.Time
	// turn holds a token while a call (or end_session) has the session.
	turn chan struct{}
	// users counts the calls holding, waiting for, or starting the
	// session.
	users int
	// restart, when not "", is why the session replaced one of its name
	// whose state was lost; its first call reports it.
	restart string
	// gone: the session left the registry (ended, expired, its
	// interpreter died); no call may join it. released: it was counted
	// out, and is closed or being closed. why says why it left, for the
	// log.
	gone, released bool
	why            string
	// done is closed once the entry is released, to stop its watcher.
	done chan struct{}
}

// New starts a registry of sessions on opts.Backend, and its reaper, which
// ends each session at its expiry. Close stops it.
func New(opts Options) (*Registry, error) {
	if opts.Backend == nil {
		return nil, errors.New("sessions: no session backend")
	}
	c := opts.Config
	if c.MaxPerClient < 1 || c.MaxTotal < 1 || c.IdleTTL <= 0 || c.MaxLifetime <= 0 {
		return nil, fmt.Errorf("sessions: limits must be positive: %d per client, %d in all, idle %s, lifetime %s", c.MaxPerClient, c.MaxTotal, c.IdleTTL, c.MaxLifetime)
	}
	r := &Registry{backend: opts.Backend, cfg: c, now: opts.Now, log: opts.Log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), reaped: make(chan struct{}),
		owners: map[string]*owner{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	go r.reaper()
	return r, nil
}

// Config is the registry's session policy.
func (r *Registry) Config() Config { return r.cfg }

// Backend is the backend the sessions run on.
func (r *Registry) Backend() sandbox.SessionBackend { return r.backend }

// Close stops the reaper and refuses every later call. With end, it also
// ends every session and waits for them to close (sessions whose sandboxes
// die with the server anyway, or whose operator asked for it: Modal's
// sessions.end_on_shutdown); without, the sessions are left to the
// backend, to be found again by the next server. It returns what closing
// the sessions failed with.
func (r *Registry) Close(end bool) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var toClose []*entry
	for _, o := range r.owners {
		for _, e := range o.sessions {
			if e.session != nil {
				toClose = append(toClose, e)
			}
		}
	}
	r.mu.Unlock()
	close(r.stop)
	<-r.reaped
	if !end {
		return nil
	}
	errs := make([]error, len(toClose))
	var wg sync.WaitGroup
	for i, e := range toClose {
		wg.Go(func() {
			if err := e.session.Close(); err != nil {
				errs[i] = fmt.Errorf("end session %q of %s: %w", e.key.Name, e.key.Owner, err)
			}
		})
	}
	wg.Wait()
	r.log.Info("sessions ended at shutdown", zap.Int("sessions", len(toClose)))
	return errors.Join(errs...)
}

// ownerLocked returns the part of the registry of owner id; r.mu is held.
func (r *Registry) ownerLocked(id string) *owner {
	o := r.owners[id]
	if o == nil {
		o = &owner{id: id, sessions: map[string]*entry{}, ended: map[string]string{}, finder: make(chan struct{}, 1)}
		r.owners[id] = o
	}
	return o
}

// remember notes why the session name of o ended; r.mu is held.
func (o *owner) remember(name, reason string) {
	if _, ok := o.ended[name]; !ok {
		o.endedOrder = append(o.endedOrder, name)
	}
	o.ended[name] = reason
	if len(o.endedOrder) > maxEnded {
		delete(o.ended, o.endedOrder[0])
		o.endedOrder = o.endedOrder[1:]
	}
}

// forget drops what o remembers of the session name; r.mu is held.
func (o *owner) forget(name string) {
	if _, ok := o.ended[name]; !ok {
		return
	}
	delete(o.ended, name)
	for i, n := range o.endedOrder {
		if n == name {
			o.endedOrder = append(o.endedOrder[:i], o.endedOrder[i+1:]...)
			break
		}
	}
}

// retireLocked takes e out of the registry: no call joins it any more.
// why says why, for the log; when lost, it is also remembered for the
// next call of e's name, whose state was lost without the client asking.
// It returns e when nobody uses it, for the caller to close outside the
// lock (closeEntry); else the last call to leave closes it (leave). r.mu
// is held.
func (r *Registry) retireLocked(e *entry, why string, lost bool) *entry {
	if e.gone {
		return nil
	}
	e.gone, e.why = true, why
	if e.owner.sessions[e.key.Name] == e {
		delete(e.owner.sessions, e.key.Name)
	}
	if lost {
		e.owner.remember(e.key.Name, why)
	}
	if e.users == 0 {
		r.releaseLocked(e)
		return e
	}
	return nil
}

// releaseLocked counts e out of the limits and stops its watcher; r.mu is
// held. The caller then closes its session.
func (r *Registry) releaseLocked(e *entry) {
	if e.released {
		return
	}
	e.released = true
	e.owner.count--
	r.total--
	close(e.done)
}

// leave ends a call's use of e. The last call to leave a retired session
// closes it, and returns what closing failed with.
func (r *Registry) leave(e *entry) error {
	r.mu.Lock()
	e.users--
	var c *entry
	if e.gone && e.users == 0 && !e.released {
		r.releaseLocked(e)
		c = e
	}
	r.mu.Unlock()
	r.wakeReaper()
	return r.closeEntry(c)
}

// closeEntry closes the session of e, a retired entry, if it started, and
// logs why it ended. A nil e is nothing to close.
func (r *Registry) closeEntry(e *entry) error {
	if e == nil || e.session == nil {
		return nil
	}
	err := e.session.Close()
	fields := []zap.Field{zap.String("owner", e.key.Owner), zap.String("session", e.key.Name), zap.String("sandbox_id", e.session.ID()), zap.String("why", e.why)}
	if err != nil {
		r.log.Warn("session ended, but closing its sandbox failed", append(fields, zap.Error(err))...)
		return fmt.Errorf("sessions: close session %q: %w", e.key.Name, err)
	}
	r.log.Info("session ended", fields...)
	return nil
}

// closeAll closes the retired entries es (see closeEntry).
func (r *Registry) closeAll(es []*entry) {
	for _, e := range es {
		_ = r.closeEntry(e)
	}
}

// wakeReaper tells the reaper that an expiry may have changed.
func (r *Registry) wakeReaper() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// dead reports whether s's interpreter is gone.
func dead(s sandbox.Session) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}
