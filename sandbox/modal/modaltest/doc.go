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
// Every request is recorded, so tests can assert what went on the wire, and
// faults and latency can be injected at any time.
//
// Typical use:
//
//	srv, err := modaltest.Start(modaltest.Options{})
//	if err != nil { t.Fatal(err) }
//	t.Cleanup(srv.Close)
//	srv.SetEnv(t) // MODAL_SERVER_URL, MODAL_TOKEN_ID, ... via t.Setenv
//	mc, err := modal.NewClientWithOptions(nil)
//
// The package is Linux-oriented: process groups and signals need a Unix, and
// LiveProcesses reads /proc.
package modaltest
