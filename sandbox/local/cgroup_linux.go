//go:build linux

package local

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// cgroupDirName is the directory, inside the server's own cgroup of each
// controller, that holds one child cgroup per sandbox.
const cgroupDirName = "airlock-sandboxes"

// cgroups places each sandbox in its own memory and pids cgroup, so memory
// is bounded for the sandbox as a whole (every process, and the pages of
// its tmpfs scratch space) and the number of tasks too. It uses the cgroup
// v1 memory and pids hierarchies; hosts whose cgroup v2 hierarchy holds
// those controllers are reported but not used yet. The zero value (nil)
// means no cgroups.
type cgroups struct {
	memParent  string // <memory mount>/<own cgroup>/airlock-sandboxes
	pidsParent string // <pids mount>/<own cgroup>/airlock-sandboxes
	// uids is the server's claimed uid range: its slot starts every
	// cgroup's name, and its lock proves the server that made them lives.
	uids *uidRange
}

// cgroupSeq numbers the sandboxes' cgroups, "slot<k>-<server pid>-<seq>",
// across every Backend of the process. The slot tells whose they are; the
// pid and number only keep the names unique (a leftover that could not be
// removed never blocks a new name).
var cgroupSeq atomic.Uint64

// detectCgroups finds writable cgroup v1 memory and pids hierarchies and
// prepares the parent directories for a server holding uids. The string
// says why not, when it returns nil.
func detectCgroups(rootless bool, uids *uidRange) (*cgroups, string) {
	if rootless {
		return nil, "not root: cgroups need privileges (or a delegated subtree) the server does not have; memory is bounded per process by RLIMIT_AS"
	}
	mounts, err := cgroupV1Mounts()
	if err != nil {
		return nil, "cannot read the cgroup mounts: " + err.Error()
	}
	memMount, pidsMount := mounts["memory"], mounts["pids"]
	if memMount == "" || pidsMount == "" {
		return nil, "the host has no cgroup v1 memory and pids hierarchies (cgroup v2 controllers are not used yet); memory is bounded per process by RLIMIT_AS"
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, "cannot read this process's cgroups: " + err.Error()
	}
	c := &cgroups{
		memParent:  filepath.Join(memMount, own["memory"], cgroupDirName),
		pidsParent: filepath.Join(pidsMount, own["pids"], cgroupDirName),
		uids:       uids,
	}
	for _, dir := range []string{c.memParent, c.pidsParent} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "cannot create " + dir + ": " + err.Error()
		}
	}
	c.removeStale()
	return c, ""
}

// cgroupV1Mounts maps each v1 controller to its mount point.
func cgroupV1Mounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mountpoint ... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || qf[0] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(qf[2], ",") {
			if opt == "memory" || opt == "pids" {
				out[opt] = pf[4]
			}
		}
	}
	return out, sc.Err()
}

// ownCgroups maps each v1 controller to this process's cgroup path.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			out[ctrl] = parts[2]
		}
	}
	return out, nil
}

// sandboxCgroup is one sandbox's memory and pids cgroups.
type sandboxCgroup struct {
	mem, pids string
}

// create makes the cgroups of one sandbox, limited to l; add puts the
// sandbox in them.
func (c *cgroups) create(l sandbox.Limits) (*sandboxCgroup, error) {
	if c == nil {
		return nil, nil
	}
	name := fmt.Sprintf("slot%d-%d-%d", c.uids.slot, os.Getpid(), cgroupSeq.Add(1))
	s := &sandboxCgroup{mem: filepath.Join(c.memParent, name), pids: filepath.Join(c.pidsParent, name)}
	for _, dir := range []string{s.mem, s.pids} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			s.remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
	}
	writes := []struct{ file, value string }{
		{filepath.Join(s.mem, "memory.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10)},
		// No swap either, where swap accounting exists.
		{filepath.Join(s.mem, "memory.memsw.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10)},
		{filepath.Join(s.mem, "memory.swappiness"), "0"},
		// The helper's own threads count as tasks until it execs.
		{filepath.Join(s.pids, "pids.max"), strconv.Itoa(l.MaxProcesses + 16)},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.file, []byte(w.value), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.remove()
			return nil, fmt.Errorf("set %s: %w", filepath.Base(w.file), err)
		}
	}
	return s, nil
}

// add moves the process pid (the sandbox's init helper, before it has
// started any other process or the interpreter) into the sandbox's
// cgroups; what runs afterwards is born there. A cgroup v1 migration can
// wait for an RCU grace period, so the backend runs it while the helper
// sets the sandbox up, and the helper waits for it before exec.
func (s *sandboxCgroup) add(pid int) error {
	if s == nil {
		return nil
	}
	for _, dir := range []string{s.mem, s.pids} {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move the sandbox into %s: %w", dir, err)
		}
	}
	return nil
}

// oomKilled reports whether the kernel killed a process of the sandbox for
// exceeding its memory limit.
func (s *sandboxCgroup) oomKilled() bool {
	if s == nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join(s.mem, "memory.oom_control"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n > 0
		}
	}
	return false
}

// remove kills whatever is still in the sandbox's cgroups (nothing, once
// its pid namespace is gone) and removes them.
func (s *sandboxCgroup) remove() {
	if s == nil {
		return
	}
	for _, dir := range []string{s.mem, s.pids} {
		removeCgroup(dir)
	}
}

func removeCgroup(dir string) {
	for i := 0; i < 50; i++ {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		killCgroupProcs(dir)
		time.Sleep(2 * time.Millisecond)
	}
}

func killCgroupProcs(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeStale removes the cgroups that servers which are gone left behind
// (they crashed, or were killed): those of this server's own slot, which it
// has just claimed, and those of every slot no live server holds. A slot is
// locked while its cgroups are removed, so no server can claim it and
// create cgroups meanwhile; a live server's cgroups are never touched, and
// no process id, which the kernel reuses, is trusted.
func (c *cgroups) removeStale() {
	bySlot := map[int][]string{}
	for _, parent := range []string{c.memParent, c.pidsParent} {
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if slot, ok := cgroupSlot(e.Name()); ok && e.IsDir() {
				bySlot[slot] = append(bySlot[slot], filepath.Join(parent, e.Name()))
			}
		}
	}
	for slot, dirs := range bySlot {
		unlock := func() {}
		if slot != c.uids.slot {
			var free bool
			if unlock, free = c.uids.locks.tryLock(slot); !free {
				continue
			}
		}
		for _, dir := range dirs {
			removeCgroup(dir)
		}
		unlock()
	}
}

// cgroupSlot reads the uid slot from a sandbox cgroup's name,
// "slot<k>-<pid>-<seq>".
func cgroupSlot(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "slot")
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	slot, err := strconv.Atoi(digits)
	if !ok || err != nil || slot < 0 {
		return 0, false
	}
	return slot, true
}
