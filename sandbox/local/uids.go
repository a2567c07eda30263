package local

import (
	"errors"
	"sync"
)

// DefaultUIDBase is the first host uid given to sandboxes when the server
// runs as root. Each concurrent sandbox gets its own uid (the kernel counts
// the process limit per uid), from a range no account on a normal host uses.
const DefaultUIDBase = 1_900_000_000

// uidPoolSize bounds how many sandboxes can hold a uid at once.
const uidPoolSize = 4096

// uidPool hands out one host uid per running sandbox.
type uidPool struct {
	base  int
	mu    sync.Mutex
	inUse map[int]bool
	next  int
}

func newUIDPool(base int) *uidPool {
	return &uidPool{base: base, inUse: make(map[int]bool)}
}

var errNoUID = errors.New("every sandbox uid is in use")

// acquire returns a uid not held by any running sandbox.
func (p *uidPool) acquire() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < uidPoolSize; i++ {
		off := (p.next + i) % uidPoolSize
		if !p.inUse[off] {
			p.inUse[off] = true
			p.next = off + 1
			return p.base + off, nil
		}
	}
	return 0, errNoUID
}

// release returns uid to the pool.
func (p *uidPool) release(uid int) {
	p.mu.Lock()
	delete(p.inUse, uid-p.base)
	p.mu.Unlock()
}
