package sandbox

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The Go side of the harness's session mode (see "Session mode" in the
// package documentation): the interpreter's arguments and the message of
// one call. Sending it with its descriptors is SessionCall.Send (unix);
// reading its envelope, SessionEnvelope; judging the outcome, Finalize with
// ProcessExit.Running.

// DefaultSessionInterruptGrace is how long a session's interpreter has,
// after the interrupt sent at a call's timeout or cancellation, to regain
// control and report before its sandbox is killed.
const DefaultSessionInterruptGrace = 2 * time.Second

// SessionCPULimitExit is the exit status of a session interpreter that
// reached its CPU time limit: the harness ends it, 128 + SIGXCPU, as the
// signal would end a process that is not pid 1 of its sandbox.
const SessionCPULimitExit = 128 + int(sigXCPU)

// MaxSessionCodeBytes is the most code one session call may carry; the
// harness refuses a longer message.
const MaxSessionCodeBytes = 64 << 20

// sessionMagic starts each call's header line.
const sessionMagic = "AIRLOCK-SESSION/2"

// ControlFD names an inherited, connected AF_UNIX stream socket, descriptor
// fd in the interpreter, as a session's control channel: every call comes
// on it, one after the other.
func ControlFD(fd int) string { return "fd:" + strconv.Itoa(fd) }

// ControlListen names a path inside the sandbox where the harness listens
// for its calls, one connection each, from a client the backend starts per
// call.
func ControlListen(path string) string { return "listen:" + path }

// SessionOptions configure a session harness: where its calls come from
// and the interpreter's sys.path.
type SessionOptions struct {
	// Control is ControlFD(n) or ControlListen(path).
	Control string
	// SysPath and Workdir are as in HarnessOptions.
	SysPath []string
	Workdir string
}

// SessionHarnessArgs returns the interpreter arguments that run the harness
// in session mode (the argv after the interpreter path, as HarnessArgs).
func SessionHarnessArgs(opts SessionOptions) ([]string, error) {
	return sessionArgs(harnessSource, opts)
}

// PrecompiledSessionHarnessArgs is SessionHarnessArgs for an interpreter
// that compiled the harness ahead (see PrecompiledHarnessArgs).
func PrecompiledSessionHarnessArgs(code []byte, opts SessionOptions) ([]string, error) {
	return sessionArgs(precompiledLoader(code), opts)
}

func sessionArgs(program string, opts SessionOptions) ([]string, error) {
	kind, where, _ := strings.Cut(opts.Control, ":")
	switch {
	case kind == "fd":
		if fd, err := strconv.Atoi(where); err != nil || fd < 3 || strconv.Itoa(fd) != where {
			return nil, fmt.Errorf("sandbox: control %q: want fd:N with N at least 3", opts.Control)
		}
	case kind == "listen" && strings.HasPrefix(where, "/"):
	default:
		return nil, fmt.Errorf("sandbox: control %q: want fd:N or listen:/absolute/path", opts.Control)
	}
	args := append(interpreterArgs(program, 0), "session", opts.Control, opts.Workdir)
	args = append(args, opts.SysPath...)
	for _, a := range args[len(args)-len(opts.SysPath)-3:] {
		if !utf8.ValidString(a) || strings.ContainsRune(a, 0) {
			return nil, fmt.Errorf("sandbox: session argument %q is not valid UTF-8 without NUL bytes", a)
		}
	}
	return args, nil
}

// SessionCall is the message of one call to a session harness: a header
// line, the files block and the code. Its descriptors travel with it
// (Send).
type SessionCall struct {
	// Nonce is the secret this call's envelope must carry; it appears
	// nowhere but in Message.
	Nonce string
	// Message is the header line, "AIRLOCK-SESSION/2 <nonce> <max_repr>
	// <code_len> <files_len> <max_out_bytes> <max_out_count>\n", followed
	// by the files block and the code.
	Message []byte
	// FileLimits are the bounds the harness was given (see AddFiles).
	FileLimits FileLimits
}

// NewSessionCall prepares the message that runs code in a session under a
// fresh nonce, after writing files under the session's working directory;
// maxRepr is as HarnessOptions.MaxReprBytes, fl bounds what comes back.
// It fails when code is not valid UTF-8 or too long, a file's path is
// invalid, or maxRepr is out of range.
func NewSessionCall(code string, maxRepr int, files []InFile, fl FileLimits) (*SessionCall, error) {
	if !utf8.ValidString(code) {
		return nil, errors.New("sandbox: code is not valid UTF-8")
	}
	if len(code) > MaxSessionCodeBytes {
		return nil, fmt.Errorf("sandbox: %d bytes of code exceed the %d a session call carries", len(code), MaxSessionCodeBytes)
	}
	maxRepr, err := checkMaxRepr(maxRepr)
	if err != nil {
		return nil, err
	}
	if err := checkFileLimits(fl); err != nil {
		return nil, err
	}
	block, err := encodeInFiles(files)
	if err != nil {
		return nil, err
	}
	nonce, err := newNonce()
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("%s %s %d %d %d %d %d\n", sessionMagic, nonce, maxRepr, len(code), len(block), fl.MaxOutBytes, fl.MaxOutCount)
	msg := make([]byte, 0, len(header)+len(block)+len(code))
	msg = append(append(append(msg, header...), block...), code...)
	return &SessionCall{Nonce: nonce, Message: msg, FileLimits: fl}, nil
}
