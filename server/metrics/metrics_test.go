package metrics

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches m.Handler() through httptest and parses the text exposition.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape: Content-Type %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels are exactly labels.
func find(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

// value returns the counter or gauge value of a series, and whether it exists.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	m := find(fams, name, labels)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func series(fams map[string]*dto.MetricFamily, name string) int {
	return len(fams[name].GetMetric())
}

type call struct {
	tool, backend, status string
	d                     time.Duration
}

func TestObserveCallCounts(t *testing.T) {
	tests := []struct {
		name  string
		calls []call
		want  map[[3]string]float64 // {tool, backend, status} -> count
	}{
		{
			name:  "one ok",
			calls: []call{{"execute_python", "local", "ok", time.Second}},
			want:  map[[3]string]float64{{"execute_python", "local", "ok"}: 1},
		},
		{
			name: "by label",
			calls: []call{
				{"execute_python", "local", "ok", 0},
				{"execute_python", "local", "ok", 0},
				{"execute_python", "local", "timeout", 0},
				{"execute_python", "modal", "ok", 0},
				{"other_tool", "local", "denied", 0},
			},
			want: map[[3]string]float64{
				{"execute_python", "local", "ok"}:      2,
				{"execute_python", "local", "timeout"}: 1,
				{"execute_python", "modal", "ok"}:      1,
				{"other_tool", "local", "denied"}:      1,
			},
		},
		{
			name: "every known status kept",
			calls: []call{
				{"t", "local", "ok", 0}, {"t", "local", "error", 0}, {"t", "local", "timeout", 0},
				{"t", "local", "killed", 0}, {"t", "local", "denied", 0}, {"t", "local", "invalid", 0},
				{"t", "local", "busy", 0}, {"t", "local", "rate_limited", 0}, {"t", "local", "cancelled", 0},
			},
			want: map[[3]string]float64{
				{"t", "local", "ok"}: 1, {"t", "local", "error"}: 1, {"t", "local", "timeout"}: 1,
				{"t", "local", "killed"}: 1, {"t", "local", "denied"}: 1, {"t", "local", "invalid"}: 1,
				{"t", "local", "busy"}: 1, {"t", "local", "rate_limited"}: 1, {"t", "local", "cancelled"}: 1,
			},
		},
		{
			name: "unknown status is other",
			calls: []call{
				{"t", "local", "exploded", 0},
				{"t", "local", "", 0},
				{"t", "local", "OK", 0},
				{"t", "local", "other", 0},
			},
			want: map[[3]string]float64{{"t", "local", "other"}: 4},
		},
		{
			name: "bad tool and backend values are other",
			calls: []call{
				{"", "", "ok", 0},
				{strings.Repeat("x", MaxLabelLength+1), "local", "ok", 0},
				{"bad\xffutf8", "local\xfe", "ok", 0},
			},
			want: map[[3]string]float64{
				{"other", "other", "ok"}: 2,
				{"other", "local", "ok"}: 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New("test")
			for _, c := range tt.calls {
				m.ObserveCall(c.tool, c.backend, c.status, c.d)
			}
			fams := scrape(t, m)
			for k, want := range tt.want {
				got, ok := value(fams, "airlock_tool_calls_total", map[string]string{"tool": k[0], "backend": k[1], "status": k[2]})
				if !ok || got != want {
					t.Errorf("airlock_tool_calls_total%v = %v (present %v), want %v", k, got, ok, want)
				}
			}
			if n := series(fams, "airlock_tool_calls_total"); n != len(tt.want) {
				t.Errorf("airlock_tool_calls_total has %d series, want %d", n, len(tt.want))
			}
		})
	}
}

func TestObserveCallHistogram(t *testing.T) {
	m := New("test")
	ds := []time.Duration{2 * time.Millisecond, 1500 * time.Millisecond, 400 * time.Second}
	for _, d := range ds {
		m.ObserveCall("execute_python", "local", "ok", d)
	}
	m.ObserveCall("execute_python", "modal", "ok", time.Second)

	fams := scrape(t, m)
	if typ := fams["airlock_tool_call_duration_seconds"].GetType(); typ != dto.MetricType_HISTOGRAM {
		t.Fatalf("type %v, want HISTOGRAM", typ)
	}
	mt := find(fams, "airlock_tool_call_duration_seconds", map[string]string{"tool": "execute_python", "backend": "local"})
	if mt == nil {
		t.Fatal("no histogram series for execute_python/local")
	}
	h := mt.GetHistogram()
	if h.GetSampleCount() != 3 {
		t.Errorf("count = %d, want 3", h.GetSampleCount())
	}
	if want := 0.002 + 1.5 + 400; math.Abs(h.GetSampleSum()-want) > 1e-9 {
		t.Errorf("sum = %v, want %v", h.GetSampleSum(), want)
	}
	if n := len(h.GetBucket()); n != len(DurationBuckets)+1 { // the parsed text includes le="+Inf"
		t.Errorf("%d buckets, want %d", n, len(DurationBuckets)+1)
	}
	cumulative := map[float64]uint64{0.001: 0, 0.0025: 1, 1: 1, 2.5: 2, 300: 2, math.Inf(1): 3}
	for _, b := range h.GetBucket() {
		if want, ok := cumulative[b.GetUpperBound()]; ok && b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if got := find(fams, "airlock_tool_call_duration_seconds", map[string]string{"tool": "execute_python", "backend": "modal"}).GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("modal count = %d, want 1", got)
	}
}

func TestGauges(t *testing.T) {
	tests := []struct {
		name               string
		ops                func(m *Metrics)
		wantQueue, wantRun float64
	}{
		{"zero", func(*Metrics) {}, 0, 0},
		{"queue up", func(m *Metrics) { m.QueueEnter(); m.QueueEnter(); m.QueueEnter() }, 3, 0},
		{"queue up and down", func(m *Metrics) { m.QueueEnter(); m.QueueEnter(); m.QueueLeave() }, 1, 0},
		{"slot taken", func(m *Metrics) { m.QueueEnter(); m.QueueLeave(); m.ExecutionStarted() }, 0, 1},
		{"executions up and down", func(m *Metrics) {
			m.ExecutionStarted()
			m.ExecutionStarted()
			m.ExecutionFinished()
			m.ExecutionStarted()
		}, 0, 2},
		{"all done", func(m *Metrics) {
			m.QueueEnter()
			m.QueueLeave()
			m.ExecutionStarted()
			m.ExecutionFinished()
		}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New("test")
			tt.ops(m)
			fams := scrape(t, m)
			if got, ok := value(fams, "airlock_queue_depth", nil); !ok || got != tt.wantQueue {
				t.Errorf("airlock_queue_depth = %v (present %v), want %v", got, ok, tt.wantQueue)
			}
			if got, ok := value(fams, "airlock_executions_running", nil); !ok || got != tt.wantRun {
				t.Errorf("airlock_executions_running = %v (present %v), want %v", got, ok, tt.wantRun)
			}
		})
	}
}

func TestSandboxesRunningFollowsCallback(t *testing.T) {
	m := New("test")
	if n := series(scrape(t, m), "airlock_sandboxes_running"); n != 0 {
		t.Fatalf("%d series before any callback, want 0", n)
	}

	var local atomic.Int64
	m.SetSandboxesRunning("local", func() int { return int(local.Load()) })
	m.SetSandboxesRunning("modal", func() int { return 7 })
	sb := func(backend string) (float64, bool) {
		return value(scrape(t, m), "airlock_sandboxes_running", map[string]string{"backend": backend})
	}

	for _, n := range []int64{0, 3, 1} {
		local.Store(n)
		if got, ok := sb("local"); !ok || got != float64(n) {
			t.Errorf("local = %v (present %v), want %d", got, ok, n)
		}
	}
	if got, _ := sb("modal"); got != 7 {
		t.Errorf("modal = %v, want 7", got)
	}

	m.SetSandboxesRunning("modal", func() int { return 2 }) // replaces
	if got, _ := sb("modal"); got != 2 {
		t.Errorf("modal after replace = %v, want 2", got)
	}
	m.SetSandboxesRunning("modal", nil) // removes
	if _, ok := sb("modal"); ok {
		t.Error("modal still reported after a nil callback")
	}
	if n := series(scrape(t, m), "airlock_sandboxes_running"); n != 1 {
		t.Errorf("%d series, want 1", n)
	}
}

func TestSandboxesCallbackMaySetAgain(t *testing.T) {
	m := New("test")
	m.SetSandboxesRunning("local", func() int {
		m.SetSandboxesRunning("other_backend", func() int { return 1 }) // must not deadlock
		return 4
	})
	if got, _ := value(scrape(t, m), "airlock_sandboxes_running", map[string]string{"backend": "local"}); got != 4 {
		t.Errorf("local = %v, want 4", got)
	}
}

func TestDenied(t *testing.T) {
	tests := []struct {
		name    string
		reasons []string
		want    map[string]float64
	}{
		{"one", []string{"limits"}, map[string]float64{"limits": 1}},
		{"several", []string{"limits", "network", "limits", "tool", "rate_limit"},
			map[string]float64{"limits": 2, "network": 1, "tool": 1, "rate_limit": 1}},
		{"bad values", []string{"", strings.Repeat("r", 100), "\xff"}, map[string]float64{"other": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New("test")
			for _, r := range tt.reasons {
				m.Denied(r)
			}
			fams := scrape(t, m)
			for r, want := range tt.want {
				if got, ok := value(fams, "airlock_policy_denials_total", map[string]string{"reason": r}); !ok || got != want {
					t.Errorf("reason %q = %v (present %v), want %v", r, got, ok, want)
				}
			}
			if n := series(fams, "airlock_policy_denials_total"); n != len(tt.want) {
				t.Errorf("%d series, want %d", n, len(tt.want))
			}
		})
	}
}

func TestBuildInfo(t *testing.T) {
	for _, tt := range []struct{ version, want string }{
		{"v1.2.3", "v1.2.3"},
		{"dev", "dev"},
		{"", "unknown"},
	} {
		fams := scrape(t, New(tt.version))
		if got, ok := value(fams, "airlock_build_info", map[string]string{"version": tt.want}); !ok || got != 1 {
			t.Errorf("New(%q): airlock_build_info{version=%q} = %v (present %v), want 1", tt.version, tt.want, got, ok)
		}
	}
}

func TestLabelCardinalityBounded(t *testing.T) {
	m := New("test")
	for i := range MaxLabelValues + 10 {
		m.ObserveCall(fmt.Sprintf("tool_%d", i), "local", "ok", 0)
	}
	m.ObserveCall("tool_0", "local", "ok", 0) // already seen: still kept
	fams := scrape(t, m)
	if n := series(fams, "airlock_tool_calls_total"); n != MaxLabelValues+1 {
		t.Errorf("%d series, want %d", n, MaxLabelValues+1)
	}
	if got, _ := value(fams, "airlock_tool_calls_total", map[string]string{"tool": "other", "backend": "local", "status": "ok"}); got != 10 {
		t.Errorf("other = %v, want 10", got)
	}
	if got, _ := value(fams, "airlock_tool_calls_total", map[string]string{"tool": "tool_0", "backend": "local", "status": "ok"}); got != 2 {
		t.Errorf("tool_0 = %v, want 2", got)
	}
}

func TestStandardCollectorsAndLint(t *testing.T) {
	m := New("test")
	m.ObserveCall("execute_python", "local", "ok", time.Millisecond)
	m.Denied("limits")
	m.SetSandboxesRunning("local", func() int { return 0 })
	fams := scrape(t, m)
	for _, name := range []string{
		"go_goroutines", "go_info", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"airlock_tool_calls_total", "airlock_tool_call_duration_seconds", "airlock_queue_depth",
		"airlock_executions_running", "airlock_sandboxes_running", "airlock_policy_denials_total",
		"airlock_build_info",
	} {
		if fams[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "airlock_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	// None of these may panic.
	m.ObserveCall("execute_python", "local", "ok", time.Second)
	m.QueueEnter()
	m.QueueLeave()
	m.ExecutionStarted()
	m.ExecutionFinished()
	m.Denied("limits")
	m.SetSandboxesRunning("local", func() int { return 1 })
	m.SetErrorLog(nil)
	if m.Registry() != nil {
		t.Error("Registry on nil is not nil")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler: status %d, want 404", rec.Code)
	}
}

func TestInstancesIndependent(t *testing.T) {
	a, b := New("a"), New("b") // no duplicate-registration panic
	a.ObserveCall("execute_python", "local", "ok", time.Second)
	a.QueueEnter()
	a.Denied("network")
	a.SetSandboxesRunning("local", func() int { return 5 })

	fa, fb := scrape(t, a), scrape(t, b)
	if got, _ := value(fa, "airlock_tool_calls_total", map[string]string{"tool": "execute_python", "backend": "local", "status": "ok"}); got != 1 {
		t.Errorf("a: calls = %v, want 1", got)
	}
	if n := series(fb, "airlock_tool_calls_total") + series(fb, "airlock_policy_denials_total") + series(fb, "airlock_sandboxes_running"); n != 0 {
		t.Errorf("b has %d call/denial/sandbox series, want 0", n)
	}
	if got, _ := value(fb, "airlock_queue_depth", nil); got != 0 {
		t.Errorf("b: queue = %v, want 0", got)
	}
	if _, ok := value(fb, "airlock_build_info", map[string]string{"version": "b"}); !ok {
		t.Error("b: build info version b missing")
	}
	if _, ok := value(fb, "airlock_build_info", map[string]string{"version": "a"}); ok {
		t.Error("b reports a's version")
	}
	// The global default registry is untouched.
	if mfs, err := prometheus.DefaultGatherer.Gather(); err == nil {
		for _, f := range mfs {
			if strings.HasPrefix(f.GetName(), "airlock_") {
				t.Errorf("%s registered on the default registry", f.GetName())
			}
		}
	}
}

// failingCollector always fails to collect.
type failingCollector struct{ desc *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("boom"))
}

type recordingLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLog) Println(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintln(v...))
}

func TestHandlerContinuesOnErrorAndLogs(t *testing.T) {
	m := New("test")
	m.Registry().MustRegister(failingCollector{prometheus.NewDesc("test_failing", "fails", nil, nil)})
	var log recordingLog
	m.SetErrorLog(&log)
	m.QueueEnter()
	fams := scrape(t, m) // still 200 with the metrics that could be gathered
	if got, _ := value(fams, "airlock_queue_depth", nil); got != 1 {
		t.Errorf("queue = %v, want 1", got)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.lines) == 0 || !strings.Contains(strings.Join(log.lines, ""), "boom") {
		t.Errorf("error log = %q, want the collector's error", log.lines)
	}
}

func TestConcurrentUse(t *testing.T) {
	m := New("test")
	var n atomic.Int64
	m.SetSandboxesRunning("local", func() int { return int(n.Load()) })
	const workers, per = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				m.QueueEnter()
				m.QueueLeave()
				m.ExecutionStarted()
				n.Add(1)
				m.ObserveCall(fmt.Sprintf("tool_%d", (w+i)%4), "local", "ok", time.Duration(i)*time.Millisecond)
				m.Denied("limits")
				n.Add(-1)
				m.ExecutionFinished()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("concurrent scrape: %d", rec.Code)
			}
		}
	})
	wg.Wait()
	fams := scrape(t, m)
	var total float64
	for _, mt := range fams["airlock_tool_calls_total"].GetMetric() {
		total += mt.GetCounter().GetValue()
	}
	if total != workers*per {
		t.Errorf("total calls = %v, want %d", total, workers*per)
	}
	if got, _ := value(fams, "airlock_policy_denials_total", map[string]string{"reason": "limits"}); got != workers*per {
		t.Errorf("denials = %v, want %d", got, workers*per)
	}
	for _, g := range []string{"airlock_queue_depth", "airlock_executions_running"} {
		if got, _ := value(fams, g, nil); got != 0 {
			t.Errorf("%s = %v, want 0", g, got)
		}
	}
}
