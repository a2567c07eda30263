package modal

import (
	"fmt"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Name is the backend's name in results and on the command line.
const Name = policy.BackendModal

// Options configure the Modal backend. OptionsFromPolicy fills them from a
// policy; New validates them.
type Options struct {
	// AppName is the Modal App the sandboxes belong to (created if missing).
	AppName string
	// Image is the registry reference of the image every sandbox runs.
	Image string
	// CPU is each sandbox's CPU request, in physical cores.
	CPU float64
	// MemoryMiB is each sandbox's memory request; the hard cap is the
	// call's Limits.MemoryBytes.
	MemoryMiB int
	// Lifetime is how long a sandbox may live besides its call's timeout,
	// in whole seconds: Modal terminates a sandbox Lifetime plus the call's
	// timeout after creating it (a pooled one, Lifetime plus MaxTimeout),
	// whatever happens to this server; a pooled sandbox idle for about
	// Lifetime is replaced.
	Lifetime time.Duration
	// Environment is the Modal environment; "" is the profile's.
	Environment string
	// PoolSize is how many sandboxes to keep created, with the harness
	// started and waiting for code, ahead of calls. 0 creates each sandbox
	// on demand.
	PoolSize int
	// PoolLimits are the limits pooled sandboxes are prepared with (the
	// policy's, for its default timeout); a call whose limits differ, its
	// timeout aside, gets a sandbox of its own.
	PoolLimits sandbox.Limits
	// MaxTimeout is the longest timeout a call may ask for; pooled
	// sandboxes are created to live long enough for it.
	MaxTimeout time.Duration
	// Network is the network access every sandbox gets.
	Network Network
	// Instance identifies this server instance in its sandboxes' tags;
	// "" picks a random identifier.
	Instance string
	// Logger receives the backend's own warnings (and the SDK's); nil
	// discards them. Credentials never reach it.
	Logger *zap.Logger

	// clock is the backend's time source (call timeouts, the pool's
	// schedule); nil is the real one. Tests set it.
	clock clock
}

// OptionsFromPolicy builds the backend's options from p, after checking
// that the Modal backend can honour p (policy.CheckBackend): a rule Modal
// cannot enforce is an error naming it, never an approximation, unless the
// policy declares such rules advisory (network.on_unenforceable).
func OptionsFromPolicy(p *policy.Policy) (Options, error) {
	if err := p.CheckBackend(Name); err != nil {
		return Options{}, fmt.Errorf("the policy cannot be enforced on the Modal backend:\n%w", err)
	}
	network := NetworkFor(p.Network)
	limits, d := p.DecideExecute("pass", nil)
	if !d.Allowed {
		return Options{}, fmt.Errorf("modal: the policy refuses a trivial call: %s", d.Reason)
	}
	m := p.Backend.Modal
	return Options{
		AppName:     m.AppName,
		Image:       m.Image,
		CPU:         m.CPU,
		MemoryMiB:   m.MemoryMB,
		Lifetime:    time.Duration(m.TimeoutS) * time.Second,
		Environment: m.Environment,
		PoolSize:    m.PoolSize,
		PoolLimits:  limits,
		MaxTimeout:  time.Duration(math.Ceil(p.Limits.MaxTimeoutS)) * time.Second,
		Network:     network,
	}, nil
}

// validate checks o, naming the policy key of each bad value.
func (o Options) validate() error {
	switch {
	case o.AppName == "":
		return fmt.Errorf("modal: app_name must not be empty (policy backend.modal.app_name)")
	case o.Image == "":
		return fmt.Errorf("modal: image must not be empty (policy backend.modal.image)")
	case !(o.CPU > 0) || math.IsInf(o.CPU, 0):
		return fmt.Errorf("modal: cpu must be greater than 0, got %v (policy backend.modal.cpu)", o.CPU)
	case o.MemoryMiB <= 0:
		return fmt.Errorf("modal: memory_mb must be greater than 0, got %d (policy backend.modal.memory_mb)", o.MemoryMiB)
	case o.Lifetime < time.Second || o.Lifetime%time.Second != 0:
		return fmt.Errorf("modal: timeout_s must be a whole number of seconds greater than 0, got %v (policy backend.modal.timeout_s)", o.Lifetime)
	case o.PoolSize < 0:
		return fmt.Errorf("modal: pool_size must not be negative, got %d (policy backend.modal.pool_size)", o.PoolSize)
	case o.MaxTimeout <= 0:
		return fmt.Errorf("modal: the longest call timeout must be greater than 0, got %v (policy limits.max_timeout_s)", o.MaxTimeout)
	case o.PoolSize > 0:
		if err := validateLimits(o.PoolLimits); err != nil {
			return fmt.Errorf("modal: pool limits: %w", err)
		}
	}
	return o.Network.validate()
}

// validateLimits checks the limits of one call.
func validateLimits(l sandbox.Limits) error {
	if l.Timeout <= 0 || l.MemoryBytes <= 0 || l.CPUTime <= 0 || l.MaxOutputBytes <= 0 ||
		l.MaxFileBytes <= 0 || l.MaxOpenFiles <= 0 {
		return fmt.Errorf("modal sandbox: every limit must be positive, got %+v", l)
	}
	return nil
}

// wholeSeconds rounds d up to whole seconds, at least one: Modal takes
// timeouts in seconds.
func wholeSeconds(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// memoryMiB is a byte count in MiB, rounded up.
func memoryMiB(bytes int64) int {
	return int((bytes + 1<<20 - 1) >> 20)
}
