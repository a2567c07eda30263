package modal

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

var testLimits = sandbox.Limits{
	Timeout:        10 * time.Second,
	MemoryBytes:    512 << 20,
	CPUTime:        7 * time.Second,
	MaxProcesses:   64,
	MaxOutputBytes: 64 << 10,
	MaxFileBytes:   3 << 20,
	MaxOpenFiles:   99,
}

func TestHarnessArgv(t *testing.T) {
	argv, err := harnessArgv(testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if argv[0] != "python3" || strings.Join(argv[1:6], " ") != "-I -S -u -B -c" || len(argv) != 7 {
		t.Fatalf("argv = %q", argv[:min(len(argv), 6)])
	}
	total := 0
	for _, a := range argv {
		total += len(a)
	}
	if total >= maxArgvBytes/2 {
		t.Errorf("argv is %d bytes: keep well under the SDK's %d-byte cap", total, maxArgvBytes)
	}
	for _, want := range []string{"RLIMIT_NOFILE, 99)", "RLIMIT_FSIZE, 3145728)", "RLIMIT_CPU, 7)", "_p.dup2(2, 3)"} {
		if !strings.Contains(argv[6], want) {
			t.Errorf("prelude lacks %q", want)
		}
	}
}

// TestHarnessArgvRunsTheHarness runs the exec's argv with this machine's
// python3, as a Modal sandbox would: the envelope comes out on stderr, the
// splitter finds it, and the prelude's limits hold in the code.
func TestHarnessArgvRunsTheHarness(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	tests := []struct {
		name       string
		code       string
		wantStatus sandbox.Status
		wantResult string
		wantStdout string
		wantStderr string
	}{
		{name: "limits and result",
			code: "import resource, sys\nprint(resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_CPU))\n" +
				"sys.stderr.write('to stderr\\n')\nresource.getrlimit(resource.RLIMIT_FSIZE)[0]",
			wantStatus: sandbox.StatusOK, wantResult: "3145728", wantStdout: "(99, 99) (7, 7)\n", wantStderr: "to stderr\n"},
		{name: "exception", code: "1/0", wantStatus: sandbox.StatusError},
		{name: "working directory and path", code: "import os, sys\nprint(os.getcwd())\nsys.path[0]",
			wantStatus: sandbox.StatusOK, wantResult: "'/tmp'", wantStdout: "/tmp\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv, err := harnessArgv(testLimits)
			if err != nil {
				t.Fatal(err)
			}
			inv, err := sandbox.NewInvocation(tt.code, sandbox.HarnessOptions{EnvelopeFD: envelopeFD, Workdir: workdir, MaxReprBytes: sandbox.ReprLimit(testLimits)})
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(py, argv[1:]...)
			cmd.Dir = workdir
			cmd.Stdin = bytes.NewReader(inv.Stdin)
			stdout := sandbox.NewOutputBuffer(testLimits.MaxOutputBytes)
			stderr := sandbox.NewOutputBuffer(testLimits.MaxOutputBytes)
			sp := newSplitter(inv.Nonce, stderr, sandbox.MaxEnvelopeBytes(testLimits))
			cmd.Stdout, cmd.Stderr = stdout, sp
			runErr := cmd.Run()
			_ = sp.Close()
			var exit sandbox.ProcessExit
			if ee, ok := runErr.(*exec.ExitError); ok {
				exit.ExitCode = ee.ExitCode()
			} else if runErr != nil {
				t.Fatal(runErr)
			}
			res := sandbox.Finalize(Name, exit, sp.Envelope(), inv.Nonce, stdout, stderr, testLimits)
			if res.Status != tt.wantStatus {
				t.Fatalf("status %s, want %s: %+v", res.Status, tt.wantStatus, res)
			}
			if tt.wantResult != "" && (res.Result == nil || *res.Result != tt.wantResult) {
				t.Errorf("result = %v, want %s", res.Result, tt.wantResult)
			}
			if tt.wantStatus == sandbox.StatusOK && (res.Stdout != tt.wantStdout || res.Stderr != tt.wantStderr) {
				t.Errorf("stdout %q stderr %q, want %q %q", res.Stdout, res.Stderr, tt.wantStdout, tt.wantStderr)
			}
			if tt.wantStatus == sandbox.StatusError && (res.Error == nil || res.Error.Type != "ZeroDivisionError") {
				t.Errorf("error = %+v, want ZeroDivisionError", res.Error)
			}
		})
	}
}
