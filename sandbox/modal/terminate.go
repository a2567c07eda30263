package modal

import (
	"context"
	"fmt"
	"sync"
	"time"

	sdk "github.com/modal-labs/modal-client/go"
	"go.uber.org/zap"
)

// Bounds of one sandbox's termination.
const (
	// terminateAttempts is how many times a termination is tried before
	// the sandbox is left to Close (and, failing that, to its lifetime).
	terminateAttempts = 4
	// terminateAttemptTimeout bounds one attempt: Modal answers in well
	// under a second, a slow Modal in seconds.
	terminateAttemptTimeout = 15 * time.Second
	// terminateBackoff is the wait before the second attempt, doubled
	// before each further one.
	terminateBackoff = 500 * time.Millisecond
)

// liveEntry is one live sandbox: the session whose client reaches it, and
// its termination, done once however many paths (the call, the pool,
// Close) ask for it at the same time.
type liveEntry struct {
	sess *session
	once sync.Once
	err  error
}

// track records a created sandbox, holding sess for it until it is
// terminated, or reports false when the backend has closed meanwhile (the
// caller must then terminate it itself).
func (b *Backend) track(sb *sdk.Sandbox, sess *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.sessions.hold(sess)
	b.live[sb] = &liveEntry{sess: sess}
	return true
}

// release terminates sb, once, retrying, and forgets it when Modal has
// confirmed it: until then Sandboxes counts it. A sandbox that could not
// be terminated stays recorded with a fresh entry, so Close tries again.
func (b *Backend) release(sb *sdk.Sandbox) error {
	b.mu.Lock()
	e, ok := b.live[sb]
	b.mu.Unlock()
	if !ok {
		return nil
	}
	e.once.Do(func() {
		e.err = b.terminate(sb)
		b.mu.Lock()
		if e.err == nil {
			delete(b.live, sb)
		} else {
			b.live[sb] = &liveEntry{sess: e.sess}
		}
		b.mu.Unlock()
		if e.err == nil {
			b.sessions.put(e.sess)
			b.log.Debug("Modal sandbox terminated", zap.String("sandbox_id", sb.SandboxID))
		}
	})
	return e.err
}

// releaseLater releases sb in the background: the answer never waits for
// Modal to confirm a termination. The caller must hold an operation (see
// spawn).
func (b *Backend) releaseLater(sb *sdk.Sandbox) {
	b.spawn(func() { _ = b.release(sb) })
}

// releaseAsync releases sb in the background and delivers the outcome. The
// caller must hold an operation (see spawn).
func (b *Backend) releaseAsync(sb *sdk.Sandbox) <-chan error {
	done := make(chan error, 1)
	b.spawn(func() { done <- b.release(sb) })
	return done
}

// terminate stops sb with a context of its own (the caller's may be
// cancelled already: that does not stop a Modal sandbox), making up to
// terminateAttempts attempts with a growing pause between them. A sandbox
// already gone counts as terminated.
func (b *Backend) terminate(sb *sdk.Sandbox) error {
	var err error
	pause := terminateBackoff
	for attempt := 1; ; attempt++ {
		if err = terminateOnce(sb); err == nil {
			_ = sb.Detach()
			return nil
		}
		if attempt == terminateAttempts {
			break
		}
		timer, stop := b.clock.Timer(pause)
		<-timer
		stop()
		pause *= 2
	}
	b.log.Warn("could not terminate a Modal sandbox; Modal ends it when its lifetime runs out",
		zap.String("sandbox_id", sb.SandboxID), zap.String("reason", serverSaid(err)))
	return fmt.Errorf("modal: terminate sandbox %s: %w", sb.SandboxID, err)
}

// terminateOnce is one attempt, bounded by terminateAttemptTimeout.
func terminateOnce(sb *sdk.Sandbox) error {
	ctx, cancel := context.WithTimeout(context.Background(), terminateAttemptTimeout)
	defer cancel()
	if _, err := sb.Terminate(ctx, nil); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// liveSandboxes returns the sandboxes not yet confirmed terminated.
func (b *Backend) liveSandboxes() []*sdk.Sandbox {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*sdk.Sandbox, 0, len(b.live))
	for sb := range b.live {
		out = append(out, sb)
	}
	return out
}

// Sandboxes reports how many Modal sandboxes exist now (in a call, pooled,
// or being terminated, until Modal confirms it): the ones this server pays
// for.
func (b *Backend) Sandboxes() int { return len(b.liveSandboxes()) }
