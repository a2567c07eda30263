package sandbox

import (
	_ "embed" // for the client's source
	"strconv"
	"time"
)

// The session client (session_client.py) carries one call to a session
// harness that listens on a socket inside its sandbox (ControlListen), for
// a backend whose only way into a running sandbox is to start a process
// there (Modal's exec). The backend starts it once per call:
//
//	python3 -I -S -B -c <client> <socket path>
//
// and writes the call's SessionCall.Message on its stdin. The client sends
// the message to the harness with its own stdout and stderr attached
// (stdout, stderr, and stderr again as the envelope channel), so the
// call's output and its envelope frame come out of the client's streams,
// as a fresh Modal call's do: the backend splits the frame carrying the
// call's nonce out of stderr. The backend keeps the client's stdin open
// while the call runs: closing it asks for an interrupt, which the client
// delivers to the harness as SIGINT (KeyboardInterrupt in the code). The
// client exits once the harness has closed the call's connection, with
// one of the SessionClient* statuses; processes the code left running may
// hold the streams open after that.

//go:embed session_client.py
var sessionClientSource string

// Exit statuses of the session client.
const (
	// SessionClientServed: the harness took the call and closed its
	// connection, and still listens: the interpreter lives on.
	SessionClientServed = 0
	// SessionClientUnreachable: nothing listens on the socket: the
	// session's interpreter was gone before the call, which did not run.
	SessionClientUnreachable = 3
	// SessionClientEnded: the call's connection ended and nothing listens
	// any more: the interpreter ended during the call.
	SessionClientEnded = 4
	// SessionClientNoCPULimit: the client could not set the call's CPU
	// time limit on the harness; the call did not run.
	SessionClientNoCPULimit = 5
)

// SessionClientReadyArgs returns the arguments of a client that carries
// no call: it waits until the harness listening at socket accepts calls
// (an interpreter starting up), then exits with SessionClientServed, or
// with SessionClientUnreachable if it does not within two minutes.
func SessionClientReadyArgs(socket string) []string {
	return append(SessionClientArgs(socket), "ready")
}

// SessionClientCallArgs returns the arguments of a client that carries
// one call whose CPU time is limited to cpu (rounded up to whole seconds):
// before sending the call it sets the harness's soft RLIMIT_CPU to the CPU
// time the harness has used so far plus cpu, so the limit is per call.
func SessionClientCallArgs(socket string, cpu time.Duration) []string {
	return append(SessionClientArgs(socket), "cpu="+strconv.FormatInt(int64((cpu+time.Second-1)/time.Second), 10))
}

// SessionClientArgs returns the interpreter arguments (after the
// interpreter path) that run the session client for the harness listening
// at socket, an absolute path inside the sandbox.
func SessionClientArgs(socket string) []string {
	return []string{"-I", "-S", "-B", "-c", sessionClientSource, socket}
}
