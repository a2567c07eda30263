package filestore_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/filestore"
)

// clock is a clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newStore(t *testing.T, ttl time.Duration, maxBytes int64) (*filestore.Store, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	s, err := filestore.New(filestore.Options{TTL: ttl, MaxBytes: maxBytes, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func file(path, data string) filestore.File {
	return filestore.File{Path: path, MIME: "text/plain", Data: []byte(data)}
}

// readable reports whether owner reads path of call id, and checks the
// content when it does.
func readable(t *testing.T, s *filestore.Store, owner, id, path, want string) bool {
	t.Helper()
	f, err := s.Get(owner, id, path)
	if errors.Is(err, filestore.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("Get(%s, %s, %s): %v", owner, id, path, err)
	}
	if string(f.Data) != want {
		t.Errorf("Get(%s, %s, %s) = %q, want %q", owner, id, path, f.Data, want)
	}
	return true
}

// TestReadableUntilTheTTL: a call's files are readable by their owner
// until the time to live has passed, and not from that instant on.
func TestReadableUntilTheTTL(t *testing.T) {
	s, c := newStore(t, time.Hour, 0)
	expires, err := s.Put("alice", "call1", []filestore.File{file("out/a.txt", "A")})
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Now().Add(time.Hour); !expires.Equal(want) {
		t.Errorf("expires %v, want %v", expires, want)
	}
	c.Advance(time.Hour - time.Nanosecond)
	if !readable(t, s, "alice", "call1", "out/a.txt", "A") {
		t.Fatal("the file is gone before its time to live passed")
	}
	c.Advance(time.Nanosecond)
	if readable(t, s, "alice", "call1", "out/a.txt", "A") {
		t.Fatal("the file is still readable once its time to live passed")
	}
	if got := s.Bytes(); got != 0 {
		t.Errorf("an expired call still holds %d bytes after a read", got)
	}
}

// TestOwnerOnly: another identity, an unknown call and an unknown path all
// read as the same ErrNotFound.
func TestOwnerOnly(t *testing.T) {
	s, _ := newStore(t, time.Hour, 0)
	if _, err := s.Put("alice", "call1", []filestore.File{file("out/a.txt", "A")}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ owner, id, path string }{
		{"bob", "call1", "out/a.txt"},
		{"", "call1", "out/a.txt"},
		{"alice", "call2", "out/a.txt"},
		{"alice", "call1", "out/b.txt"},
	} {
		if _, err := s.Get(tt.owner, tt.id, tt.path); err != filestore.ErrNotFound {
			t.Errorf("Get(%q, %q, %q) = %v, want exactly ErrNotFound", tt.owner, tt.id, tt.path, err)
		}
	}
	if !readable(t, s, "alice", "call1", "out/a.txt", "A") {
		t.Error("the owner cannot read its file")
	}
}

// TestEvictsOldestFirst: past the bound, the oldest calls go first, whole,
// and the newest stay; files larger than the whole bound are refused.
func TestEvictsOldestFirst(t *testing.T) {
	s, c := newStore(t, time.Hour, 10)
	put := func(id, data string) {
		t.Helper()
		if _, err := s.Put("alice", id, []filestore.File{file("out/x", data)}); err != nil {
			t.Fatalf("Put %s: %v", id, err)
		}
		c.Advance(time.Second)
	}
	put("c1", "1111")
	put("c2", "2222")
	put("c3", "33") // 10 bytes: all fit
	if !readable(t, s, "alice", "c1", "out/x", "1111") {
		t.Fatal("c1 evicted while the store was within its bound")
	}
	put("c4", "444") // 13 bytes: c1 must go
	if readable(t, s, "alice", "c1", "out/x", "1111") {
		t.Error("the oldest call was not evicted")
	}
	for id, want := range map[string]string{"c2": "2222", "c3": "33", "c4": "444"} {
		if !readable(t, s, "alice", id, "out/x", want) {
			t.Errorf("%s evicted, want only the oldest gone", id)
		}
	}
	if got := s.Bytes(); got != 9 {
		t.Errorf("Bytes() = %d, want 9", got)
	}
	_, err := s.Put("alice", "c5", []filestore.File{file("out/x", "55555555555")})
	if !errors.Is(err, filestore.ErrTooLarge) {
		t.Errorf("Put of 11 bytes into a store of 10 = %v, want ErrTooLarge", err)
	}
	if !readable(t, s, "alice", "c2", "out/x", "2222") {
		t.Error("a refused Put evicted other calls")
	}
}

func TestCallIDsAreRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := filestore.NewCallID()
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("call id %q is not 32 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("call id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestPutRefusesATakenID(t *testing.T) {
	s, _ := newStore(t, time.Hour, 0)
	if _, err := s.Put("alice", "c1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put("bob", "c1", []filestore.File{file("out/x", "B")}); err == nil {
		t.Fatal("a second Put under the same call id was accepted")
	}
	if readable(t, s, "bob", "c1", "out/x", "B") {
		t.Error("bob reads under alice's call id")
	}
}
