package modal

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Bounds of the pool's behaviour.
const (
	// maxRetireMargin is how long before its idle budget (Options.Lifetime)
	// runs out a pooled sandbox is retired, so a call taking it never runs
	// into the lifetime Modal enforces.
	maxRetireMargin = 5 * time.Second
	// maxFillBackoff caps the wait between failed refills.
	maxFillBackoff = time.Minute
	// createAllowance is how long a pooled sandbox's creation may take
	// without eating into its idle budget: its idle time counts from when
	// it is ready, and Modal's lifetime for it includes this allowance,
	// wherever in the creation Modal starts counting. Modal's p99 is about
	// 22 s.
	createAllowance = time.Minute
)

// pool keeps sandboxes created ahead of calls, each with the harness
// already started and waiting for its code on stdin, so a call skips both
// the sandbox's creation (seconds on Modal) and the interpreter's start.
// Each pooled sandbox serves one call and is then terminated, like any
// other; the pool refills in the background, never holding more than size
// sandboxes (ready and being created). A pooled sandbox idle for about
// Options.Lifetime is replaced. Failed refills back off exponentially.
type pool struct {
	b      *Backend
	size   int
	limits sandbox.Limits // what pooled harnesses are started with
	clock  clock

	mu       sync.Mutex
	ready    []*box
	filling  int
	closed   bool
	failures int
	retryAt  time.Time

	wake chan struct{} // nudges the manager; capacity 1
	done chan struct{} // closed when the manager has stopped
}

func newPool(b *Backend, size int, limits sandbox.Limits) *pool {
	return &pool{b: b, size: size, limits: limits, clock: b.clock, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// retireMargin is maxRetireMargin, or half the lifetime when shorter.
func (p *pool) retireMargin() time.Duration {
	return min(maxRetireMargin, p.b.opts.Lifetime/2)
}

// start runs the manager, which fills the pool at once.
func (p *pool) start() {
	if !p.b.begin() {
		close(p.done)
		return
	}
	go func() {
		defer p.b.ops.Done()
		p.manage()
	}()
}

func (p *pool) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// manage retires pooled sandboxes that are too old and starts refills,
// until the pool is closed. It sleeps until the next retirement or the end
// of a refill back-off, whichever comes first, or until nudged.
func (p *pool) manage() {
	defer close(p.done)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		now := p.clock.Now()
		expired := p.expireLocked(now)
		fills := 0
		var next time.Time // zero: nothing scheduled
		if now.Before(p.retryAt) {
			next = p.retryAt
		} else {
			fills = p.size - len(p.ready) - p.filling
			p.filling += fills
		}
		for _, bx := range p.ready {
			if next.IsZero() || bx.retireAt.Before(next) {
				next = bx.retireAt
			}
		}
		p.mu.Unlock()

		p.retire(expired)
		for range fills {
			p.b.goTracked(p.fill)
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(now), time.Millisecond)
		}
		timer, stop := p.clock.Timer(wait)
		select {
		case <-p.wake:
		case <-timer:
		case <-p.b.closing:
		}
		stop()
	}
}

// expireLocked removes and returns the ready sandboxes too old to take.
func (p *pool) expireLocked(now time.Time) []*box {
	var expired []*box
	keep := p.ready[:0]
	for _, bx := range p.ready {
		if now.Before(bx.retireAt) {
			keep = append(keep, bx)
		} else {
			expired = append(expired, bx)
		}
	}
	clear(p.ready[len(keep):])
	p.ready = keep
	return expired
}

// retire terminates boxes in the background.
func (p *pool) retire(boxes []*box) {
	for _, bx := range boxes {
		p.b.goTracked(func() { _ = p.b.release(bx.sb) })
	}
}

// fill creates one pooled sandbox and starts its harness.
func (p *pool) fill() {
	bx, err := p.prepare()
	p.mu.Lock()
	p.filling--
	if err != nil {
		p.failures++
		backoff := min(maxFillBackoff, time.Second<<min(p.failures-1, 6))
		p.retryAt = p.clock.Now().Add(backoff)
		p.mu.Unlock()
		if !isClosed(err) && !p.shuttingDown() {
			p.b.log.Warn("could not refill the Modal sandbox pool; calls create sandboxes on demand meanwhile",
				zap.String("reason", err.Error()), zap.Duration("retry_in", backoff))
		}
		p.signal()
		return
	}
	p.failures, p.retryAt = 0, time.Time{}
	if p.closed {
		p.mu.Unlock()
		_ = p.b.release(bx.sb)
		return
	}
	p.ready = append(p.ready, bx)
	p.mu.Unlock()
	p.signal()
}

// shuttingDown reports whether the backend is closing: a refill cut short
// then has not failed.
func (p *pool) shuttingDown() bool {
	select {
	case <-p.b.closing:
		return true
	default:
		return false
	}
}

// prepare creates a sandbox for the pool and starts its harness. Its
// lifetime covers its creation (up to createAllowance), its idle budget
// and the longest call; the harness's exec timeout, which starts once it
// is ready, the last two. The idle budget counts from when it is ready.
func (p *pool) prepare() (*box, error) {
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.b.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	sess, err := p.b.session(ctx)
	if err != nil {
		return nil, err
	}
	defer p.b.sessions.put(sess)
	o := p.b.opts
	asked := p.clock.Now()
	sb, err := p.b.create(ctx, sess, p.b.createParams(createAllowance+o.Lifetime+o.MaxTimeout+execGrace, p.limits.MemoryBytes, true))
	if err != nil {
		return nil, err
	}
	proc, err := p.b.startHarness(ctx, sb, p.limits, o.Lifetime+o.MaxTimeout, sess.creds)
	if err != nil {
		_ = p.b.release(sb)
		return nil, err
	}
	ready := p.clock.Now()
	p.warnIfSlow(ready.Sub(asked))
	idleFrom := ready // Modal's lifetime covers at most createAllowance of creation
	if limit := asked.Add(createAllowance); ready.After(limit) {
		idleFrom = limit
	}
	return &box{
		sb:       sb,
		proc:     proc,
		limits:   p.limits,
		retireAt: idleFrom.Add(o.Lifetime - p.retireMargin()),
		creds:    sess.creds,
	}, nil
}

// warnIfSlow says when creating a pooled sandbox took more than half its
// idle lifetime: the pool then replaces sandboxes about as fast as Modal
// creates them, paying for two where one serves.
func (p *pool) warnIfSlow(took time.Duration) {
	if life := p.b.opts.Lifetime; took > life/2 {
		p.b.log.Warn("creating a pooled Modal sandbox took more than half its idle lifetime (backend.modal.timeout_s); raise timeout_s so the pool does not spend its time replacing sandboxes",
			zap.Duration("creation", took), zap.Duration("timeout_s", life))
	}
}

// take returns a ready sandbox prepared for limits, or nil, and has the
// pool refill.
func (p *pool) take(limits sandbox.Limits) *box {
	if limits.PoolKey() != p.limits.PoolKey() || limits.Timeout > p.b.opts.MaxTimeout {
		return nil
	}
	now := p.clock.Now()
	p.mu.Lock()
	expired := p.expireLocked(now)
	var bx *box
	if len(p.ready) > 0 {
		bx = p.ready[0]
		p.ready[0] = nil
		p.ready = p.ready[1:]
	}
	p.mu.Unlock()
	p.retire(expired)
	p.signal()
	return bx
}

// readyCount is the number of sandboxes ready to take.
func (p *pool) readyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}

// close stops refilling and has every ready sandbox terminated in the
// background (Close, which calls it, waits); a refill in flight
// terminates its sandbox when it completes.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	ready := p.ready
	p.ready = nil
	p.mu.Unlock()
	p.signal()
	for _, bx := range ready {
		p.b.releaseLater(bx.sb)
	}
	<-p.done
}

// PoolReady is the number of pooled sandboxes ready to serve a call (0
// without a pool).
func (b *Backend) PoolReady() int {
	if b.pool == nil {
		return 0
	}
	return b.pool.readyCount()
}
