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
// This is the one description of how a backend talks to the harness (one
// program in harness_files.py, harness.py and harness_session.py); the
// code that speaks it is HarnessArgs and NewInvocation (harness.go) on the
// way in, and ReadEnvelope, SplitFiles, ParseEnvelope, Finalize and
// AddFiles (envelope.go, files_wire.go, finalize.go) on the way out.
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
// Stdin. Two header lines, the files block, then the code (UTF-8) to
// end of file:
//
//	AIRLOCK-HARNESS/2 <nonce> <envelope_fd> <max_repr> <max_out_bytes> <max_out_count> <files_len>\n
//	<workdir>\0<sys_path entry>\0...\n
//	<files block of files_len bytes><code>
//
// The nonce is 128 bits from crypto/rand, in hex, fresh for every call
// (Invocation.Nonce); it appears nowhere but on stdin. envelope_fd is the
// descriptor, as the interpreter sees it, that the backend reads the
// envelope from (3 or more; the harness makes it non-inheritable so that
// subprocesses of the code do not get it). max_repr caps the result's
// repr, the error message and the traceback, each, in UTF-8 bytes. The
// workdir is put first on sys.path, the other entries last (the
// interpreter runs without the site module). max_out_bytes and
// max_out_count are the call's FileLimits, and the files block its files
// (see Files). The harness then points stdin at /dev/null, so input() in
// the code sees end of file.
//
// Envelope. After the code has run, and atexit handlers and streams are
// flushed, the harness writes the files frame (see Files) and one
// envelope frame on envelope_fd and exits with the code's exit status
// (os._exit):
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
// # Session mode
//
// A session's interpreter serves many calls in one persistent __main__
// (globals, imports and the working directory's files persist). The Go
// side is SessionHarnessArgs, NewSessionCall and SessionCall.Send
// (session_protocol.go, session_send_unix.go), SessionEnvelope and
// Finalize with ProcessExit.Running (session_envelope.go,
// finalize_session.go). Start:
//
//	python3 -I -S -u -B -c <harness> session <control> <workdir> [sys_path...]
//
// control is where calls come from, an AF_UNIX stream socket: "fd:N", an
// inherited connected socket (the local backend), on which the harness
// writes ReadyByte once it waits for its first call and then takes one
// call after another until the backend closes it (the interpreter then
// exits 0); or "listen:PATH", a socket the harness listens on at PATH
// (it appears, by rename, only once it accepts), serving one call per
// connection, one connection at a time, from a client the backend starts
// per call (Modal); a connection that breaks the protocol is closed and
// the next one served. Stdin, stdout and stderr point at /dev/null
// between calls.
//
// A call is one message: a header line, the files block, then the code
// (UTF-8):
//
//	AIRLOCK-SESSION/2 <nonce> <max_repr> <code_len> <files_len> <max_out_bytes> <max_out_count>\n
//	<files block of files_len bytes><code of code_len bytes>
//
// sent with SCM_RIGHTS on its first byte carrying exactly three
// descriptors: the call's stdout, stderr and envelope channel. nonce and
// max_repr are as in a fresh run; code_len is at most
// MaxSessionCodeBytes, files_len at most MaxInFilesBytes. The harness
// flushes, dup2()s the first two onto 1 and 2, writes the files, runs the
// code like a fresh run does (REPL semantics), flushes, points 1 and 2
// back at /dev/null, writes the files frame and one envelope frame on the
// third and closes it. The frame is a fresh run's with one more JSON field,
// "call": the interpreter's count of calls, from 1, which the backend must
// find equal to its own (a server that attaches to a running session
// learns it there). A SystemExit ends the call (its status is reported as
// in a fresh run), not the interpreter.
//
// Interrupts. SIGINT to the interpreter raises KeyboardInterrupt in the
// code, and only there (the harness ignores it in its own steps): the
// call is then reported like any exception, and the interpreter lives on.
// A backend sends it at a call's timeout or cancellation and gives the
// interpreter a grace (DefaultSessionInterruptGrace) to report; past it,
// it kills the sandbox. os._exit, a crash or a kill end the interpreter:
// the session is over. At SIGXCPU (the CPU limit the backend moves before
// each call) the harness exits with SessionCPULimitExit.
//
// Output without end of file. Processes the code left running may hold a
// call's stdout, stderr and envelope channel open after the call, so a
// backend cannot wait for their end of file: once the frame carrying the
// call's nonce has arrived, everything the interpreter wrote during the
// call is already in the pipes, and the backend takes exactly what they
// hold, without blocking, and closes its ends (later writes meet EPIPE).
// An envelope channel that reaches end of file without the frame means
// the interpreter is going (or the code closed the channel): the backend
// then waits for the interpreter's end, or the timeout.
//
// # Files
//
// In. The files block carries Request.Files, each as
//
//	<path_len> <data_len>\n<path><data>
//
// The harness writes them under the working directory (the one the
// process started in, held open by a descriptor, whatever the code does
// with its own), before the code runs, as the code's user: each directory
// on the way created (0755) and opened with O_NOFOLLOW relative to the
// last, the file opened O_NOFOLLOW|O_NONBLOCK and checked to be a regular
// file, so no symbolic link or FIFO the code left in a session redirects
// or blocks a write. It refuses a path that is absolute or holds "..", "."
// or an empty part (the Go side refused them already: CheckInPath). A file
// it cannot write ends the call before the code runs: status error, an
// error of type "FileError" naming the file and why.
//
// Out. With max_out_count above 0 (a zero FileLimits returns nothing),
// after the code the harness saves, as PNG, every matplotlib figure still
// open when pyplot was imported ("figure-<n>.png", by number; then it
// closes them, as a notebook does, so a figure comes back once), and a PIL
// image that is the final expression ("result.png"; its repr stays the
// result); before the code it sets MPLBACKEND=Agg and MPLCONFIGDIR to a
// directory under $TMPDIR (or /tmp), so plt.show() draws nothing and
// returns. After the atexit handlers it walks <workdir>/out (OutDir) in
// path order, descending into directories (at most 32 levels, 4096 entries
// in all) through descriptors, never following a link (lstat, O_NOFOLLOW),
// opening files O_NONBLOCK (a FIFO lists as not a regular file, and
// cannot hang it). In a session /work persists and out/ is not emptied:
// a file stays there, and comes back with every call, until the code
// removes it. Figures first, then the files: each comes back with its
// content while at most max_out_count have and their content stays within
// max_out_bytes; beyond, up to MaxOmittedListed more are listed without
// content, with a reason word ("count", "bytes"; "type" for what is not a
// regular file, "name" for a name that is not UTF-8, "unreadable"), and
// the rest are not listed. They come back in one frame, written just
// before the envelope on the envelope channel:
//
//	AIRLOCK-FILES/1 <nonce> <len>\n<payload of len bytes>\n
//
// whose payload is one entry after another:
//
//	<file|figure> <reason or -> <size> <data_len> <path_len>\n<path><data>
//
// A backend keeps MaxChannelBytes of the channel (or, on Modal, routes
// both frames out of stderr), takes the frame off with SplitFiles and
// parses it with AddFiles, which checks every bound again and every size
// against the content (the sandbox's claims count for nothing) and
// refuses the whole frame, saying so in the result, when one fails.
//
// Descriptors. Besides stdio, envelope_fd and a descriptor of its
// working directory (close-on-exec), the harness uses none. A
// backend wires them as its platform allows: the local backend passes a
// pipe as envelope_fd, and its init helper gets descriptors of its own,
// named in its configuration (package local/sandboxinit/initconfig); the
// Modal backend, whose exec has only stdio, makes envelope_fd a duplicate
// of stderr and tells the frame carrying the nonce from the code's stderr.
package sandbox
