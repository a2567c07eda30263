// Package modal is the Modal sandbox backend: each execution runs in a fresh
// Modal sandbox (a gVisor container in Modal's cloud), created from one
// image with the policy's resources, lifetime and network access, through
// the official Modal Go SDK (github.com/modal-labs/modal-client/go, pinned).
// It is the only package of airlock-mcp that imports the SDK.
//
// It runs the same harness as every backend, with the same envelope: the
// code goes in on stdin (the SDK caps argv at 64 KiB), and since a Modal exec
// has only stdin, stdout and stderr, the harness's envelope descriptor is a
// duplicate of stderr. The backend splits the stderr stream as it arrives:
// the frame carrying the call's nonce goes to the envelope, everything else
// to the capped stderr buffer, so no amount of output can hide or truncate
// the envelope, and the code cannot forge one without the nonce.
// sandbox.Finalize then composes the Result, as on the local backend.
//
// The harness's output is read to its end, within the call's timeout, so
// a slow stream never costs the result; a stream lost on the way is said
// to be lost. The call also watches the sandbox on Modal's control plane,
// so a sandbox that dies under the code ends the call at once.
//
// Every sandbox is terminated on every path (success, failed or missing
// envelope, timeout, SDK error, cancelled call, Close) with a fresh
// context: cancelling a context does not stop a Modal process. The answer
// does not wait for it: terminations run in the background, with retries,
// and Sandboxes counts a sandbox until Modal confirms it is gone; Close
// waits for them, for a bounded time. Modal's own lifetime limit is the
// backstop should this server die.
//
// Sessions (sandbox.SessionBackend; pysession.go) are sandboxes that
// outlive their calls, and their server: the harness, in session mode, is
// the sandbox's own command, listening on a socket inside it; each call is
// an exec of the session client (sandbox.SessionClientArgs), whose streams
// carry the call's output and envelope as a fresh call's do. A session's
// sandbox is tagged with its owner and name, so a restarted server or a
// replica finds it again, and Modal ends it after the policy's idle time
// or lifetime whatever happens to the servers. Close does not end
// sessions; their owner does.
//
// Files (package sandbox, "Files") travel the same way: a call's files go
// in with its code on stdin, and the files frame comes back ahead of the
// envelope, split out of stderr with it; the working directory is /tmp
// (it exists in every image), so out/ is /tmp/out. Figures need
// matplotlib (and PIL for images) in the image: the default image,
// python:3.12-slim, has neither, so an operator who wants plots on Modal
// names an image that has them (one built FROM python:3.12-slim with `pip
// install matplotlib`, say); the prelude puts the image's site-packages on
// sys.path. Operator mounts (Options.Mounts) are uploaded into each
// sandbox by an exec right after it is created, before any code runs.
//
// The backend is never chosen automatically. Credentials come from the
// standard Modal places (MODAL_TOKEN_ID and MODAL_TOKEN_SECRET, or a profile
// in ~/.modal.toml or the file MODAL_CONFIG_PATH names); they are never
// logged and never reach a sandbox. Failures (missing credentials, rejected
// credentials, image build, quota, sandbox creation) are errors whose text
// says what happened and what the operator can do.
package modal
