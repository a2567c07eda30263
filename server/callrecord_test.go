package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// recorded is what the server recorded of one call: its audit record, its
// "tool call" log line and the metrics.
type recorded struct {
	audit   audit.Record
	log     observer.LoggedEntry
	metrics map[string]float64 // "family{label=value,...}" -> value, counters only
}

// callAndRecord serves one MCP server under p with backend b, an audit log,
// metrics and an observed logger, makes the calls (each with its wire
// arguments, from client when not ""), and returns what the server recorded
// of the last call, with the client's result of it. stop, when not nil, is
// the server's stop context.
func callAndRecord(t *testing.T, p *policy.Policy, b sandbox.Backend, stop context.Context, client string, args ...string) (recorded, *mcp.CallToolResult, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := audit.Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := New(Options{Policy: p, Backend: b, Logger: zap.New(core), Version: "test", Audit: w, Metrics: m, Stop: stop})
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, s, mcp.LATEST_LEGACY_PROTOCOL_VERSION)
	ctx := context.Background()
	if client != "" {
		ctx = context.WithValue(ctx, clientKey{}, client)
	}
	var res *mcp.CallToolResult
	var callErr error
	for _, a := range args {
		res, callErr = callTool(ctx, c, a)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	var rec recorded
	records := readAudit(t, path)
	if len(records) != len(args) {
		t.Fatalf("%d audit records for %d calls", len(records), len(args))
	}
	rec.audit = records[len(records)-1]
	lines := logs.FilterMessage("tool call").All()
	if len(lines) != len(args) {
		t.Fatalf("%d 'tool call' log lines for %d calls: %+v", len(lines), len(args), logs.All())
	}
	rec.log = lines[len(lines)-1]
	rec.metrics = counters(t, m)
	return rec, res, callErr
}

// readAudit returns the records of the audit log at path.
func readAudit(t *testing.T, path string) []audit.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Record
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// counters returns m's airlock_* counters that are not zero, keyed
// "family{label=value,...}" with labels in the order Prometheus gives.
func counters(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetType() != dto.MetricType_COUNTER || !strings.HasPrefix(f.GetName(), "airlock_") {
			continue
		}
		for _, mm := range f.GetMetric() {
			var labels []string
			for _, l := range mm.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			if v := mm.GetCounter().GetValue(); v != 0 {
				out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
			}
		}
	}
	return out
}

// TestEveryCallRecordedAlike pins what the server records of each kind of
// call — the audit record, the "tool call" log line, the metrics — and the
// text the client gets: the audit log, the operator's log and dashboards
// depend on these fields and values.
func TestEveryCallRecordedAlike(t *testing.T) {
	p := policy.Default()
	pSHA := p.SHA256()
	maxTimeout := strconv.FormatFloat(p.Limits.MaxTimeoutS, 'f', -1, 64)
	code := "print(1)"
	codeSHA := audit.SHA256Hex([]byte(code))
	overInBytes := strings.Repeat("é", p.Limits.MaxCodeBytes/2+1)
	_, refused := p.DecideExecute(overInBytes, nil)
	refusal := refused.Reason
	exit0, exit1 := 0, 1
	noNetwork := &sandbox.Network{Enforcement: sandbox.EnforcementNone, Connections: []sandbox.Connection{}}
	emptySummary := &audit.NetworkSummary{HostsDenied: []string{}}
	calls := func(status string) string {
		return "airlock_tool_calls_total{backend=fake,status=" + status + ",tool=execute_python}"
	}
	denials := func(reason string) string { return "airlock_policy_denials_total{reason=" + reason + "}" }
	onePerMinute := policy.Default()
	onePerMinute.Limits.CallsPerMinute, onePerMinute.Limits.CallBurst = 1, 1
	rateMsg := `Rate limit: client "alice" may make 1 call per minute (bursts of 1); try again in 60 s.`

	tests := []struct {
		name    string
		policy  *policy.Policy
		backend *sandboxtest.Backend
		// stopOnStart: the server stops once the backend has the call, which
		// it holds until then.
		stopOnStart bool
		client      string
		args        []string // the calls made: all run but the last, which is checked
		// ran: the backend's result, when the code ran.
		ran *sandbox.Result
		// text is the client's text; "" when the call fails with a Go error.
		text        string
		wantErr     string // substring of the call's protocol error
		wantAudit   audit.Record
		wantLevel   zapcore.Level
		wantLog     map[string]any // every field of the log line but duration
		wantMetrics map[string]float64
	}{
		{
			name:    "ok",
			backend: &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusOK, ExitCode: &exit0, Stdout: "1\n", SandboxID: "sb-1", Backend: "fake", DurationMS: 3}},
			args:    []string{`{"code":"print(1)","timeout_s":10}`},
			ran:     &sandbox.Result{Status: sandbox.StatusOK, ExitCode: &exit0, Stdout: "1\n", SandboxID: "sb-1", Backend: "fake", DurationMS: 3, Network: noNetwork},
			text:    "1",
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", CodeSHA256: codeSHA, CodeBytes: len(code),
				Decision: "allowed", SandboxID: "sb-1", Status: "ok", ExitCode: &exit0, Network: emptySummary},
			wantLog: map[string]any{"tool": "execute_python", "code_bytes": int64(len(code)), "code_sha256": codeSHA, "timeout_s": 10.0,
				"is_error": false, "status": "ok", "backend": "fake", "sandbox_ms": int64(3), "truncated": false},
			wantMetrics: map[string]float64{calls("ok"): 1},
		},
		{
			name:    "the code failed, from an authenticated client",
			backend: &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusError, ExitCode: &exit1, Stderr: "boom\n", SandboxID: "sb-2", Backend: "fake"}},
			client:  "alice",
			args:    []string{`{"code":"print(1)"}`},
			ran:     &sandbox.Result{Status: sandbox.StatusError, ExitCode: &exit1, Stderr: "boom\n", SandboxID: "sb-2", Backend: "fake", Network: noNetwork},
			text:    "stderr:\nboom\nexited with code 1",
			wantAudit: audit.Record{Client: "alice", Tool: "execute_python", CodeSHA256: codeSHA, CodeBytes: len(code),
				Decision: "allowed", SandboxID: "sb-2", Status: "error", ExitCode: &exit1, Network: emptySummary},
			wantLog: map[string]any{"tool": "execute_python", "client": "alice", "code_bytes": int64(len(code)), "code_sha256": codeSHA,
				"is_error": true, "status": "error", "backend": "fake", "sandbox_ms": int64(0), "truncated": false},
			wantMetrics: map[string]float64{calls("error"): 1},
		},
		{
			name:    "cancelled, as the sandbox reports it",
			backend: &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusKilled, SandboxID: "sb-3", Backend: "fake", Error: &sandbox.ErrorInfo{Type: "Cancelled", Message: "the call was cancelled"}}},
			args:    []string{`{"code":"print(1)"}`},
			ran:     &sandbox.Result{Status: sandbox.StatusKilled, SandboxID: "sb-3", Backend: "fake", Error: &sandbox.ErrorInfo{Type: "Cancelled", Message: "the call was cancelled"}, Network: noNetwork},
			text:    "Cancelled: the call was cancelled",
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", CodeSHA256: codeSHA, CodeBytes: len(code),
				Decision: "allowed", SandboxID: "sb-3", Status: "cancelled", Network: emptySummary},
			wantLog: map[string]any{"tool": "execute_python", "code_bytes": int64(len(code)), "code_sha256": codeSHA,
				"is_error": true, "status": "cancelled", "backend": "fake", "sandbox_ms": int64(0), "truncated": false},
			wantMetrics: map[string]float64{calls("cancelled"): 1},
		},
		{
			name:    "invalid arguments",
			backend: &sandboxtest.Backend{},
			args:    []string{`{"code":"print(1)","timeout_s":900}`},
			text:    "Invalid arguments for execute_python:\n/timeout_s: maximum: got 900, want " + maxTimeout,
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", Decision: "denied",
				Reason: "Invalid arguments for execute_python:\n/timeout_s: maximum: got 900, want " + maxTimeout, Status: "invalid"},
			wantLog: map[string]any{"tool": "execute_python", "code_bytes": int64(len(code)), "code_sha256": codeSHA, "timeout_s": 900.0,
				"is_error": true, "error_text": "Invalid arguments for execute_python:\n/timeout_s: maximum: got 900, want " + maxTimeout},
			wantMetrics: map[string]float64{calls("invalid"): 1},
		},
		{
			name:    "arguments that are not an object",
			backend: &sandboxtest.Backend{},
			args:    []string{`["print(1)"]`},
			text:    "Invalid arguments for execute_python:\n/: got array, want object",
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", Decision: "denied",
				Reason: "Invalid arguments for execute_python:\n/: got array, want object", Status: "invalid"},
			wantLog: map[string]any{"tool": "execute_python", "args_bytes": int64(len(`["print(1)"]`)),
				"is_error": true, "error_text": "Invalid arguments for execute_python:\n/: got array, want object"},
			wantMetrics: map[string]float64{calls("invalid"): 1},
		},
		{
			name:    "refused by the policy's limits",
			backend: &sandboxtest.Backend{},
			args:    []string{`{"code":"` + overInBytes + `"}`},
			text:    refusal,
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", CodeSHA256: audit.SHA256Hex([]byte(overInBytes)), CodeBytes: len(overInBytes),
				Decision: "denied", Reason: refusal, Status: "denied"},
			wantLog: map[string]any{"tool": "execute_python", "code_bytes": int64(len(overInBytes)), "code_sha256": audit.SHA256Hex([]byte(overInBytes)),
				"is_error": true, "error_text": truncate(refusal, maxLoggedText)},
			wantMetrics: map[string]float64{calls("denied"): 1, denials("limits"): 1},
		},
		{
			name:      "rate limited",
			policy:    onePerMinute,
			backend:   &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusOK, Backend: "fake"}},
			client:    "alice",
			args:      []string{`{"code":"print(1)"}`, `{"code":"print(1)","timeout_s":5}`},
			text:      rateMsg,
			wantAudit: audit.Record{Client: "alice", Tool: "execute_python", Decision: "denied", Reason: rateMsg, Status: "rate_limited"},
			wantLog: map[string]any{"tool": "execute_python", "client": "alice", "code_bytes": int64(len(code)), "code_sha256": codeSHA, "timeout_s": 5.0,
				"is_error": true, "error_text": rateMsg},
			wantMetrics: map[string]float64{calls("ok"): 1, calls("rate_limited"): 1, denials("rate_limit"): 1},
		},
		{
			name:    "server busy",
			backend: &sandboxtest.Backend{Err: fmt.Errorf("%w: 4 executions running and 64 waiting; try again later", sandbox.ErrBusy)},
			args:    []string{`{"code":"print(1)"}`},
			text:    "Server busy: 4 executions running and 64 waiting; try again later",
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", CodeSHA256: codeSHA, CodeBytes: len(code),
				Decision: "allowed", Reason: "", Status: "busy"},
			wantLog: map[string]any{"tool": "execute_python", "code_bytes": int64(len(code)), "code_sha256": codeSHA,
				"is_error": true, "error_text": "Server busy: 4 executions running and 64 waiting; try again later"},
			wantMetrics: map[string]float64{calls("busy"): 1},
		},
		{
			name:    "the sandbox could not start",
			backend: &sandboxtest.Backend{Err: errors.New("unshare: operation not permitted")},
			args:    []string{`{"code":"print(1)"}`},
			text:    "the sandbox could not be started: unshare: operation not permitted; the operator can run `airlock-mcp doctor`",
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", CodeSHA256: codeSHA, CodeBytes: len(code),
				Decision: "allowed", Status: "failed"},
			wantLog: map[string]any{"tool": "execute_python", "code_bytes": int64(len(code)), "code_sha256": codeSHA,
				"is_error": true, "error_text": "the sandbox could not be started: unshare: operation not permitted; the operator can run `airlock-mcp doctor`"},
			wantMetrics: map[string]float64{calls("failed"): 1},
		},
		{
			name:        "cancelled by a shutdown",
			backend:     &sandboxtest.Backend{},
			stopOnStart: true,
			args:        []string{`{"code":"print(1)"}`},
			text:        "the call was cancelled before the code finished",
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", CodeSHA256: codeSHA, CodeBytes: len(code),
				Decision: "allowed", Status: "cancelled"},
			wantLog: map[string]any{"tool": "execute_python", "code_bytes": int64(len(code)), "code_sha256": codeSHA,
				"is_error": true, "error_text": "the call was cancelled before the code finished"},
			wantMetrics: map[string]float64{calls("cancelled"): 1},
		},
		{
			name:    "the handler panicked",
			backend: &sandboxtest.Backend{Panic: "boom"},
			args:    []string{`{"code":"print(1)"}`},
			wantErr: "panic recovered in execute_python tool handler: boom",
			wantAudit: audit.Record{Client: "anonymous", Tool: "execute_python", CodeSHA256: codeSHA, CodeBytes: len(code),
				Decision: "allowed", Status: "failed"},
			wantLevel: zapcore.ErrorLevel,
			wantLog: map[string]any{"tool": "execute_python", "code_bytes": int64(len(code)), "code_sha256": codeSHA,
				"error": "panic recovered in execute_python tool handler: boom"},
			wantMetrics: map[string]float64{calls("failed"): 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := tt.policy
			if pol == nil {
				pol = p
			}
			var stop context.Context
			if tt.stopOnStart {
				var cancel context.CancelFunc
				stop, cancel = context.WithCancel(context.Background())
				defer cancel()
				tt.backend.Hold()
				go func() {
					<-tt.backend.Started()
					cancel() // the server stops while the code runs
				}()
			}
			before := time.Now()
			rec, res, err := callAndRecord(t, pol, tt.backend, stop, tt.client, tt.args...)
			after := time.Now()
			if ran := tt.backend.Calls() == len(tt.args); ran != (tt.wantAudit.Decision == "allowed") {
				t.Errorf("the backend ran %d of %d calls; want the last one to run only when allowed", tt.backend.Calls(), len(tt.args))
			}

			// What the client got.
			var output []byte
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("call error = %v, want one containing %q", err, tt.wantErr)
				}
				output = []byte(tt.wantErr)
			} else {
				if err != nil {
					t.Fatalf("call error: %v", err)
				}
				if got := textOf(t, res); got != tt.text {
					t.Errorf("text = %q, want %q", got, tt.text)
				}
				want := mcp.NewToolResultError(tt.text)
				if tt.ran != nil {
					want = &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(tt.text)}, StructuredContent: tools.ExecuteResult{Result: *tt.ran, Files: []tools.FileEntry{}, Figures: []tools.FileEntry{}}, IsError: tt.ran.Status != sandbox.StatusOK}
				}
				if output, err = json.Marshal(want); err != nil {
					t.Fatal(err)
				}
			}

			// The audit record.
			got := rec.audit
			if got.Time.Before(before) || got.Time.After(after) {
				t.Errorf("audit time %v outside the call (%v to %v)", got.Time, before, after)
			}
			if got.DurationMS < 0 {
				t.Errorf("audit duration %v ms", got.DurationMS)
			}
			if got.OutputSHA256 != audit.SHA256Hex(output) {
				t.Errorf("audit output hash %s, want the hash of %s", got.OutputSHA256, output)
			}
			if got.Session == "" {
				t.Error("audit record without the MCP session")
			}
			want := tt.wantAudit
			want.Session = got.Session
			want.Seq, want.Prev, want.Time, want.DurationMS, want.OutputSHA256 = got.Seq, got.Prev, got.Time, got.DurationMS, got.OutputSHA256
			want.PolicyVersion, want.PolicySHA256, want.Backend = pol.Version, pSHA, "fake"
			if pol != p {
				want.PolicySHA256 = pol.SHA256()
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("audit record\n%+v\nwant\n%+v", got, want)
			}

			// The log line.
			if rec.log.Level != tt.wantLevel {
				t.Errorf("log level %v, want %v", rec.log.Level, tt.wantLevel)
			}
			fields := rec.log.ContextMap()
			if _, ok := fields["duration"]; !ok {
				t.Error("log line without duration")
			}
			delete(fields, "duration")
			if !reflect.DeepEqual(fields, tt.wantLog) {
				t.Errorf("log fields\n%v\nwant\n%v", fields, tt.wantLog)
			}

			// The metrics.
			if !reflect.DeepEqual(rec.metrics, tt.wantMetrics) {
				t.Errorf("metrics %v, want %v", rec.metrics, tt.wantMetrics)
			}
		})
	}
}
