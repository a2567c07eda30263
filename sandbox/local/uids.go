package local

import (
	"errors"
	"sync"
)

// DefaultUIDBase is the first host uid given to sandboxes when the server
// runs as root, from a range no account on a normal host uses. Each server
// instance claims its own block of uidPoolSize uids from there (see
// uidRangeLocks), and each concurrent sandbox of that server gets its own
// uid of the block: the kernel counts the process limit per uid, so no two
// sandboxes, of one server or of two, share it.
const DefaultUIDBase = 1_900_000_000

// uidPoolSize is the number of uids in one server's block, which bounds how
// many sandboxes can hold a uid at once.
const uidPoolSize = 4096

// uidRangeSlots is the number of blocks, so of root servers one host can
// run at once: the uids 1900000000 to 1904194303.
const uidRangeSlots = 1024

// uidPool hands out one host uid per running sandbox, from one block.
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
