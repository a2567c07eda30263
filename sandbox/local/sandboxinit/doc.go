// Package sandboxinit is the local backend's init helper: the server starts
// its own binary (/proc/self/exe) under the name initconfig.Arg0 inside new
// namespaces, and this package's init function takes the process over
// before main runs. It sets the sandbox up step by step, each step its own
// function with its own error reported on the setup status pipe, and
// finally replaces itself with the Python interpreter running the harness.
//
// A binary that builds sandboxes links it with a blank import in its main
// package, as runc's binary does with its nsenter package:
//
//	import _ "github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit"
//
// Package local does not import it, only the contract (package initconfig)
// and the seccomp filter's counts (package syscallfilter), so that no
// process is taken over by surprise; in a binary without the import, the
// local backend refuses to start and says so.
//
// It is a package of its own, with few dependencies, for speed: Go
// initializes the packages a binary links in dependency order, and the
// helper's init runs only once everything this package imports is
// initialized. Kept apart from the server's packages (JSON Schema
// compilation, policy, logging, HTTP), the helper takes over about 2 ms
// after exec instead of about 13 ms, on every sandbox built.
//
// Package initconfig holds the contract between the server and the helper:
// the configuration, the descriptors it names, and the paths inside the
// sandbox. Package syscallfilter holds the seccomp filter.
package sandboxinit
