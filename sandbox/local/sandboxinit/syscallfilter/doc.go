// Package syscallfilter is the sandbox's seccomp filter: the system calls
// sandboxed Python may not make, assembled into a program the init helper
// (package sandboxinit) loads just before it execs the interpreter. The
// local backend's doctor reads its counts from here, without linking the
// helper.
package syscallfilter
