package tools_test

import (
	"encoding/json"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestInputSchemaCarriesPolicyLimits checks that the policy's limits are
// filled into the published input schema, for the default and a custom policy.
func TestInputSchemaCarriesPolicyLimits(t *testing.T) {
	custom := policy.Default()
	custom.Limits.MaxCodeBytes = 1000
	custom.Limits.MaxTimeoutS = 60
	custom.Limits.DefaultTimeoutS = 2.5

	for name, p := range map[string]*policy.Policy{"default": policy.Default(), "custom": custom} {
		t.Run(name, func(t *testing.T) {
			tool, err := tools.ExecutePython(p, &sandboxtest.Backend{}, tools.Sessions{}, nil, zap.NewNop())
			if err != nil {
				t.Fatalf("ExecutePython: %v", err)
			}
			var s struct {
				AdditionalProperties *bool    `json:"additionalProperties"`
				Required             []string `json:"required"`
				Properties           struct {
					Code struct {
						MaxLength int `json:"maxLength"`
					} `json:"code"`
					TimeoutS struct {
						Maximum float64 `json:"maximum"`
						Default float64 `json:"default"`
					} `json:"timeout_s"`
				} `json:"properties"`
			}
			if err := json.Unmarshal(tool.Definition.RawInputSchema, &s); err != nil {
				t.Fatalf("parse input schema: %v", err)
			}
			if got, want := s.Properties.Code.MaxLength, p.Limits.MaxCodeBytes; got != want {
				t.Errorf("code.maxLength = %d, want %d", got, want)
			}
			if got, want := s.Properties.TimeoutS.Maximum, p.Limits.MaxTimeoutS; got != want {
				t.Errorf("timeout_s.maximum = %v, want %v", got, want)
			}
			if got, want := s.Properties.TimeoutS.Default, p.Limits.DefaultTimeoutS; got != want {
				t.Errorf("timeout_s.default = %v, want %v", got, want)
			}
			if s.AdditionalProperties == nil || *s.AdditionalProperties {
				t.Error("additionalProperties is not false")
			}
			if len(s.Required) != 1 || s.Required[0] != "code" {
				t.Errorf("required = %v, want [code]", s.Required)
			}
			// The compiled schema enforces the derived limits, not just shows them.
			over := map[string]any{"code": "x", "timeout_s": p.Limits.MaxTimeoutS + 1}
			if err := validate(tool.Input, over); err == nil {
				t.Error("compiled input schema accepted a timeout over the maximum")
			}
		})
	}
}
