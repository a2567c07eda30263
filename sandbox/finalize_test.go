package sandbox

import (
	"bytes"
	"encoding/json"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestFinalize(t *testing.T) {
	limits := Limits{
		Timeout:        30 * time.Second,
		MemoryBytes:    256 << 20,
		CPUTime:        10 * time.Second,
		MaxOutputBytes: 1 << 10,
	}
	okEnv := frame(testNonce, `{"status":"ok","exit_code":0,"result":"42","error":null}`)
	errEnv := frame(testNonce, `{"status":"error","exit_code":1,"result":null,"error":{"type":"ValueError","message":"bad","traceback":"tb"}}`)
	memEnv := frame(testNonce, `{"status":"error","exit_code":1,"result":null,"error":{"type":"MemoryError","message":"cannot allocate","traceback":"tb"}}`)
	cpuEnv := frame(testNonce, `{"status":"error","exit_code":1,"result":null,"error":{"type":"subprocess.CalledProcessError","message":"Command '['python3', '-c', 'while True: pass']' died with <Signals.SIGXCPU: 24>.","traceback":"tb"}}`)
	forged := frame("ffeeddccbbaa99887766554433221100", `{"status":"ok","exit_code":0,"result":"'forged'","error":null}`)

	type want struct {
		status   Status
		exitCode *int
		result   *string
		err      *ErrorInfo // Traceback compared too; Message compared exactly
		timedOut bool
	}
	tests := []struct {
		name     string
		exit     ProcessExit
		envelope []byte
		limits   *Limits // nil: the limits above
		want     want
	}{
		{
			name: "ok envelope", exit: ProcessExit{ExitCode: 0}, envelope: okEnv,
			want: want{status: StatusOK, exitCode: intp(0), result: strp("42")},
		},
		{
			name: "error envelope", exit: ProcessExit{ExitCode: 1}, envelope: errEnv,
			want: want{status: StatusError, exitCode: intp(1), err: &ErrorInfo{Type: "ValueError", Message: "bad", Traceback: "tb"}},
		},
		{
			name: "MemoryError names the limit", exit: ProcessExit{ExitCode: 1}, envelope: memEnv,
			want: want{status: StatusError, exitCode: intp(1),
				err: &ErrorInfo{Type: "MemoryError", Message: "cannot allocate (the sandbox memory limit is 256 MiB)", Traceback: "tb"}},
		},
		{
			name: "MemoryError without a memory limit", exit: ProcessExit{ExitCode: 1}, envelope: memEnv, limits: &Limits{},
			want: want{status: StatusError, exitCode: intp(1), err: &ErrorInfo{Type: "MemoryError", Message: "cannot allocate", Traceback: "tb"}},
		},
		{
			name: "timeout outranks a valid envelope", exit: ProcessExit{TimedOut: true, ExitCode: 0}, envelope: okEnv,
			want: want{status: StatusTimeout, timedOut: true, err: &ErrorInfo{Type: "Timeout",
				Message: "execution exceeded the wall-clock limit of 30 s and was killed; output so far is kept"}},
		},
		{
			name: "timeout with a fractional limit", exit: ProcessExit{TimedOut: true, Signal: syscall.Signal(9)},
			limits: &Limits{Timeout: 1500 * time.Millisecond},
			want: want{status: StatusTimeout, timedOut: true, err: &ErrorInfo{Type: "Timeout",
				Message: "execution exceeded the wall-clock limit of 1.5 s and was killed; output so far is kept"}},
		},
		{
			name: "timeout outranks cancellation", exit: ProcessExit{TimedOut: true, Canceled: true},
			want: want{status: StatusTimeout, timedOut: true, err: &ErrorInfo{Type: "Timeout",
				Message: "execution exceeded the wall-clock limit of 30 s and was killed; output so far is kept"}},
		},
		{
			name: "cancelled", exit: ProcessExit{Canceled: true, Signal: syscall.Signal(9)}, envelope: okEnv,
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Cancelled", Message: "the client cancelled the call; the sandbox was killed"}},
		},
		{
			name: "SIGXCPU", exit: ProcessExit{Signal: syscall.Signal(24)},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by SIGXCPU: exceeded the CPU time limit of 10 s"}},
		},
		{
			name: "SIGKILL with the CPU clock at the limit", exit: ProcessExit{Signal: syscall.Signal(9), CPUTime: 10 * time.Second, CPUTimeKnown: true},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by SIGKILL: exceeded the CPU time limit of 10 s"}},
		},
		{
			name: "SIGKILL with the CPU clock at the hard limit", exit: ProcessExit{Signal: syscall.Signal(9), CPUTime: 11 * time.Second, CPUTimeKnown: true},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by SIGKILL: exceeded the CPU time limit of 10 s"}},
		},
		{
			name: "SIGKILL past a fractional CPU limit", exit: ProcessExit{Signal: syscall.Signal(9), CPUTime: 2 * time.Second, CPUTimeKnown: true},
			limits: &Limits{CPUTime: 1500 * time.Millisecond},
			want:   want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by SIGKILL: exceeded the CPU time limit of 1.5 s"}},
		},
		{
			name: "SIGKILL with the CPU clock one tick short of the limit", exit: ProcessExit{Signal: syscall.Signal(9), CPUTime: 10*time.Second - 4*time.Millisecond, CPUTimeKnown: true},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed",
				Message: "killed by SIGKILL before the CPU time limit of 10 s (the memory limit of 256 MiB may have been reached, or the host ran out of memory)"}},
		},
		{
			name: "SIGKILL with no CPU time", exit: ProcessExit{Signal: syscall.Signal(9), CPUTimeKnown: true, Duration: 20 * time.Second},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed",
				Message: "killed by SIGKILL before the CPU time limit of 10 s (the memory limit of 256 MiB may have been reached, or the host ran out of memory)"}},
		},
		{
			name: "SIGKILL by the memory cgroup outranks the CPU clock", exit: ProcessExit{Signal: syscall.Signal(9), OOMKilled: true, CPUTime: 10 * time.Second, CPUTimeKnown: true},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed",
				Message: "killed by SIGKILL: the sandbox exceeded its memory limit of 256 MiB"}},
		},
		{
			name: "SIGKILL by the memory cgroup, limit unknown", exit: ProcessExit{Signal: syscall.Signal(9), OOMKilled: true}, limits: &Limits{},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by SIGKILL: the sandbox exceeded its memory limit"}},
		},
		{
			// A backend that cannot read the CPU clock does not guess from
			// the wall-clock time: both limits stay possible.
			name: "SIGKILL, CPU time unknown, long run", exit: ProcessExit{Signal: syscall.Signal(9), Duration: 11 * time.Second}, envelope: okEnv,
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed",
				Message: "killed by SIGKILL (the memory limit of 256 MiB or the CPU time limit of 10 s may have been reached)"}},
		},
		{
			name: "SIGKILL without limits", exit: ProcessExit{Signal: syscall.Signal(9)}, limits: &Limits{},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by SIGKILL (the memory limit or the CPU time limit may have been reached)"}},
		},
		{
			name: "a child's SIGXCPU in the code's error names the limit", exit: ProcessExit{ExitCode: 1}, envelope: cpuEnv,
			want: want{status: StatusError, exitCode: intp(1), err: &ErrorInfo{Type: "subprocess.CalledProcessError",
				Message:   "Command '['python3', '-c', 'while True: pass']' died with <Signals.SIGXCPU: 24>. (SIGXCPU: a process reached the sandbox's CPU time limit of 10 s)",
				Traceback: "tb"}},
		},
		{
			name: "a child's SIGXCPU without a CPU limit", exit: ProcessExit{ExitCode: 1}, envelope: cpuEnv, limits: &Limits{},
			want: want{status: StatusError, exitCode: intp(1), err: &ErrorInfo{Type: "subprocess.CalledProcessError",
				Message: "Command '['python3', '-c', 'while True: pass']' died with <Signals.SIGXCPU: 24>.", Traceback: "tb"}},
		},
		{
			name: "SIGSEGV", exit: ProcessExit{Signal: syscall.Signal(11)},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "the interpreter crashed (SIGSEGV)"}},
		},
		{
			name: "SIGXFSZ", exit: ProcessExit{Signal: syscall.Signal(25)}, limits: &Limits{MaxFileBytes: 1000},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by SIGXFSZ: exceeded the file size limit of 1000 bytes"}},
		},
		{
			name: "other signal by name", exit: ProcessExit{Signal: syscall.Signal(15)},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by SIGTERM"}},
		},
		{
			name: "unnamed signal", exit: ProcessExit{Signal: syscall.Signal(40)},
			want: want{status: StatusKilled, err: &ErrorInfo{Type: "Killed", Message: "killed by signal 40"}},
		},
		{
			name: "no envelope, exit 0", exit: ProcessExit{ExitCode: 0},
			want: want{status: StatusOK, exitCode: intp(0)},
		},
		{
			name: "no envelope, exit 5", exit: ProcessExit{ExitCode: 5},
			want: want{status: StatusError, exitCode: intp(5), err: &ErrorInfo{Type: "ProcessExit",
				Message: "the process exited with code 5 before reporting a result (os._exit, or the interpreter crashed)"}},
		},
		{
			name: "forged envelope", exit: ProcessExit{ExitCode: 0}, envelope: forged,
			want: want{status: StatusError, exitCode: intp(0), err: envelopeErrorInfo},
		},
		{
			name: "malformed envelope", exit: ProcessExit{ExitCode: 0}, envelope: []byte("AIRLOCK-ENVELOPE/1 garbage"),
			want: want{status: StatusError, exitCode: intp(0), err: envelopeErrorInfo},
		},
		{
			name: "exit code mismatch", exit: ProcessExit{ExitCode: 1}, envelope: okEnv,
			want: want{status: StatusError, exitCode: intp(1), err: envelopeErrorInfo},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim := limits
			if tc.limits != nil {
				lim = *tc.limits
			}
			stdout, stderr := NewOutputBuffer(64), NewOutputBuffer(64)
			stdout.Write([]byte("out"))
			stderr.Write([]byte("err"))
			res := Finalize("local", tc.exit, tc.envelope, testNonce, stdout, stderr, lim)
			if res.Status != tc.want.status {
				t.Errorf("status = %q, want %q", res.Status, tc.want.status)
			}
			if (res.ExitCode == nil) != (tc.want.exitCode == nil) || res.ExitCode != nil && *res.ExitCode != *tc.want.exitCode {
				t.Errorf("exit_code = %v, want %v", ptrString(res.ExitCode), ptrString(tc.want.exitCode))
			}
			if (res.Result == nil) != (tc.want.result == nil) || res.Result != nil && *res.Result != *tc.want.result {
				t.Errorf("result = %v, want %v", ptrString(res.Result), ptrString(tc.want.result))
			}
			if (res.Error == nil) != (tc.want.err == nil) || res.Error != nil && *res.Error != *tc.want.err {
				t.Errorf("error = %v, want %v", ptrString(res.Error), ptrString(tc.want.err))
			}
			if res.TimedOut != tc.want.timedOut {
				t.Errorf("timed_out = %v", res.TimedOut)
			}
			if res.Stdout != "out" || res.Stderr != "err" || res.Truncated {
				t.Errorf("output = %q, %q, truncated %v", res.Stdout, res.Stderr, res.Truncated)
			}
			if res.Backend != "local" || res.DurationMS != tc.exit.Duration.Milliseconds() {
				t.Errorf("backend %q duration %d", res.Backend, res.DurationMS)
			}
			validateResult(t, res)
		})
	}
}

var envelopeErrorInfo = &ErrorInfo{Type: "EnvelopeError",
	Message: "the harness's result channel was tampered with (by the code or something it started), " +
		"so the reported result was discarded; stdout and stderr are kept"}

func ptrString[T any](p *T) string {
	if p == nil {
		return "null"
	}
	b, _ := json.Marshal(*p)
	return string(b)
}

func TestFinalizeOutput(t *testing.T) {
	big := NewOutputBuffer(64)
	big.Write(bytes.Repeat([]byte("x"), 100))
	small := NewOutputBuffer(64)
	small.Write([]byte("e\xff"))
	for _, tc := range []struct {
		name           string
		stdout, stderr *OutputBuffer
		wantOut        string
		wantErr        string
		truncated      bool
	}{
		{"stdout truncated", big, small, big.String(), "e\uFFFD", true},
		{"stderr truncated", small, big, "e\uFFFD", big.String(), true},
		{"nil buffers", nil, nil, "", "", false},
	} {
		res := Finalize("local", ProcessExit{Duration: -time.Second}, nil, testNonce, tc.stdout, tc.stderr, Limits{})
		if res.Stdout != tc.wantOut || res.Stderr != tc.wantErr || res.Truncated != tc.truncated {
			t.Errorf("%s: stdout %q stderr %q truncated %v", tc.name, res.Stdout, res.Stderr, res.Truncated)
		}
		if res.DurationMS != 0 {
			t.Errorf("%s: negative duration gave duration_ms %d", tc.name, res.DurationMS)
		}
		validateResult(t, res)
	}
}

// loadOutputSchema compiles the tool's published output schema, read from
// the file so these tests do not depend on the schemas package building.
var loadOutputSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	raw, err := os.ReadFile("../schemas/execute_python.output.schema.json")
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("output.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("output.json")
})

// validateResult checks res against the tool's published output schema.
// The tools layer lists Result.Files and Result.Figures (with the size,
// type and hash it computes); here they are listed empty.
func validateResult(t *testing.T, res Result) {
	t.Helper()
	schema, err := loadOutputSchema()
	if err != nil {
		t.Fatalf("output schema: %v", err)
	}
	b, err := json.Marshal(struct {
		Result
		Files   []struct{} `json:"files"`
		Figures []struct{} `json:"figures"`
	}{res, []struct{}{}, []struct{}{}})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("result does not match the output schema: %v\n%s", err, b)
	}
}
