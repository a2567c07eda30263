//go:build linux

package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// uidRangeLocks is where root servers claim their blocks of sandbox uids:
// slot k is the block [base + k*size, base + (k+1)*size), claimed by holding
// an exclusive flock on <dir>/<k>.lock for the server's lifetime. The kernel
// drops a lock when the last descriptor of its open file closes, so a server
// that exits, crashes or is killed frees its slot without cleaning up (the
// empty files stay). Two servers, or two backends of one process (flock
// locks belong to open files, not processes), never hold the same slot.
//
// The directories are created 0700 and refused when they are symbolic
// links, belong to another user, or others may write them: whoever could
// take or fake the locks could make two servers share uids.
type uidRangeLocks struct {
	// parent is a trusted directory; dirs are created in it, each inside
	// the one before, and checked.
	parent string
	dirs   []string
	// base is the first uid of slot 0; size the uids per slot; slots the
	// number of slots.
	base, size, slots int
}

// hostUIDRanges are the uid ranges of every root server on this host.
var hostUIDRanges = uidRangeLocks{
	parent: "/run",
	dirs:   []string{"airlock-mcp", "uid-ranges"},
	base:   DefaultUIDBase,
	size:   uidPoolSize,
	slots:  uidRangeSlots,
}

// dir is the directory holding the lock files.
func (l uidRangeLocks) dir() string {
	return filepath.Join(append([]string{l.parent}, l.dirs...)...)
}

// uidRange is one claimed block of uids; it is this server's until release.
type uidRange struct {
	slot        int
	first, last int
	locks       uidRangeLocks
	lock        *os.File
}

// release gives the block back; no sandbox may run on its uids any more.
func (r *uidRange) release() {
	r.lock.Close()
}

// errSlotHeld: a live server holds the slot.
var errSlotHeld = errors.New("the slot is held by a running server")

// claim takes the lowest slot no live server holds.
func (l uidRangeLocks) claim() (*uidRange, error) {
	dir, err := l.openDir()
	if err != nil {
		return nil, l.claimError(err)
	}
	defer dir.Close()
	for slot := 0; slot < l.slots; slot++ {
		lock, err := lockSlot(dir, slot)
		if errors.Is(err, errSlotHeld) {
			continue
		}
		if err != nil {
			return nil, l.claimError(err)
		}
		first := l.base + slot*l.size
		return &uidRange{slot: slot, first: first, last: first + l.size - 1, locks: l, lock: lock}, nil
	}
	return nil, fmt.Errorf("every one of the %d sandbox uid ranges is claimed by a running server (lock files in %s): stop a server on this host before starting another", l.slots, l.dir())
}

func (l uidRangeLocks) claimError(err error) error {
	return fmt.Errorf("claim a range of sandbox uids (lock files in %s keep two servers on this host from sharing uids): %w", l.dir(), err)
}

// tryLock locks slot when no live server holds it, so nobody can claim it
// until unlock is called; ok is false when it is held (or cannot be
// locked).
func (l uidRangeLocks) tryLock(slot int) (unlock func(), ok bool) {
	dir, err := l.openDir()
	if err != nil {
		return nil, false
	}
	defer dir.Close()
	lock, err := lockSlot(dir, slot)
	if err != nil {
		return nil, false
	}
	return func() { lock.Close() }, true
}

// openDir opens the lock directory, creating it and its parents in
// l.parent, each 0700, and checking each is a private directory of this
// user. Each is opened relative to the one checked before it, so no
// symbolic link or swapped directory is followed on the way.
func (l uidRangeLocks) openDir() (*os.File, error) {
	fd, err := unix.Open(l.parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", l.parent, err)
	}
	path := l.parent
	for _, name := range l.dirs {
		path = filepath.Join(path, name)
		if err := unix.Mkdirat(fd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("open %s (it must be a directory, not a symbolic link): %w", path, err)
		}
		fd = next
		if err := checkPrivateDir(fd, path); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// checkPrivateDir refuses a directory another user owns or others may
// write.
func checkPrivateDir(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("%s belongs to uid %d, not to this server's uid %d: remove it, or chown it to uid %d and chmod it 0700", path, st.Uid, euid, euid)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("%s is writable by other users (mode %#o): chmod it 0700", path, st.Mode&0o777)
	}
	return nil
}

// lockSlot opens and locks slot's lock file in dir; errSlotHeld when a
// live server holds it.
func lockSlot(dir *os.File, slot int) (*os.File, error) {
	name := strconv.Itoa(slot) + ".lock"
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(dir.Name(), name), err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errSlotHeld
		}
		return nil, fmt.Errorf("lock %s: %w", filepath.Join(dir.Name(), name), err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir.Name(), name)), nil
}
