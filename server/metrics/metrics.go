// Package metrics exposes the server's Prometheus metrics.
//
// A [Metrics] owns its own registry (never the global default one), so tests
// and several servers in one process never collide. [Metrics.Handler] serves
// the registry in the Prometheus text format. A nil *Metrics is valid: every
// method is a no-op on it, so code paths without metrics (stdio) need no
// checks, and its Handler answers 404.
//
// Metrics (besides the standard go_* runtime and process_* collectors):
//
//	airlock_tool_calls_total{tool,backend,status}      counter: tool calls by outcome
//	airlock_tool_call_duration_seconds{tool,backend}   histogram: wall-clock time of a tool call, 1 ms to 300 s buckets
//	airlock_queue_depth                                gauge: calls waiting for an execution slot
//	airlock_executions_running                         gauge: executions holding a slot
//	airlock_sandboxes_running{backend}                 gauge: sandboxes alive, read from the backend's callback at scrape time
//	airlock_policy_denials_total{reason}               counter: calls refused by policy, by short category
//	airlock_build_info{version}                        gauge: always 1, labelled with the server version
//
// The status label is one of ok, error, timeout, killed, denied, invalid,
// busy, rate_limited, cancelled, failed; any other value is recorded as
// "other".
// The tool, backend and reason labels take the caller's string, but to bound
// cardinality (a tool name can come from a client) each keeps at most
// [MaxLabelValues] distinct values; later new values, and values that are
// empty, longer than [MaxLabelLength] bytes or not valid UTF-8, are recorded
// as "other".
package metrics

import (
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Other is the label value recorded in place of a value that is unknown
// (status) or past the cardinality bounds (tool, backend, reason).
const Other = "other"

// MaxLabelValues is how many distinct values each of the tool, backend and
// reason labels keeps before new values are recorded as [Other].
const MaxLabelValues = 32

// MaxLabelLength is the longest label value, in bytes, kept as given; a
// longer one is recorded as [Other].
const MaxLabelLength = 64

// DurationBuckets are the upper bounds, in seconds, of the
// airlock_tool_call_duration_seconds histogram: from 1 ms (a call refused
// before it runs) to 300 s (the longest sandboxed execution).
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// statuses are the status label values recorded as given.
var statuses = map[string]bool{
	"ok": true, "error": true, "timeout": true, "killed": true, "denied": true,
	"invalid": true, "busy": true, "rate_limited": true, "cancelled": true, "failed": true,
}

// KnownStatus reports whether status is recorded as given (any other is
// recorded as [Other]).
func KnownStatus(status string) bool { return statuses[status] }

// Metrics holds the server's metrics and the registry they are served from.
// Its methods are safe for concurrent use and are no-ops on a nil *Metrics.
type Metrics struct {
	reg *prometheus.Registry

	calls     *prometheus.CounterVec
	durations *prometheus.HistogramVec
	queue     prometheus.Gauge
	running   prometheus.Gauge
	denials   *prometheus.CounterVec
	sandboxes *sandboxCollector

	tools, backends, reasons *labelSet

	logMu    sync.Mutex
	errorLog promhttp.Logger
}

// New returns a Metrics with every metric registered on a fresh registry,
// airlock_build_info labelled with version ("unknown" when empty).
func New(version string) *Metrics {
	if version == "" {
		version = "unknown"
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_tool_calls_total",
			Help: "Tool calls, by tool, backend and outcome status.",
		}, []string{"tool", "backend", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "airlock_tool_call_duration_seconds",
			Help:    "Wall-clock duration of tool calls, by tool and backend.",
			Buckets: DurationBuckets,
		}, []string{"tool", "backend"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "airlock_queue_depth",
			Help: "Calls waiting for an execution slot.",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "airlock_executions_running",
			Help: "Executions currently holding an execution slot.",
		}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_policy_denials_total",
			Help: "Calls refused by policy, by reason category.",
		}, []string{"reason"}),
		sandboxes: &sandboxCollector{
			desc: prometheus.NewDesc("airlock_sandboxes_running",
				"Sandboxes currently running, by backend.", []string{"backend"}, nil),
			funcs: map[string]func() int{},
		},
		tools:    newLabelSet(),
		backends: newLabelSet(),
		reasons:  newLabelSet(),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "airlock_build_info",
		Help:        "Always 1; labelled with the airlock-mcp version.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.durations, m.queue, m.running, m.denials, m.sandboxes, build,
	)
	return m
}

// ObserveCall records one finished tool call: it counts it in
// airlock_tool_calls_total and observes d in
// airlock_tool_call_duration_seconds. An unknown status is recorded as
// "other".
func (m *Metrics) ObserveCall(tool, backend, status string, d time.Duration) {
	if m == nil {
		return
	}
	if !statuses[status] {
		status = Other
	}
	tool, backend = m.tools.bound(tool), m.backends.bound(backend)
	m.calls.WithLabelValues(tool, backend, status).Inc()
	m.durations.WithLabelValues(tool, backend).Observe(d.Seconds())
}

// QueueEnter records a call starting to wait for an execution slot.
func (m *Metrics) QueueEnter() {
	if m != nil {
		m.queue.Inc()
	}
}

// QueueLeave records a call no longer waiting for an execution slot, whether
// it got one or gave up.
func (m *Metrics) QueueLeave() {
	if m != nil {
		m.queue.Dec()
	}
}

// ExecutionStarted records an execution taking a slot.
func (m *Metrics) ExecutionStarted() {
	if m != nil {
		m.running.Inc()
	}
}

// ExecutionFinished records an execution releasing its slot.
func (m *Metrics) ExecutionFinished() {
	if m != nil {
		m.running.Dec()
	}
}

// Denied counts one call refused by policy, by a short reason category such
// as "limits", "network", "tool" or "rate_limit".
func (m *Metrics) Denied(reason string) {
	if m != nil {
		m.denials.WithLabelValues(m.reasons.bound(reason)).Inc()
	}
}

// SetSandboxesRunning makes airlock_sandboxes_running{backend} report f(),
// called at each scrape (possibly concurrently with other calls, so f must
// be safe for that and quick). A later call for the same backend replaces f;
// a nil f removes the series.
func (m *Metrics) SetSandboxesRunning(backend string, f func() int) {
	if m != nil {
		m.sandboxes.set(m.backends.bound(backend), f)
	}
}

// SetErrorLog makes the Handler report errors met while gathering or
// serving metrics to l (for instance a *log.Logger, such as zap.NewStdLog
// gives). Without it they are dropped; either way a scrape serves every
// metric that could be gathered. It affects handlers made after it.
func (m *Metrics) SetErrorLog(l promhttp.Logger) {
	if m != nil {
		m.logMu.Lock()
		m.errorLog = l
		m.logMu.Unlock()
	}
}

// Handler serves the metrics in the Prometheus text exposition format. On a
// nil *Metrics it answers 404 to every request.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	m.logMu.Lock()
	errorLog := m.errorLog
	m.logMu.Unlock()
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          errorLog,
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: false,
	})
}

// Registry returns the registry the metrics are registered on, for
// registering more collectors; nil on a nil *Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// sandboxCollector reports airlock_sandboxes_running from per-backend
// callbacks.
type sandboxCollector struct {
	desc  *prometheus.Desc
	mu    sync.Mutex
	funcs map[string]func() int
}

func (c *sandboxCollector) set(backend string, f func() int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f == nil {
		delete(c.funcs, backend)
		return
	}
	c.funcs[backend] = f
}

// Describe implements prometheus.Collector.
func (c *sandboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. The callbacks run outside the
// lock, so one may call SetSandboxesRunning without deadlocking.
func (c *sandboxCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	funcs := make(map[string]func() int, len(c.funcs))
	for b, f := range c.funcs {
		funcs[b] = f
	}
	c.mu.Unlock()
	for b, f := range funcs {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(f()), b)
	}
}

// labelSet bounds the distinct values of one label.
type labelSet struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

func newLabelSet() *labelSet { return &labelSet{seen: map[string]struct{}{}} }

// bound returns v if it is acceptable as a label value and either already
// seen or within MaxLabelValues distinct values, and Other otherwise.
func (s *labelSet) bound(v string) string {
	if v == "" || len(v) > MaxLabelLength || !utf8.ValidString(v) {
		return Other
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[v]; ok {
		return v
	}
	if len(s.seen) >= MaxLabelValues {
		return Other
	}
	s.seen[v] = struct{}{}
	return v
}
