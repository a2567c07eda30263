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
// this package imports: any binary that links this package can serve as the
// helper, as sandboxinit's init function takes over the process when it is
// started under the helper's name, before main runs.
package local
