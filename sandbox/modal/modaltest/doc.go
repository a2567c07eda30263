// Package modaltest is a test double of Modal's control plane: a real gRPC
// server on 127.0.0.1 that the unmodified Modal Go SDK
// (github.com/modal-labs/modal-client/go v0.11.1) talks to through
// MODAL_SERVER_URL.
//
// It serves the two gRPC services the SDK uses for the sandbox flow: the
// control plane (modal.client.ModalClient: auth, apps, images, sandbox
// create/wait/terminate/list) and the per-sandbox task command router
// (modal.task_command_router.TaskCommandRouter: exec, stdin, stdout/stderr,
// exit status). Both are served by one plaintext listener; SandboxCreateV2
// hands the SDK a router URL of the form https://127.0.0.1:PORT, which the SDK
// dials without TLS because the control plane is on 127.0.0.1.
//
// Exec runs for real, on this machine: each exec is a child process in its own
// process group, with a minimal environment (never this process's), a working
// directory inside a fresh temporary directory per sandbox, and python3/python
// mapped to a configured interpreter. It is a test double, not an isolation
// boundary: the code runs with the test's own privileges.
//
// A sandbox's own command (SandboxCreateParams.Command) starts with it, in
// its working directory, and the sandbox finishes when the command exits,
// with its exit code (128+N for a signal). Its idle timeout ends it that
// long after its last exec ended (the command's own work is not
// activity). Every process of a sandbox runs on this machine, so paths
// outside the working directory are this machine's.
//
// Every request is recorded, so tests can assert what went on the wire, and
// faults and latency can be injected at any time; Hold keeps calls in
// flight until the test releases them. Besides failing or delaying any
// method, the faults of a misbehaving cloud: ThrottleOutput (output that
// arrives slowly), DropOutput (a stream that fails after N bytes),
// TerminateSandbox (Modal ending a sandbox) and DropRouter (a sandbox whose
// machine vanishes: its router stops answering). OpenConnections counts
// the clients' open connections, so a test sees a client leak. Tests wait
// for the server to reach a state with Await, which re-checks a condition
// at each change the server sees, rather than sleeping or polling.
//
// Typical use:
//
//	srv, err := modaltest.Start(modaltest.Options{})
//	if err != nil { t.Fatal(err) }
//	t.Cleanup(srv.Close)
//	srv.SetEnv(t) // MODAL_SERVER_URL, MODAL_TOKEN_ID, ... via t.Setenv
//	mc, err := modal.NewClientWithOptions(nil)
//
// # What the SDK sees
//
// The SDK (v0.11.1, default V2 sandboxes) makes these calls for the backend
// flow: AuthTokenGet, AppGetOrCreate, ImageGetOrCreate (EnvironmentGetOrCreate
// too if MODAL_IMAGE_BUILDER_VERSION is unset), SandboxCreateV2, then on the
// router TaskExecStart, TaskExecStdinWrite (data, then eof), TaskExecStdioRead
// (stdout and stderr), TaskExecWait, and back on the control plane
// SandboxTerminateV2 and SandboxWaitV2 (Terminate with Wait: true). A handle
// from Sandboxes.FromID adds SandboxGetTaskIdV2 and
// SandboxGetCommandRouterAccess before its first exec; Sandboxes.List uses
// SandboxListV2.
//
//   - Wrong credentials: AuthTokenGet answers Unauthenticated ("Token ID is
//     malformed" for an id without the ak- prefix, as real Modal does) and the
//     SDK's first call fails with "failed to get auth token: rpc error: code =
//     Unauthenticated ...".
//   - Exec timeout: the server SIGKILLs the exec's process group. Reads return
//     the output so far then modal.ExecTimeoutError (the router ends the stream
//     with DeadlineExceeded); a Wait issued after the deadline returns
//     modal.ExecTimeoutError, a Wait already in flight returns 137.
//   - Terminated sandbox (Terminate, lifetime timeout, TerminateSandbox): its
//     processes are killed; router calls for it answer NotFound, which the SDK
//     returns as a raw gRPC status error; Sandbox.Wait returns 137, or 124
//     after a lifetime timeout.
//   - Injected create failures come back as raw gRPC status errors (only
//     AlreadyExists is mapped, to modal.AlreadyExistsError); the SDK retries
//     Unavailable, Internal, Unknown, DeadlineExceeded and Canceled.
//
// Ids: apps "ap-", images "im-", tasks "ta-" followed by 22 base62
// characters; sandboxes "sb2-" + 22, deliberately not the V1 shape
// ("sb-" + 22), which the SDK would route to the V1 API.
//
// The package is Linux-oriented: process groups and signals need a Unix, and
// LiveProcesses reads /proc.
package modaltest
