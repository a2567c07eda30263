package modal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/modal-labs/modal-client/go"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// A Python session on Modal (sandbox.Session) is one Modal sandbox whose
// own command is the harness in session mode, listening on a socket
// inside it; each call is an exec of the session client
// (sandbox.SessionClientArgs), which hands the call and its own stdout and
// stderr to the harness. Not to be confused with session (session.go),
// the SDK client the backend creates sandboxes through.
//
// The sandbox carries tags that find it again from another server
// process (a restart, a replica): the owner, the name, the socket's id,
// when it was created and a digest of what it was created with. Modal
// ends it when it has run no call for SessionIdleTimeout (the harness is
// the sandbox's command, not an exec, so only calls count as activity)
// or reaches SessionLifetime, whether or not a server is left. It is not
// among the sandboxes Backend.Close terminates: sessions outlive their
// server unless their owner closes them.
//
// This file is a session's life; pysession_call.go is one call.

var _ sandbox.SessionBackend = (*Backend)(nil)

// Tags of a session's sandbox, besides TagApp and TagInstance.
const (
	TagKind    = "airlock-kind"    // "session"
	TagOwner   = "airlock-owner"   // the owner, as sessionOwnerTag writes it
	TagSession = "airlock-session" // the session's name
	TagSocket  = "airlock-socket"  // the id in the harness's socket path
	TagCreated = "airlock-created" // when it was created, Unix seconds
	TagConfig  = "airlock-config"  // configDigest of what it was created with
)

// sessionDrainTimeout bounds how long a call whose client has exited
// waits for the rest of its output and its envelope: processes the code
// left running may hold the streams open for as long as they like.
const sessionDrainTimeout = 2 * time.Second

// pySession is one live session sandbox.
type pySession struct {
	b       *Backend
	key     sandbox.SessionKey
	sb      *sdk.Sandbox
	sess    *session // the SDK client that reaches sb, held for the session
	socket  string
	created time.Time
	grace   time.Duration

	callMu sync.Mutex // one call at a time
	calls  atomic.Int64
	// exitCodes is the sandbox's exit code, once Modal has reported it.
	exitCodes exitRecord
	creds     Credentials // for messages

	mu        sync.Mutex
	reason    string // why it ended; set before done is closed
	ending    string // why the backend ended it, when it did
	done      chan struct{}
	stopWatch context.CancelFunc
}

// StartSession starts a session sandbox for key and returns once its
// interpreter accepts calls. limits bound the session's whole life
// (memory is Modal's hard limit; open files and file size are rlimits);
// each call brings its own timeout and output caps.
func (b *Backend) StartSession(ctx context.Context, key sandbox.SessionKey, limits sandbox.Limits) (sandbox.Session, error) {
	if limits.MemoryBytes <= 0 || limits.MaxFileBytes <= 0 || limits.MaxOpenFiles <= 0 {
		return nil, fmt.Errorf("modal: a session's memory, file size and open file limits must be positive, got %+v", limits)
	}
	if !b.begin() {
		return nil, ErrClosed
	}
	defer b.ops.Done()
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("modal: session socket id: %w", err)
	}
	socketID := hex.EncodeToString(raw[:])
	argv, err := sessionHarnessArgv(limits, sessionSocket(socketID))
	if err != nil {
		return nil, err
	}
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	defer b.sessions.put(sess)
	created := b.clock.Now()
	params := b.createParams(b.opts.SessionLifetime, limits.MemoryBytes, false)
	params.Timeout, params.IdleTimeout = b.opts.SessionLifetime, b.opts.SessionIdleTimeout
	params.Command = argv
	params.Tags = map[string]string{
		TagApp:      "airlock-mcp",
		TagInstance: b.instance,
		TagKind:     "session",
		TagOwner:    sessionOwnerTag(key.Owner),
		TagSession:  key.Name,
		TagSocket:   socketID,
		TagCreated:  strconv.FormatInt(created.Unix(), 10),
		TagConfig:   b.configDigest(limits),
	}
	sb, err := b.create(ctx, sess, params)
	if err != nil {
		return nil, err
	}
	if !b.untrack(sb) { // Close took it meanwhile, and terminates it
		return nil, ErrClosed
	}
	s := b.newPySession(key, sb, sess, socketID, created)
	if err := s.awaitReady(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// sessionSocket is where the harness of the session whose socket id is id
// listens, inside its sandbox. The id keeps sessions apart where sandboxes
// share a filesystem (the test control plane).
func sessionSocket(id string) string { return "/tmp/.airlock-session-" + id + ".sock" }

// socketIDPattern is the shape of a session's socket id.
var socketIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// ownerTagValue is what a tag value may hold as it is.
var ownerTagValue = regexp.MustCompile(`^[A-Za-z0-9._:@+=-]{1,63}$`)

// sessionOwnerTag is the owner as tagged: as it is when short and plain,
// else a digest of it.
func sessionOwnerTag(owner string) string {
	if ownerTagValue.MatchString(owner) {
		return owner
	}
	sum := sha256.Sum256([]byte(owner))
	return "sha256-" + hex.EncodeToString(sum[:16])
}

// configDigest digests what a session's sandbox is created with that a
// server must agree with to continue it: the image, resources, network
// rules, the session's limits, the mounts uploaded into it and the
// harness it runs (whose protocol the server must speak). A server whose
// policy or build differs does not take over a session created under
// another.
func (b *Backend) configDigest(limits sandbox.Limits) string {
	o := b.opts
	text := fmt.Sprintf("%q %q %v %d %+v %d %d %d %d %d %s %x", o.AppName, o.Image, sdkCPU(o.CPU), o.MemoryMiB, o.Network,
		limits.MemoryBytes, limits.MaxFileBytes, limits.MaxOpenFiles, o.SessionIdleTimeout/time.Second, o.SessionLifetime/time.Second,
		sandbox.HarnessID(), b.mountsDigest())
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:12])
}

// untrack takes a created sandbox out of the ones Close terminates; its
// hold on its SDK client passes to the caller. False when Close has taken
// it already.
func (b *Backend) untrack(sb *sdk.Sandbox) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.live[sb]; !ok || b.closed {
		return false
	}
	delete(b.live, sb)
	return true
}

// newPySession wraps a live session sandbox, whose hold on sess it takes
// over, and starts watching it.
func (b *Backend) newPySession(key sandbox.SessionKey, sb *sdk.Sandbox, sess *session, socketID string, created time.Time) *pySession {
	grace := b.opts.SessionInterruptGrace
	if grace <= 0 {
		grace = sandbox.DefaultSessionInterruptGrace
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &pySession{b: b, key: key, sb: sb, sess: sess, creds: sess.creds, socket: sessionSocket(socketID), created: created,
		grace: grace, done: make(chan struct{}), stopWatch: cancel}
	go s.watch(ctx)
	go func() { // the backend's Close stops the watch: its client closes
		select {
		case <-b.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return s
}

// awaitReady waits until the harness listens, by a client that carries no
// call.
func (s *pySession) awaitReady(ctx context.Context) error {
	proc, err := s.sb.Exec(ctx, append([]string{"python3"}, sandbox.SessionClientReadyArgs(s.socket)...), &sdk.SandboxExecParams{
		Timeout: 3 * time.Minute, Workdir: workdir, Stdout: sdk.Ignore, Stderr: sdk.Ignore,
	})
	if err != nil {
		return s.b.describe(stageExec, err, s.creds)
	}
	code, err := proc.Wait(ctx, nil)
	if err == nil && code == sandbox.SessionClientServed {
		return nil
	}
	select {
	case <-s.done:
		return fmt.Errorf("modal: the session's interpreter did not start: %s", s.Reason())
	case <-ctx.Done():
		return fmt.Errorf("modal: waiting for the session's interpreter: %w", ctx.Err())
	default:
	}
	if err != nil {
		return fmt.Errorf("modal: waiting for the session's interpreter: %s", serverSaid(err))
	}
	return fmt.Errorf("modal: the session's interpreter did not start listening (its readiness check exited with code %d)", code)
}

// watch waits for the sandbox to stop, whatever stops it, and ends the
// session saying why. It gives up quietly when ctx ends.
func (s *pySession) watch(ctx context.Context) {
	for ctx.Err() == nil {
		code, err := s.sb.Wait(ctx, nil)
		if err == nil {
			s.ended(code)
			return
		}
		if isNotFound(err) {
			s.end("Modal no longer knows the session's sandbox")
			return
		}
		if errors.As(err, &sdk.ClientClosedError{}) {
			return // the backend dropped or closed the client
		}
		// A failed long poll: ask again, after a pause on the backend's clock.
		timer, stop := s.b.clock.Timer(time.Second)
		select {
		case <-timer:
		case <-ctx.Done():
		}
		stop()
	}
}

// stoppedReason says why the sandbox stopped with code: the backend's own
// reason when it ended it, else what Modal's code means.
func (s *pySession) stoppedReason(code int) string {
	s.mu.Lock()
	ending := s.ending
	s.mu.Unlock()
	switch {
	case ending != "":
		return ending
	case code == 124:
		return fmt.Sprintf("Modal ended the session's sandbox when its lifetime of %s s ran out (sessions.max_lifetime_s)", seconds(s.b.opts.SessionLifetime))
	case code == 137:
		return "Modal terminated the session's sandbox"
	case code == 0:
		return "the session's sandbox stopped: it ran no call for the idle time Modal allows (sessions.idle_ttl_s), or the interpreter exited with code 0"
	}
	var exit sandbox.ProcessExit
	exitFromCode(&exit, code, nil, "")
	return sandbox.SessionEndReason(exit, sandbox.Limits{})
}

// end marks the session ended for reason, once.
func (s *pySession) end(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	s.reason = reason
	close(s.done)
	s.stopWatch()
}

// endWith ends the session for reason and terminates its sandbox in the
// background: counted in Sandboxes, retried, and waited for by the
// backend's Close, like a fresh call's sandbox.
func (s *pySession) endWith(reason string) {
	s.mu.Lock()
	if s.ending == "" {
		s.ending = reason
	}
	first := s.sess != nil
	sess := s.sess
	s.sess = nil
	s.mu.Unlock()
	s.end(reason)
	if !first {
		return
	}
	b := s.b
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		// The backend's clients are closed: Modal's limits end the sandbox.
		b.log.Warn("a session was ended after the backend closed; Modal ends its sandbox at its idle timeout",
			zap.String("sandbox_id", s.sb.SandboxID))
		return
	}
	b.live[s.sb] = &liveEntry{sess: sess} // its hold on sess passes to the termination
	b.ops.Add(1)
	b.mu.Unlock()
	b.releaseLater(s.sb)
	b.ops.Done()
}

// Key is the session's key.
func (s *pySession) Key() sandbox.SessionKey { return s.key }

// ID is the session's Modal sandbox id.
func (s *pySession) ID() string { return s.sb.SandboxID }

// Created is when the session's sandbox was created.
func (s *pySession) Created() time.Time { return s.created }

// Calls is how many calls the session's interpreter has run, as far as
// this server knows: a session found again learns it from its next call.
func (s *pySession) Calls() int { return int(s.calls.Load()) }

// Done is closed once the session has ended.
func (s *pySession) Done() <-chan struct{} { return s.done }

// Reason says why the session ended; "" until Done is closed.
func (s *pySession) Reason() string {
	select {
	case <-s.done:
	default:
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// MemoryBytes is 0: Modal does not report a sandbox's memory use.
func (s *pySession) MemoryBytes() int64 { return 0 }

// Close ends the session and terminates its sandbox in the background
// (see Backend.Sandboxes); safe to call more than once and after Done.
func (s *pySession) Close() error {
	s.endWith("the session was ended")
	return nil
}

// FindSessions returns owner's live sessions on this App that a server
// (this one earlier, another, or a replica) started, found by their tags,
// to be continued with their interpreters' state. A session created with
// other settings (image, resources, network, limits) is left alone: Modal
// ends it at its idle timeout.
func (b *Backend) FindSessions(ctx context.Context, owner string) ([]sandbox.Session, error) {
	if !b.begin() {
		return nil, ErrClosed
	}
	defer b.ops.Done()
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	defer b.sessions.put(sess)
	list, err := sess.client.Sandboxes.List(ctx, &sdk.SandboxListParams{AppID: sess.app.AppID, Tags: map[string]string{
		TagApp: "airlock-mcp", TagKind: "session", TagOwner: sessionOwnerTag(owner),
	}})
	if err != nil {
		return nil, fmt.Errorf("modal: list the sessions of %s: %w", owner, b.describe(stageApp, err, sess.creds))
	}
	want := b.configDigest(b.opts.DefaultLimits)
	var found []sandbox.Session
	for sb, err := range list {
		if err != nil {
			return found, fmt.Errorf("modal: list the sessions of %s: %w", owner, b.describe(stageApp, err, sess.creds))
		}
		tags, err := sb.GetTags(ctx, nil)
		if err != nil {
			if isNotFound(err) {
				continue // it ended meanwhile
			}
			return found, fmt.Errorf("modal: read the tags of session sandbox %s: %w", sb.SandboxID, b.describe(stageApp, err, sess.creds))
		}
		if tags[TagConfig] != want || !socketIDPattern.MatchString(tags[TagSocket]) || tags[TagSession] == "" {
			b.log.Warn("a session sandbox created with other settings (image, resources, network or limits) is not continued; Modal ends it at its idle timeout",
				zap.String("sandbox_id", sb.SandboxID), zap.String("session", tags[TagSession]))
			continue
		}
		created := b.clock.Now()
		if sec, err := strconv.ParseInt(tags[TagCreated], 10, 64); err == nil {
			created = time.Unix(sec, 0)
		}
		b.sessions.hold(sess)
		found = append(found, b.newPySession(sandbox.SessionKey{Owner: owner, Name: tags[TagSession]}, sb, sess, tags[TagSocket], created))
	}
	return found, nil
}
