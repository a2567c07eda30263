package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	_ "embed" // for the harness source
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Python harness every backend runs is one program in three files,
// in this order: harness_files.py (files in and out, figures), harness.py
// (the run, fresh mode) and harness_session.py (session mode, and the
// dispatch between the modes).
var (
	//go:embed harness_files.py
	harnessFilesSource string
	//go:embed harness.py
	harnessMainSource string
	//go:embed harness_session.py
	harnessSessionSource string
	harnessSource        = harnessFilesSource + "\n" + harnessMainSource + "\n" + harnessSessionSource
)

// Bounds on HarnessOptions.MaxReprBytes.
const (
	// DefaultMaxReprBytes caps the result repr, the error message and the
	// traceback (each) when HarnessOptions.MaxReprBytes is 0.
	DefaultMaxReprBytes = 64 << 10
	// MinReprBytes is the smallest cap NewInvocation accepts: the harness
	// needs room for a head, a tail and the cut marker.
	MinReprBytes = 256
)

// HarnessID identifies the harness's source (a digest): a backend whose
// sandboxes outlive the server (Modal's sessions) finds again only those
// running the harness it speaks to.
func HarnessID() string {
	sum := sha256.Sum256([]byte(harnessSource))
	return hex.EncodeToString(sum[:8])
}

// HarnessArgs returns the interpreter arguments that run the harness: the
// full argv after the interpreter path (see "Harness protocol" in the
// package documentation). The code itself never appears in argv; it goes on
// stdin (see Invocation). The flags isolate the interpreter from the
// environment (-I), skip the site module (-S; site-packages come in through
// HarnessOptions.SysPath instead), unbuffer stdout and stderr (-u) and write
// no bytecode (-B).
//
// readyFD, when above 2, is the descriptor on which the harness writes
// ReadyByte once it waits for its code; 0 sends no signal.
func HarnessArgs(readyFD int) []string { return interpreterArgs(harnessSource, readyFD) }

// interpreterArgs runs program with the harness's flags and ready fd.
func interpreterArgs(program string, readyFD int) []string {
	args := []string{"-I", "-S", "-u", "-B", "-c", program}
	if readyFD > 2 {
		args = append(args, strconv.Itoa(readyFD))
	}
	return args
}

// HarnessCompiler returns the arguments (after the interpreter path) and the
// standard input of a run that compiles the harness and writes its code
// object, in the marshal format of that interpreter, on stdout: the code
// argument of PrecompiledHarnessArgs.
func HarnessCompiler() (args []string, stdin []byte) {
	const compile = `import marshal, sys
source = sys.stdin.buffer.read().decode("utf-8")
sys.stdout.buffer.write(marshal.dumps(compile(source, "<string>", "exec", dont_inherit=True)))`
	return []string{"-I", "-S", "-B", "-c", compile}, []byte(harnessSource)
}

// PrecompiledHarnessArgs is HarnessArgs for an interpreter that compiled the
// harness ahead (see HarnessCompiler): it loads the code object instead of
// compiling the harness's source at every start, which costs about 2 ms.
// code must come from the very interpreter binary that will run it (the
// marshal format is private to a Python version); the harness runs exactly
// as with HarnessArgs, under the same file name.
func PrecompiledHarnessArgs(code []byte, readyFD int) []string {
	return interpreterArgs(precompiledLoader(code), readyFD)
}

// precompiledLoader is the program that runs the harness's compiled code.
// marshal is built into every interpreter and bytes.fromhex needs no
// import: loading the harness opens no file.
func precompiledLoader(code []byte) string {
	return "import marshal\nexec(marshal.loads(bytes.fromhex(\"" + hex.EncodeToString(code) + "\")))"
}

// ReadyByte is what the harness writes on its ready fd (see HarnessArgs),
// and, in session mode, on an inherited control socket once it waits for
// its first call.
const ReadyByte = '\n'

// HarnessOptions configure one run of the harness.
type HarnessOptions struct {
	// EnvelopeFD is the file descriptor, as the Python process sees it, on
	// which the harness writes its envelope (3 for the first of
	// exec.Cmd.ExtraFiles). It must be 3 or more.
	EnvelopeFD int
	// SysPath entries are appended to sys.path (the interpreter runs without
	// the site module, so site-packages directories must be listed here).
	SysPath []string
	// MaxReprBytes caps the result repr, the error message and the traceback,
	// each, in UTF-8 bytes; 0 means DefaultMaxReprBytes. Backends pass
	// ReprLimit(limits) so that MaxEnvelopeBytes(limits) bounds the envelope.
	MaxReprBytes int
	// Workdir, when not empty, is prepended to sys.path, as the script's
	// directory would be. The harness does not chdir: the backend starts the
	// process in the working directory. Files are written, and out/ read,
	// under it ("." when empty).
	Workdir string
	// Files are written under Workdir before the code runs.
	Files []InFile
	// FileLimits bound the files and figures returned in the files frame.
	FileLimits FileLimits
}

// Invocation is one prepared run: the stdin to send and the nonce to expect.
type Invocation struct {
	// Nonce is the secret the envelope must carry; pass it to ParseEnvelope
	// or Finalize. It appears nowhere but in Stdin.
	Nonce string
	// Stdin is the whole of the harness's standard input: two header lines
	// (see NewInvocation), the files block, then the code.
	Stdin []byte
	// FileLimits are the bounds the harness was given, to check its files
	// frame against (AddFiles).
	FileLimits FileLimits
}

// harnessMagic starts the harness's stdin and names its format.
const harnessMagic = "AIRLOCK-HARNESS/2"

// NewInvocation prepares the harness's stdin for running code with opts,
// under a fresh 128-bit nonce from crypto/rand. It fails when code is not
// valid UTF-8 (JSON-decoded tool arguments always are) or opts are invalid.
func NewInvocation(code string, opts HarnessOptions) (*Invocation, error) {
	if !utf8.ValidString(code) {
		return nil, errors.New("sandbox: code is not valid UTF-8")
	}
	if opts.EnvelopeFD < 3 {
		return nil, fmt.Errorf("sandbox: envelope fd %d collides with the standard streams; want 3 or more", opts.EnvelopeFD)
	}
	maxRepr, err := checkMaxRepr(opts.MaxReprBytes)
	if err != nil {
		return nil, err
	}
	paths := append([]string{opts.Workdir}, opts.SysPath...)
	for _, p := range paths {
		if !utf8.ValidString(p) || strings.ContainsAny(p, "\x00\n") {
			return nil, fmt.Errorf("sandbox: path %q is not valid UTF-8 without NUL bytes or newlines", p)
		}
	}
	if err := checkFileLimits(opts.FileLimits); err != nil {
		return nil, err
	}
	files, err := encodeInFiles(opts.Files)
	if err != nil {
		return nil, err
	}
	nonce, err := newNonce()
	if err != nil {
		return nil, err
	}
	// The two header lines of the protocol, which the harness splits
	// without importing json.
	header := fmt.Sprintf("%s %s %d %d %d %d %d\n%s", harnessMagic, nonce, opts.EnvelopeFD, maxRepr,
		opts.FileLimits.MaxOutBytes, opts.FileLimits.MaxOutCount, len(files), strings.Join(paths, "\x00"))
	stdin := make([]byte, 0, len(header)+1+len(files)+len(code))
	stdin = append(stdin, header...)
	stdin = append(stdin, '\n')
	stdin = append(stdin, files...)
	stdin = append(stdin, code...)
	return &Invocation{Nonce: nonce, Stdin: stdin, FileLimits: opts.FileLimits}, nil
}

// checkMaxRepr returns the repr cap to send for n (0: the default), or why
// n is out of range.
func checkMaxRepr(n int) (int, error) {
	if n == 0 {
		return DefaultMaxReprBytes, nil
	}
	if n < MinReprBytes || n > DefaultMaxReprBytes {
		return 0, fmt.Errorf("sandbox: MaxReprBytes %d out of range [%d, %d]", n, MinReprBytes, DefaultMaxReprBytes)
	}
	return n, nil
}

// newNonce returns 128 bits from crypto/rand, in hex: a fresh nonce for
// one call.
func newNonce() (string, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("sandbox: generate nonce: %w", err)
	}
	return hex.EncodeToString(raw[:]), nil
}

// ReprLimit is the MaxReprBytes a backend passes for limits: the default,
// lowered to the per-stream output cap when that is smaller (a result is
// output too), but never below 1 KiB so a traceback stays readable.
func ReprLimit(limits Limits) int {
	n := DefaultMaxReprBytes
	if limits.MaxOutputBytes > 0 && limits.MaxOutputBytes < n {
		n = max(limits.MaxOutputBytes, 1<<10)
	}
	return n
}
