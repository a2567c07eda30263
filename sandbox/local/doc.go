// Package local is the embedded default sandbox backend: each execution runs
// in a fresh Linux sandbox built from namespaces (user when not root, pid,
// mount, network, IPC, UTS), a read-only filesystem view holding only what
// the interpreter needs, a private size-limited scratch space, a scrubbed
// environment and rlimits.
//
// The sandbox is set up by a re-exec'd init helper: the server starts its own
// binary (/proc/self/exe) under the name "airlock-sandbox-init" inside the new
// namespaces; the helper sets the sandbox up step by step, each step its own
// function with its own error, and finally replaces itself with the Python
// interpreter running the harness. The helper is package sandboxinit, which
// takes the process over from its init function, before main runs. This
// package does not import it, only the contract between the two (package
// initconfig): a binary that builds sandboxes links the helper with a blank
// import in its main package, and New refuses, saying so, in a binary that
// does not.
//
// The files follow a sandbox's life: backend_linux.go (the backend, New,
// Execute, Close), layout_linux.go (the filesystem view every sandbox
// shares), spawn_linux.go (building one: the helper's configuration and
// process), pipes_linux.go (the descriptors between server and helper),
// proc_linux.go (a started sandbox: setup, watchers, kill), run_linux.go
// (one call in it: code in, timeout, exit status, result out) and
// warm_linux.go (sandboxes built ahead of calls).
package local
