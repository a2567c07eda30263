//go:build !linux

package modaltest

// LiveProcesses counts the processes still alive in the process groups of
// every exec the server started. It needs /proc, so outside Linux it
// always reports 0.
func (s *Server) LiveProcesses() int { return 0 }

// liveInGroups needs /proc, so outside Linux it always reports 0.
func liveInGroups([]int) int { return 0 }
