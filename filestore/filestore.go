// Package filestore keeps the files execute_python returned, so that a
// client can read them (resources/read of airlock://files/<call>/<path>)
// for a while after the call: per client identity, for a time to live,
// within a bound on the memory they take. A call's files are one entry,
// named by a random call id nobody can guess; a read names the reader's
// identity, and an entry of another identity reads exactly as a missing
// one.
//
// The content is the sandboxed code's output: the store keeps and returns
// it as bytes, never interpreting it.
package filestore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxBytes is the bound on the content the store keeps when
// Options gives none: 256 MiB.
const DefaultMaxBytes = 256 << 20

// ErrNotFound is what every read that finds nothing returns: a missing or
// expired call or file, or one of another identity.
var ErrNotFound = errors.New("filestore: not found")

// ErrTooLarge is returned by Put for files that together exceed the
// store's whole bound: they could never be kept.
var ErrTooLarge = errors.New("filestore: the files are larger than the store's bound")

// File is one kept file.
type File struct {
	// Path names the file within its call (a file's path relative to the
	// working directory, or a figure's name under figures/).
	Path string
	// MIME is its media type, as the server detected it.
	MIME string
	// Data is its content. The store never changes it; readers must not
	// either.
	Data []byte
}

// Options configure a Store.
type Options struct {
	// TTL is how long each call's files stay readable after Put; required.
	TTL time.Duration
	// MaxBytes bounds the content kept, all calls together: a Put that
	// would exceed it evicts the oldest calls first. 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store keeps returned files. It is safe for concurrent use.
type Store struct {
	ttl      time.Duration
	maxBytes int64
	now      func() time.Time

	mu    sync.Mutex
	calls map[string]*entry
	order []*entry // by Put, oldest first; holds evicted entries until compacted
	bytes int64
}

// entry is one call's files.
type entry struct {
	id      string
	owner   string
	expires time.Time
	files   map[string]File
	bytes   int64
	gone    bool // evicted or expired, still in order
}

// New makes a store.
func New(opts Options) (*Store, error) {
	if opts.TTL <= 0 {
		return nil, errors.New("filestore: the time to live must be positive")
	}
	s := &Store{ttl: opts.TTL, maxBytes: opts.MaxBytes, now: opts.Now, calls: map[string]*entry{}}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// TTL is how long a call's files stay readable.
func (s *Store) TTL() time.Duration { return s.ttl }

// NewCallID returns a fresh call id: 128 random bits in hex, which no
// client can guess.
func NewCallID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Put keeps files as call id of owner until the time to live passes or
// the bound evicts them, and returns when they expire. Expired calls are
// dropped first; then, while the content kept would exceed the bound, the
// oldest calls are. Files that alone exceed the whole bound are not kept
// (ErrTooLarge). A path given twice keeps its last file.
func (s *Store) Put(owner, id string, files []File) (time.Time, error) {
	if id == "" || owner == "" {
		return time.Time{}, errors.New("filestore: a call id and an owner are required")
	}
	e := &entry{id: id, owner: owner, files: make(map[string]File, len(files))}
	for _, f := range files {
		if old, ok := e.files[f.Path]; ok {
			e.bytes -= int64(len(old.Data))
		}
		e.files[f.Path] = f
		e.bytes += int64(len(f.Data))
	}
	if e.bytes > s.maxBytes {
		return time.Time{}, fmt.Errorf("%w (%d bytes, bound %d)", ErrTooLarge, e.bytes, s.maxBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if _, taken := s.calls[id]; taken {
		return time.Time{}, fmt.Errorf("filestore: call id %s is already in use", id)
	}
	s.expire(now)
	for _, old := range s.order {
		if s.bytes+e.bytes <= s.maxBytes {
			break
		}
		s.drop(old)
	}
	s.compact()
	e.expires = now.Add(s.ttl)
	s.calls[id] = e
	s.order = append(s.order, e)
	s.bytes += e.bytes
	return e.expires, nil
}

// Get returns file path of call id if owner put it and it has not
// expired or been evicted; otherwise ErrNotFound, whichever the reason.
func (s *Store) Get(owner, id, path string) (File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(s.now())
	s.compact()
	e, ok := s.calls[id]
	if !ok || e.owner != owner {
		return File{}, ErrNotFound
	}
	f, ok := e.files[path]
	if !ok {
		return File{}, ErrNotFound
	}
	return f, nil
}

// Bytes is the content kept now, all calls together (expired calls count
// until the next Put or Get drops them).
func (s *Store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// expire drops every call whose time has passed at now. Calls are in Put
// order and share one time to live, so the expired ones are a prefix.
func (s *Store) expire(now time.Time) {
	for _, e := range s.order {
		if e.gone {
			continue
		}
		if now.Before(e.expires) {
			break
		}
		s.drop(e)
	}
}

// drop forgets e, leaving it in order until compact.
func (s *Store) drop(e *entry) {
	if e.gone {
		return
	}
	e.gone = true
	delete(s.calls, e.id)
	s.bytes -= e.bytes
}

// compact removes dropped entries from the front of order. Dropping
// happens only from the front (expiry and eviction both go oldest first),
// so the front is all there is to remove.
func (s *Store) compact() {
	i := 0
	for i < len(s.order) && s.order[i].gone {
		s.order[i] = nil
		i++
	}
	s.order = s.order[i:]
}
