// Package sandboxinit is the local backend's init helper: the server starts
// its own binary (/proc/self/exe) under the name Arg0 inside new namespaces,
// and this package's init function takes the process over before main runs.
// It sets the sandbox up step by step, each step its own function with its
// own error reported on the setup status pipe, and finally replaces itself
// with the Python interpreter running the harness.
//
// It is a package of its own, with few dependencies, for speed: Go
// initializes the packages a binary links in dependency order, and the
// helper's init runs only once everything this package imports is
// initialized. Kept apart from the server's packages (JSON Schema
// compilation, policy, logging, HTTP), the helper takes over about 2 ms
// after exec instead of about 13 ms, on every sandbox built.
//
// Config, the file descriptors and the paths here are the contract between
// the server (package local) and the helper.
package sandboxinit
