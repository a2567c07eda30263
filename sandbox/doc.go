// Package sandbox defines what every sandbox backend provides: the Backend
// interface, the limits a backend enforces for one execution, and the typed
// Result that the execute_python tool returns as structured content.
//
// The Python harness that runs user code inside a sandbox, and the envelope it
// reports through, live here too, so that every backend runs the same harness
// and parses the same envelope into the same Result.
//
// # Harness protocol
//
// This is the one description of how a backend talks to the harness
// (harness.py); the code that speaks it is HarnessArgs and NewInvocation
// (harness.go) on the way in, and ReadEnvelope, ParseEnvelope and Finalize
// (envelope.go, finalize.go) on the way out.
//
// Start. The backend runs the interpreter with HarnessArgs(readyFD) (or
// PrecompiledHarnessArgs, the same harness compiled ahead):
//
//	python3 -I -S -u -B -c <harness> [ready_fd]
//
// The code never appears in argv. With ready_fd (above 2), the harness
// writes one byte, ReadyByte ("\n"), there once it is up and waiting for
// its code: a backend that starts sandboxes ahead of calls reads it to know
// one is warm. ready_fd may be the envelope fd; the byte then precedes the
// envelope, and the backend reads it off first.
//
// Stdin. Two header lines, then the code (UTF-8) to end of file:
//
//	AIRLOCK-HARNESS/1 <nonce> <envelope_fd> <max_repr>\n
//	<workdir>\0<sys_path entry>\0...\n
//	<code>
//
// The nonce is 128 bits from crypto/rand, in hex, fresh for every call
// (Invocation.Nonce); it appears nowhere but on stdin. envelope_fd is the
// descriptor, as the interpreter sees it, that the backend reads the
// envelope from (3 or more; the harness makes it non-inheritable so that
// subprocesses of the code do not get it). max_repr caps the result's
// repr, the error message and the traceback, each, in UTF-8 bytes. The
// workdir is put first on sys.path, the other entries last (the
// interpreter runs without the site module). The harness then points
// stdin at /dev/null, so input() in the code sees end of file.
//
// Envelope. After the code has run, and atexit handlers and streams are
// flushed, the harness writes one frame on envelope_fd and exits with the
// code's exit status (os._exit):
//
//	AIRLOCK-ENVELOPE/1 <nonce> <len>\n<json of len bytes>\n
//
// The JSON is {"status", "exit_code", "result", "error": null or {"type",
// "message", "traceback"}}. The backend reads the channel to end of file,
// keeping at most MaxEnvelopeBytes (ReadEnvelope), so a flood cannot block
// the writer or exhaust the server.
//
// Trust. The code shares the harness's process: it can write on
// envelope_fd and, with effort, read the nonce, so the envelope is only as
// trustworthy as the code's own account of itself. ParseEnvelope accepts
// exactly one well-formed frame carrying the call's nonce, of the declared
// length, whose JSON decodes strictly to a consistent envelope; anything
// else is no envelope, a forged one or a malformed one. Finalize then lets
// what the backend observed of the process (timeout, signal, exit code)
// outrank it.
//
// Descriptors. Besides stdio and envelope_fd, the harness uses none. A
// backend wires them as its platform allows: the local backend passes a
// pipe as envelope_fd, and its init helper gets descriptors of its own,
// named in its configuration (package local/sandboxinit/initconfig); the
// Modal backend, whose exec has only stdio, makes envelope_fd a duplicate
// of stderr and tells the frame carrying the nonce from the code's stderr.
package sandbox
