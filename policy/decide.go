package policy

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// The Rule of a refusal that no policy key decided but the call's own
// arguments: code that is empty, a timeout_s that is not a positive finite
// number. Other refusals name the policy key, e.g. "limits.max_timeout_s".
const (
	RuleCode     = "code"
	RuleTimeoutS = "timeout_s"
)

// DecideExecute decides one execute_python call: code is its Python source
// and timeoutS its optional timeout in seconds (nil: the policy's default).
// When the call is allowed it returns the effective limits the backend must
// enforce; when refused, zero limits and a Verdict whose Rule is the policy
// key that decided (e.g. "limits.max_timeout_s", or RuleCode / RuleTimeoutS
// for a malformed argument) and whose Reason says, in one sentence for the
// model, why and how to retry.
//
// It is on the path of every call: an allowed call costs no allocation.
func (p *Policy) DecideExecute(code string, timeoutS *float64) (sandbox.Limits, netrules.Verdict) {
	l := &p.Limits
	if code == "" {
		return sandbox.Limits{}, netrules.Verdict{Rule: RuleCode,
			Reason: "code is empty; send the Python source to run."}
	}
	if len(code) > l.MaxCodeBytes {
		return sandbox.Limits{}, netrules.Verdict{Rule: "limits.max_code_bytes", Reason: fmt.Sprintf(
			"code is %d bytes (UTF-8), over the operator's limit of %d bytes (policy limits.max_code_bytes); shorten the code or split the work into several smaller calls.",
			len(code), l.MaxCodeBytes)}
	}
	timeout := l.DefaultTimeoutS
	if timeoutS != nil {
		t := *timeoutS
		switch {
		case math.IsNaN(t) || math.IsInf(t, 0):
			return sandbox.Limits{}, netrules.Verdict{Rule: RuleTimeoutS, Reason: fmt.Sprintf(
				"timeout_s must be a finite number of seconds; omit it for the default of %s s or give a value up to %s.",
				formatSeconds(l.DefaultTimeoutS), formatSeconds(l.MaxTimeoutS))}
		case t <= 0:
			return sandbox.Limits{}, netrules.Verdict{Rule: RuleTimeoutS, Reason: fmt.Sprintf(
				"timeout_s %s is not positive; omit it for the default of %s s or give a value greater than 0 and up to %s.",
				strconv.FormatFloat(t, 'g', -1, 64), formatSeconds(l.DefaultTimeoutS), formatSeconds(l.MaxTimeoutS))}
		case t > l.MaxTimeoutS:
			return sandbox.Limits{}, netrules.Verdict{Rule: "limits.max_timeout_s", Reason: fmt.Sprintf(
				"timeout_s %s exceeds the operator's maximum of %s s (policy limits.max_timeout_s); retry with timeout_s <= %s.",
				strconv.FormatFloat(t, 'g', -1, 64), formatSeconds(l.MaxTimeoutS), formatSeconds(l.MaxTimeoutS))}
		}
		timeout = t
	}
	return p.limits(timeout), netrules.Verdict{Allowed: true}
}

// DefaultLimits are the effective limits of a call that asks for nothing
// but the policy's defaults: what sandboxes built ahead of calls are
// prepared with.
func (p *Policy) DefaultLimits() sandbox.Limits { return p.limits(p.Limits.DefaultTimeoutS) }

// limits are the effective limits of a call with a timeout of timeout
// seconds.
func (p *Policy) limits(timeout float64) sandbox.Limits {
	l := &p.Limits
	return sandbox.Limits{
		Timeout:        seconds(timeout),
		MemoryBytes:    int64(l.MemoryMB) << 20,
		CPUTime:        time.Duration(l.CPUTimeS) * time.Second,
		MaxProcesses:   l.MaxProcesses,
		MaxOutputBytes: l.MaxOutputBytes,
		MaxFileBytes:   int64(l.MaxFileMB) << 20,
		MaxOpenFiles:   l.MaxOpenFiles,
	}
}

// seconds converts a positive number of seconds to a Duration, rounding to
// the nearest nanosecond but never to zero, which a backend could read as
// "no timeout".
func seconds(s float64) time.Duration {
	return max(time.Duration(math.Round(s*float64(time.Second))), 1)
}
