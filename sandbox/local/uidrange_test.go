//go:build linux

package local

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testUIDRanges are uid range locks in a directory of the test's own, with
// few slots.
func testUIDRanges(t *testing.T, slots int) uidRangeLocks {
	t.Helper()
	return uidRangeLocks{parent: t.TempDir(), dirs: []string{"airlock-mcp", "uid-ranges"}, base: DefaultUIDBase, size: uidPoolSize, slots: slots}
}

func mustClaim(t *testing.T, l uidRangeLocks) *uidRange {
	t.Helper()
	r, err := l.claim()
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return r
}

// TestUIDRangesAreDisjoint: servers (here, backends of one process: flock
// locks belong to open files) get disjoint blocks of uids; a released block
// is claimed again; with every slot held, a claim is refused, saying so.
func TestUIDRangesAreDisjoint(t *testing.T) {
	l := testUIDRanges(t, 2)
	a, b := mustClaim(t, l), mustClaim(t, l)
	if a.first != DefaultUIDBase || a.last != DefaultUIDBase+uidPoolSize-1 {
		t.Errorf("first range %d-%d, want %d-%d", a.first, a.last, DefaultUIDBase, DefaultUIDBase+uidPoolSize-1)
	}
	if b.first != a.last+1 || b.last != b.first+uidPoolSize-1 {
		t.Errorf("second range %d-%d overlaps or is not next to the first %d-%d", b.first, b.last, a.first, a.last)
	}
	if _, err := l.claim(); err == nil || !strings.Contains(err.Error(), "every one of the 2 sandbox uid ranges is claimed") {
		t.Errorf("claim with every slot held: %v", err)
	}
	a.release()
	if c := mustClaim(t, l); c.slot != a.slot {
		t.Errorf("a released slot was not claimed again: got slot %d, want %d", c.slot, a.slot)
	}
	for _, dir := range []string{filepath.Join(l.parent, "airlock-mcp"), l.dir()} {
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s was created with mode %v, want 0700", dir, st.Mode().Perm())
		}
	}
}

// TestUIDRangeOfADeadServerIsReused: a slot is held exactly as long as the
// process holding its lock lives; killed (a crash), it frees the slot
// without any cleanup.
func TestUIDRangeOfADeadServerIsReused(t *testing.T) {
	l := testUIDRanges(t, 4)
	dir, err := l.openDir()
	if err != nil {
		t.Fatal(err)
	}
	dir.Close()
	holder := exec.Command("/usr/bin/python3", "-c", `import fcntl, sys
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
sys.stdin.read()`, filepath.Join(l.dir(), "0.lock"))
	stdin, err := holder.StdinPipe() // held open: the holder lives until killed
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		t.Skipf("cannot start python3 to hold a lock: %v", err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		holder.Process.Kill()
		holder.Wait()
		t.Fatalf("the lock holder did not lock slot 0: %q %v", line, err)
	}
	r := mustClaim(t, l)
	if r.slot != 1 {
		t.Errorf("with slot 0 held by a live process, claimed slot %d, want 1", r.slot)
	}
	holder.Process.Kill()
	holder.Wait()
	if again := mustClaim(t, l); again.slot != 0 {
		t.Errorf("the slot of a killed holder was not reused: claimed slot %d, want 0", again.slot)
	}
}

// TestUIDRangeLockDirectoryMustBePrivate: a lock directory that is a
// symbolic link, belongs to another user or that others may write is
// refused, naming the directory and what to do; nothing is claimed.
func TestUIDRangeLockDirectoryMustBePrivate(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, l *uidRangeLocks)
		want  string
	}{
		{"a symbolic link", func(t *testing.T, l *uidRangeLocks) {
			elsewhere := t.TempDir()
			if err := os.Symlink(elsewhere, filepath.Join(l.parent, "airlock-mcp")); err != nil {
				t.Fatal(err)
			}
		}, "must be a directory, not a symbolic link"},
		{"writable by others", func(t *testing.T, l *uidRangeLocks) {
			mkdirMode(t, filepath.Join(l.parent, "airlock-mcp"), 0o777)
		}, "is writable by other users (mode 0777): chmod it 0700"},
		{"the inner directory writable by its group", func(t *testing.T, l *uidRangeLocks) {
			mkdirMode(t, filepath.Join(l.parent, "airlock-mcp"), 0o700)
			mkdirMode(t, l.dir(), 0o770)
		}, "uid-ranges is writable by other users (mode 0770)"},
		{"owned by another user", func(t *testing.T, l *uidRangeLocks) {
			if os.Geteuid() != 0 {
				// Not root: a system directory is someone else's.
				l.parent, l.dirs = "/", []string{"usr"}
				return
			}
			dir := filepath.Join(l.parent, "airlock-mcp")
			mkdirMode(t, dir, 0o700)
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, fmt.Sprintf("belongs to uid %d, not to this server's uid %d", map[bool]int{true: 65534, false: 0}[os.Geteuid() == 0], os.Geteuid())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testUIDRanges(t, 4)
			tc.setup(t, &l)
			r, err := l.claim()
			if err == nil {
				r.release()
				t.Fatalf("claimed slot %d in an unsafe directory", r.slot)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "claim a range of sandbox uids") {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func mkdirMode(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// TestStaleCgroupsAreTheDeadServersOnly: at start, a server removes the
// sandbox cgroups of its own, just claimed, slot and of slots nobody holds,
// and keeps a live server's, whatever process ids their names carry (pids
// are reused); names not of this scheme are not its to judge.
func TestStaleCgroupsAreTheDeadServersOnly(t *testing.T) {
	l := testUIDRanges(t, 8)
	own, live, dead := mustClaim(t, l), mustClaim(t, l), mustClaim(t, l)
	dead.release()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := gone.Process.Pid
	c := &cgroups{memParent: t.TempDir(), pidsParent: t.TempDir(), uids: own}
	names := map[string]bool{ // name: removed
		fmt.Sprintf("slot%d-%d-1", own.slot, deadPid):      true, // a dead holder of this server's slot
		fmt.Sprintf("slot%d-%d-7", live.slot, deadPid):     false,
		fmt.Sprintf("slot%d-%d-1", live.slot, os.Getpid()): false,
		fmt.Sprintf("slot%d-%d-3", dead.slot, deadPid):     true,
		fmt.Sprintf("slot%d-%d-2", 6, deadPid):             true, // never claimed since boot
		fmt.Sprintf("%d-1", deadPid):                       false,
		"user-made":                                        false,
	}
	for name := range names {
		for _, parent := range []string{c.memParent, c.pidsParent} {
			if err := os.Mkdir(filepath.Join(parent, name), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.removeStale()
	for name, removed := range names {
		for _, parent := range []string{c.memParent, c.pidsParent} {
			_, err := os.Stat(filepath.Join(parent, name))
			if gone := err != nil; gone != removed {
				t.Errorf("%s: removed = %v at the start, want %v", filepath.Join(parent, name), gone, removed)
			}
		}
	}
	// The dead slots it locked while cleaning are free again.
	if r := mustClaim(t, l); r.slot != dead.slot {
		t.Errorf("claimed slot %d after the cleanup, want the dead server's %d", r.slot, dead.slot)
	}
}
