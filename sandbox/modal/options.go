package modal

import (
	"fmt"
	"math"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Name is the backend's name in results and on the command line.
const Name = "modal"

// Options configure the Modal backend; New validates them. The server
// fills them from the policy, whose keys the messages name.
type Options struct {
	// AppName is the Modal App the sandboxes belong to (created if missing).
	AppName string
	// Image is the registry reference of the image every sandbox runs. It
	// must provide python3 (3.8+); for figures also matplotlib and PIL,
	// which the default python:3.12-slim lacks (see the package
	// documentation).
	Image string
	// Apt and Pip are Debian packages and Python requirements installed
	// into Image as layers (see ImageCommands), built once per server.
	Apt []string
	Pip []string
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
	// DefaultLimits are the limits of a call that asks for nothing but the
	// policy's defaults: pooled sandboxes are prepared with them (a call
	// whose limits differ, its timeout aside, gets a sandbox of its own),
	// and MemoryMiB may not exceed their memory cap.
	DefaultLimits sandbox.Limits
	// MaxConcurrent is how many calls run at once (the concurrency limit
	// the backend is wrapped in); PoolSize may not exceed it. 0 means no
	// limit.
	MaxConcurrent int
	// MaxTimeout is the longest timeout a call may ask for; pooled
	// sandboxes are created to live long enough for it.
	MaxTimeout time.Duration
	// Network is the network access every sandbox gets.
	Network Network
	// SessionIdleTimeout and SessionLifetime are Modal's own limits on a
	// session's sandbox (its IdleTimeout and Timeout, whole seconds; policy
	// sessions.idle_ttl_s and sessions.max_lifetime_s): Modal ends a session
	// idle that long (no call running), or that old, even when no server is
	// left to end it. 0 means Modal's defaults (no idle timeout; a lifetime
	// of 300 s), which the server never asks for.
	SessionIdleTimeout, SessionLifetime time.Duration
	// SessionInterruptGrace is how long a session's interpreter has, after
	// the interrupt at a call's timeout or cancellation, to regain control
	// and report before its sandbox is terminated; 0 means
	// sandbox.DefaultSessionInterruptGrace.
	SessionInterruptGrace time.Duration
	// Mounts are host directories copied into every sandbox before the
	// code runs (see Mount); New refuses them when their files exceed
	// MaxMountBytes in all, naming the bound.
	Mounts        []Mount
	MaxMountBytes int64
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

// validate checks o, naming the policy key of each bad value.
func (o Options) validate() error {
	switch {
	case o.AppName == "":
		return fmt.Errorf("modal: app_name must not be empty (policy backend.modal.app_name)")
	case o.Image == "":
		return fmt.Errorf("modal: image must not be empty (policy backend.modal.image)")
	case o.validateImageLayers() != nil:
		return o.validateImageLayers()
	case !(o.CPU > 0) || math.IsInf(o.CPU, 0):
		return fmt.Errorf("modal: cpu must be greater than 0, got %v (policy backend.modal.cpu)", o.CPU)
	case o.CPU < minCPU:
		return checkCPU(o.CPU)
	case o.MemoryMiB <= 0:
		return fmt.Errorf("modal: memory_mb must be greater than 0, got %d (policy backend.modal.memory_mb)", o.MemoryMiB)
	case o.Lifetime < time.Second || o.Lifetime%time.Second != 0:
		return fmt.Errorf("modal: timeout_s must be a whole number of seconds greater than 0, got %v (policy backend.modal.timeout_s)", o.Lifetime)
	case o.PoolSize < 0:
		return fmt.Errorf("modal: pool_size must not be negative, got %d (policy backend.modal.pool_size)", o.PoolSize)
	case o.SessionIdleTimeout < 0 || o.SessionIdleTimeout%time.Second != 0:
		return fmt.Errorf("modal: idle_ttl_s must be a whole number of seconds, not negative, got %v (policy sessions.idle_ttl_s)", o.SessionIdleTimeout)
	case o.SessionLifetime < 0 || o.SessionLifetime%time.Second != 0:
		return fmt.Errorf("modal: max_lifetime_s must be a whole number of seconds, not negative, got %v (policy sessions.max_lifetime_s)", o.SessionLifetime)
	case o.SessionInterruptGrace < 0:
		return fmt.Errorf("modal: the session interrupt grace must not be negative, got %v", o.SessionInterruptGrace)
	case o.MaxTimeout <= 0:
		return fmt.Errorf("modal: the longest call timeout must be greater than 0, got %v (policy limits.max_timeout_s)", o.MaxTimeout)
	}
	if err := o.DefaultLimits.Validate(); err != nil {
		return fmt.Errorf("modal: default limits: %w", err)
	}
	if probs := o.Problems(); len(probs) > 0 {
		key := strings.ReplaceAll(strings.TrimPrefix(probs[0].Pointer, "/"), "/", ".")
		return fmt.Errorf("modal: %s (policy %s)", probs[0].Message, key)
	}
	return o.Network.validate()
}

// Problem is a setting the Modal backend will not run with, named by the
// policy key it comes from.
type Problem struct {
	// Pointer is the policy key, as a JSON pointer
	// ("/backend/modal/memory_mb").
	Pointer string
	// Message says what is wrong and what to change.
	Message string
}

// Problems lists the settings of o that do not fit its limits: a memory
// request above every call's memory cap, and more pooled sandboxes than
// calls can run at once, which would only cost money. o's other fields are
// validated by New.
func (o Options) Problems() []Problem {
	var out []Problem
	if capMiB := o.DefaultLimits.MemoryBytes >> 20; int64(o.MemoryMiB) > capMiB {
		out = append(out, Problem{Pointer: "/backend/modal/memory_mb", Message: fmt.Sprintf(
			"memory_mb %d (the memory Modal reserves for each sandbox) is greater than limits.memory_mb %d (each sandbox's hard cap); lower backend.modal.memory_mb or raise limits.memory_mb",
			o.MemoryMiB, capMiB)})
	}
	if o.MaxConcurrent > 0 && o.PoolSize > o.MaxConcurrent {
		out = append(out, Problem{Pointer: "/backend/modal/pool_size", Message: fmt.Sprintf(
			"pool_size %d is greater than limits.max_concurrent %d: at most %d calls run at once, so the extra idle sandboxes would only cost money; lower backend.modal.pool_size",
			o.PoolSize, o.MaxConcurrent, o.MaxConcurrent)})
	}
	if o.SessionLifetime > maxSandboxLifetime {
		out = append(out, Problem{Pointer: "/sessions/max_lifetime_s", Message: fmt.Sprintf(
			"max_lifetime_s %d is longer than Modal lets a sandbox live (%d s); lower sessions.max_lifetime_s",
			int(o.SessionLifetime/time.Second), int(maxSandboxLifetime/time.Second))})
	}
	return out
}

// maxSandboxLifetime is the longest lifetime Modal gives a sandbox.
const maxSandboxLifetime = 24 * time.Hour

// wholeSeconds rounds d up to whole seconds, at least one: Modal takes
// timeouts in seconds.
func wholeSeconds(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// memoryMiB is a byte count in MiB, rounded up.
func memoryMiB(bytes int64) int {
	return int((bytes + 1<<20 - 1) >> 20)
}
