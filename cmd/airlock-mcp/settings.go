package main

import (
	"strconv"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
)

// summary is the policy's summary as backend applies it: the limits in
// the backend's words, then the backend's settings from the policy file.
func summary(p *policy.Policy, backend string) string {
	switch backend {
	case modal.Name:
		return p.Describe(modal.Capabilities{}.Limits(p.DefaultLimits())) + modalSettingsLine(p) + "\n"
	default:
		return p.Describe(local.Capabilities{}.Limits(p.DefaultLimits())) + localSettingsLine(p) + "\n"
	}
}

// localSettingsLine states backend.local: the interpreter and the warm
// sandboxes.
func localSettingsLine(p *policy.Policy) string {
	python := p.Backend.Local.Python
	if python == "" {
		python = local.DefaultPython + " (the default)"
	}
	return "python: " + python + "; " + strconv.Itoa(p.Backend.Local.WarmSandboxes) + " warm sandbox(es)"
}

// modalSettingsLine states backend.modal: the App, environment, image,
// resources, lifetime and pool.
func modalSettingsLine(p *policy.Policy) string {
	m := p.Backend.Modal
	env := "the profile's"
	if m.Environment != "" {
		env = strconv.Quote(m.Environment)
	}
	pool := "off (each call creates its sandbox)"
	if m.PoolSize > 0 {
		pool = strconv.Itoa(m.PoolSize) + " sandbox(es) kept ready (billed while idle)"
	}
	return "modal: app " + m.AppName + " (environment: " + env + "), image " + modal.Options{Image: m.Image, Apt: m.Apt, Pip: m.Pip}.ImageDefinition() + "; each sandbox requests " +
		strconv.FormatFloat(m.CPU, 'g', -1, 64) + " CPU and " + sandbox.FormatMiB(int64(m.MemoryMB)<<20) + " and lives " +
		strconv.Itoa(m.TimeoutS) + " s beyond its call's timeout; pool: " + pool
}
