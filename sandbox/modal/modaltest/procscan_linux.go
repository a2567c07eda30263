package modaltest

import (
	"os"
	"strconv"
	"strings"
)

// LiveProcesses counts the processes still alive (zombies excluded) in the
// process groups of every exec the server started. After a sandbox is
// terminated, or after Close, it should be 0. It reads /proc.
func (s *Server) LiveProcesses() int {
	return liveInGroups(s.st.pgidList())
}

// liveInGroups counts the processes still alive (zombies excluded) in the
// given process groups.
func liveInGroups(pgids []int) int {
	groups := map[int]bool{}
	for _, g := range pgids {
		groups[g] = true
	}
	if len(groups) == 0 {
		return 0
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		state, pgrp, ok := parseStat(string(stat))
		if ok && groups[pgrp] && state != "Z" && state != "X" {
			n++
		}
	}
	return n
}

// parseStat extracts the state and process group from /proc/PID/stat:
// "pid (comm) state ppid pgrp ...", where comm may contain spaces and
// parentheses.
func parseStat(stat string) (state string, pgrp int, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 3 {
		return "", 0, false
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return "", 0, false
	}
	return f[0], pgrp, true
}
