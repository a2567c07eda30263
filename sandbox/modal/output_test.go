package modal

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestLaggingOutputKeepsTheResult: output that arrives long after the code
// has exited (1 MiB of stderr, then an exception, delivered at 256 KiB/s)
// is read to its end, so the exception is reported as such, not as a
// crash. The call's deadline runs on a fake clock that never moves, so
// only the output's end can end the call.
func TestLaggingOutputKeepsTheResult(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b, _ := newPoolBackend(t, srv, baseOptions(), 0)
	srv.ThrottleOutput(256 << 10)
	code := "import sys\nsys.stderr.write('e' * (1 << 20))\nprint('before')\nraise ValueError('after the flood')"
	o := within(t, executeAsync(testContext(t), b, sandbox.Request{Code: code, Limits: callLimits}), "the call to return")
	if o.err != nil {
		t.Fatalf("Execute: %v", o.err)
	}
	res := o.res
	if res.Status != sandbox.StatusError || res.Error == nil || res.Error.Type != "ValueError" || res.Error.Message != "after the flood" {
		t.Fatalf("status %q, error %+v; want the ValueError", res.Status, res.Error)
	}
	if res.Stdout != "before\n" || !res.Truncated || !strings.HasSuffix(res.Stderr, strings.Repeat("e", 100)) {
		t.Errorf("stdout %q, truncated %v, stderr ends %q; want the whole output, its middle cut", res.Stdout, res.Truncated, res.Stderr[max(0, len(res.Stderr)-40):])
	}
	if n := b.logs.FilterMessageSnippet("lost on its way").Len(); n != 0 {
		t.Errorf("a slow stream was logged as lost: %v", b.logs.All())
	}
}

// TestLostStreamIsReported: a stream Modal drops mid-call (an error the
// SDK does not retry) is never passed off as complete output: the result
// is not ok, is marked truncated, names the stream and how much of it
// arrived, and the backend logs it. When stderr, which carries the result
// last, is lost, the result is unknown; when stdout is, the code's own
// outcome is kept.
func TestLostStreamIsReported(t *testing.T) {
	tests := []struct {
		name    string
		stream  modaltest.Stream
		code    string
		errType string
		result  string // "" : none
		msg     []string
	}{
		{name: "stderr lost, code fine", stream: modaltest.Stderr,
			code:    "import sys\nsys.stderr.write('e' * 300)\nprint('done')\n6*7",
			errType: "OutputLost",
			msg: []string{"Modal's stderr stream failed after 100 bytes (Modal said: stream reset)",
				"the code exited with code 0, but its result, which comes last on stderr, did not arrive"}},
		{name: "stdout lost, code fine", stream: modaltest.Stdout,
			code:    "print('o' * 300)\n6*7",
			errType: "OutputLost", result: "42",
			msg: []string{"Modal's stdout stream failed after 100 bytes (Modal said: stream reset)",
				"the code finished without error, but its output is incomplete"}},
		{name: "stdout lost, code raised", stream: modaltest.Stdout,
			code:    "print('o' * 300)\nraise KeyError('k')",
			errType: "KeyError",
			msg:     []string{"; also, Modal's stdout stream failed after 100 bytes (Modal said: stream reset), so the output is incomplete"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startCP(t, modaltest.Options{})
			b := newBackend(t, srv, baseOptions())
			srv.DropOutput(tt.stream, 100, status.Error(codes.DataLoss, "stream reset"))
			res, err := b.Execute(testContext(t), sandbox.Request{Code: tt.code, Limits: callLimits})
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if res.Status != sandbox.StatusError || !res.Truncated || res.Error == nil || res.Error.Type != tt.errType {
				t.Fatalf("status %q, truncated %v, error %+v; want an error of type %s, truncated", res.Status, res.Truncated, res.Error, tt.errType)
			}
			for _, m := range tt.msg {
				if !strings.Contains(res.Error.Message, m) {
					t.Errorf("message %q lacks %q", res.Error.Message, m)
				}
			}
			if got := ""; res.Result != nil {
				got = *res.Result
				if got != tt.result {
					t.Errorf("result %q, want %q", got, tt.result)
				}
			} else if tt.result != "" {
				t.Errorf("no result, want %q", tt.result)
			}
			lost := b.logs.FilterMessageSnippet("lost on its way from Modal").All()
			if len(lost) != 1 || lost[0].ContextMap()["sandbox_id"] != res.SandboxID {
				t.Errorf("logged %v; want one warning naming the sandbox", b.logs.All())
			}
		})
	}
}
