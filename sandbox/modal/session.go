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
}

// sessions holds the current session, or the attempt to open one that
// callers wait for. A failed attempt is forgotten, so the next caller
// tries again (with credentials or an image fixed meanwhile).
type sessions struct {
	mu      sync.Mutex
	cur     *session
	attempt *sessionAttempt
	closed  bool
	// dropped are sessions given up on (see drop) whose clients may still
	// serve calls in flight; Close closes them.
	dropped []*session
}

// sessionAttempt is one try at opening a session; done is closed when
// sess or err is set.
type sessionAttempt struct {
	done chan struct{}
	sess *session
	err  error
}

// session returns the backend's session, opening it if needed. The opening
// runs detached from ctx, so a caller that gives up does not fail the
// others waiting for it; ctx only bounds this caller's wait.
func (b *Backend) session(ctx context.Context) (*session, error) {
	ss := &b.sessions
	ss.mu.Lock()
	if ss.cur != nil {
		s := ss.cur
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
		return a.sess, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("modal: waiting for the connection to Modal: %w", ctx.Err())
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
		ss.cur = s
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
	image, err := client.Images.FromRegistry(b.opts.Image, nil).Build(ctx, app, nil)
	if err != nil {
		client.Close()
		return nil, b.describe(stageImage, err, creds)
	}
	return &session{client: client, app: app, image: image, creds: creds}, nil
}

// drop gives up on s when Modal says its credentials or its App are no
// longer good (a revoked token, a deleted App): the next call connects
// again, reading the credentials afresh, instead of failing the same way
// until a restart.
func (ss *sessions) drop(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.cur == s {
		ss.cur = nil
		ss.dropped = append(ss.dropped, s)
	}
}

// close closes the clients of the current and dropped sessions and
// refuses new ones. An attempt in flight sees closed when it ends.
func (ss *sessions) close() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	if ss.cur != nil {
		ss.dropped = append(ss.dropped, ss.cur)
		ss.cur = nil
	}
	for _, s := range ss.dropped {
		s.client.Close()
	}
	ss.dropped = nil
}
