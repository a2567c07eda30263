package modal

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// sdkModule is the Modal SDK's module path; sdkVersionPinned is the version
// go.mod pins, reported when the binary carries no build information.
const (
	sdkModule        = "github.com/modal-labs/modal-client/go"
	sdkVersionPinned = "v0.11.1"
)

// SDKVersion is the version of the Modal Go SDK linked into this binary.
func SDKVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == sdkModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return sdkVersionPinned
}

// Check is one line of `airlock-mcp doctor --backend modal`.
type Check struct {
	Name string
	// OK is false for a check that stops the backend from running.
	OK bool
	// Warn marks a setting that works but costs more than it should.
	Warn   bool
	Detail string
}

// modalCreateP99 is how long creating a Modal sandbox takes at the 99th
// percentile (22 s in an independent benchmark).
const modalCreateP99 = 22 * time.Second

// Diagnose reports, without any network call, whether the backend is
// configured to run: whether credentials are found (and where, never what),
// and what it would create. ok is false when it cannot run; whether Modal
// accepts the credentials is only known at the first call.
func Diagnose(opts Options) (checks []Check, ok bool) {
	ok = true
	add := func(name string, good bool, format string, args ...any) {
		checks = append(checks, Check{Name: name, OK: good, Detail: fmt.Sprintf(format, args...)})
		ok = ok && good
	}
	if err := opts.validate(); err != nil {
		add("options", false, "%v", err)
	}
	creds, err := FindCredentials()
	if err != nil {
		add("credentials", false, "%v", err)
	} else {
		add("credentials", true, "found in %s (Modal checks them at the first call)", creds.Source)
		add("server", true, "%s", creds.ServerURL)
	}
	add("sdk", true, "%s %s", sdkModule, SDKVersion())
	env := opts.Environment
	if env == "" {
		env = "the profile's default"
	}
	add("app", true, "%s (environment: %s; created if missing)", opts.AppName, env)
	add("image", true, "%s (built once, at the first connection)", opts.ImageDefinition())
	add("resources", true, "per sandbox: %g CPU requested, %d MiB requested, hard memory cap from limits.memory_mb; lifetime %g s beyond each call's timeout",
		opts.CPU, opts.MemoryMiB, opts.Lifetime.Seconds())
	add("network", true, "%s", opts.Network)
	if opts.PoolSize > 0 {
		add("pool", true, "%d sandbox(es) kept ready (billed while idle; each replaced after about %g s idle, counted from when it is ready)", opts.PoolSize, opts.Lifetime.Seconds())
		if modalCreateP99 > opts.Lifetime/2 {
			c := &checks[len(checks)-1]
			c.Warn = true
			c.Detail += fmt.Sprintf("; creating a Modal sandbox takes up to about %g s (p99), more than half of backend.modal.timeout_s (%g s), so the pool may spend its time replacing sandboxes: raise timeout_s to %g or more",
				modalCreateP99.Seconds(), opts.Lifetime.Seconds(), 2*modalCreateP99.Seconds())
		}
	} else {
		add("pool", true, "off: each call creates its sandbox (seconds on Modal)")
	}
	add("sessions", true, "%s", sessionsDetail(opts))
	return checks, ok
}

// sessionsDetail says what a session costs on Modal and when Modal ends
// one by itself.
func sessionsDetail(opts Options) string {
	idle := "never while it lives (no idle timeout)"
	if opts.SessionIdleTimeout > 0 {
		idle = fmt.Sprintf("after %g s without a call (sessions.idle_ttl_s)", opts.SessionIdleTimeout.Seconds())
	}
	lifetime := "300 s (Modal's default)"
	if opts.SessionLifetime > 0 {
		lifetime = fmt.Sprintf("%g s (sessions.max_lifetime_s)", opts.SessionLifetime.Seconds())
	}
	return fmt.Sprintf("each session is a Modal sandbox of its own with the resources above, billed while it lives, idle or not; "+
		"Modal ends it %s, or at a lifetime of %s, even with no server left; a restarted server (or a replica on the same App) finds it by its tags and continues it",
		idle, lifetime)
}

// String formats c as one line for a log.
func (c Check) String() string {
	state := "ok"
	switch {
	case !c.OK:
		state = "FAILED"
	case c.Warn:
		state = "warn"
	}
	return strings.Join([]string{state, c.Name, c.Detail}, "\t")
}
