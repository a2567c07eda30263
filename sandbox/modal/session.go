package modal

import (
	"context"
	"fmt"
	"sync"
	"time"

	sdk "github.com/modal-labs/modal-client/go"
)

// sessionTimeout bounds connecting: credentials, the App, and the image
// build, which takes minutes the first time Modal sees an image.
const sessionTimeout = 10 * time.Minute

// session is what every sandbox is created from: the client, the App and
// the built image, made once and reused.
type session struct {
	client *sdk.Client
	app    *sdk.App
	image  *sdk.Image
	creds  Credentials

	// refs counts the session's holders (guarded by sessions.mu): the
	// backend while it is current, each caller between session and put,
	// and each live sandbox created from it. A session no longer current
	// has its client closed when the last holder lets go.
	refs   int
	closed bool // its client is closed
}

// sessions holds the current session, or the attempt to open one that
// callers wait for. A failed attempt is forgotten, so the next caller
// tries again (with credentials or an image fixed meanwhile).
type sessions struct {
	mu      sync.Mutex
	cur     *session
	attempt *sessionAttempt
	closed  bool
	// open are the sessions whose clients are not closed yet: the current
	// one, and dropped ones still held (see drop).
	open map[*session]struct{}
}

// sessionAttempt is one try at opening a session; done is closed when
// sess or err is set.
type sessionAttempt struct {
	done chan struct{}
	sess *session
	err  error
}

// session returns the backend's session, opening it if needed, held for
// the caller, who must put it when done. The opening runs detached from
// ctx, so a caller that gives up does not fail the others waiting for it;
// ctx only bounds this caller's wait.
func (b *Backend) session(ctx context.Context) (*session, error) {
	ss := &b.sessions
	for {
		ss.mu.Lock()
		if s := ss.cur; s != nil {
			s.refs++
			ss.mu.Unlock()
			return s, nil
		}
		if ss.closed {
			ss.mu.Unlock()
			return nil, ErrClosed
		}
		a := ss.attempt
		if a == nil {
			if !b.begin() {
				ss.mu.Unlock()
				return nil, ErrClosed
			}
			a = &sessionAttempt{done: make(chan struct{})}
			ss.attempt = a
			go func() {
				defer b.ops.Done()
				b.openSession(a)
			}()
		}
		ss.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("modal: waiting for the connection to Modal: %w", ctx.Err())
		}
		if a.err != nil {
			return nil, a.err
		}
		// The attempt made its session current: take it (or, should it
		// have been dropped already, try again).
	}
}

// openSession makes one attempt and publishes its outcome.
func (b *Backend) openSession(a *sessionAttempt) {
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	go func() { // Close abandons the attempt
		select {
		case <-b.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	s, err := b.connect(ctx)
	ss := &b.sessions
	ss.mu.Lock()
	if err == nil && ss.closed {
		s.client.Close()
		s, err = nil, ErrClosed
	}
	if err == nil {
		s.refs = 1 // the backend's, while current
		ss.cur = s
		if ss.open == nil {
			ss.open = map[*session]struct{}{}
		}
		ss.open[s] = struct{}{}
	}
	ss.attempt = nil
	a.sess, a.err = s, err
	ss.mu.Unlock()
	close(a.done)
}

// connect checks the credentials (without a network call), then opens the
// App and builds the image.
func (b *Backend) connect(ctx context.Context) (*session, error) {
	creds, err := FindCredentials()
	if err != nil {
		return nil, err
	}
	client, err := sdk.NewClientWithOptions(&sdk.ClientParams{
		Environment: b.opts.Environment,
		Logger:      b.sdkLog,
	})
	if err != nil {
		return nil, b.describe(stageApp, err, creds)
	}
	app, err := client.Apps.FromName(ctx, b.opts.AppName, &sdk.AppFromNameParams{
		Environment:     b.opts.Environment,
		CreateIfMissing: true,
	})
	if err != nil {
		client.Close()
		return nil, b.describe(stageApp, err, creds)
	}
	def := client.Images.FromRegistry(b.opts.Image, nil)
	if cmds := b.opts.ImageCommands(); len(cmds) > 0 {
		def = def.DockerfileCommands(cmds, nil)
	}
	image, err := def.Build(ctx, app, nil)
	if err != nil {
		client.Close()
		return nil, b.describe(stageImage, err, creds)
	}
	return &session{client: client, app: app, image: image, creds: creds}, nil
}

// drop gives up on s when Modal says its credentials or its App are no
// longer good (a revoked token, a deleted App): the next call connects
// again, reading the credentials afresh, instead of failing the same way
// until a restart. Its client is closed once the calls and sandboxes
// still using it let go of it.
func (ss *sessions) drop(s *session) {
	ss.mu.Lock()
	if ss.cur != s {
		ss.mu.Unlock()
		return
	}
	ss.cur = nil
	ss.release(s) // unlocks
}

// hold takes a reference to s for a new holder.
func (ss *sessions) hold(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.refs++
}

// put lets go of a reference taken by session or hold.
func (ss *sessions) put(s *session) {
	ss.mu.Lock()
	ss.release(s) // unlocks
}

// release drops one reference to s with ss.mu held, and unlocks it; the
// last reference to a session no longer current closes its client.
func (ss *sessions) release(s *session) {
	s.refs--
	if s.refs > 0 || ss.cur == s || s.closed {
		ss.mu.Unlock()
		return
	}
	s.closed = true
	delete(ss.open, s)
	ss.mu.Unlock()
	s.client.Close()
}

// close closes the clients of every open session, held or not, and
// refuses new ones. An attempt in flight sees closed when it ends.
func (ss *sessions) close() {
	ss.mu.Lock()
	ss.closed = true
	ss.cur = nil
	open := make([]*session, 0, len(ss.open))
	for s := range ss.open {
		s.closed = true
		open = append(open, s)
	}
	ss.open = nil
	ss.mu.Unlock()
	for _, s := range open {
		s.client.Close()
	}
}
