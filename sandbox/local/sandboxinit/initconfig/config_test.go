package initconfig

import (
	"reflect"
	"strings"
	"testing"
)

// TestDecodeChecksTheDescriptors: the helper takes its descriptors from
// the configuration, so it refuses one that leaves a descriptor unnamed,
// names one among stdio or twice, names both an envelope (a sandbox for one
// call) and a control socket (a session's) or neither, or gives a proxy
// port without a proxy channel or the reverse; it accepts any distinct
// numbers past stdio.
// Every refusal starts with the package's name, once.
func TestDecodeChecksTheDescriptors(t *testing.T) {
	valid := func() Config {
		return Config{Rootless: true, Python: "/usr/bin/python3", Argv: []string{"python3"},
			EnvelopeFD: 3, SetupStatusFD: 4, CodeStderrFD: 5}
	}
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // "" = accepted
	}{
		{"in the parent's order", func(*Config) {}, ""},
		{"in another order, with a proxy", func(c *Config) {
			c.EnvelopeFD, c.SetupStatusFD, c.CodeStderrFD, c.ProxyChannelFD, c.ProxyPort = 6, 3, 9, 4, 8888
		}, ""},
		{"a session's control socket instead of the envelope", func(c *Config) { c.EnvelopeFD, c.ControlFD = 0, 6 }, ""},
		{"envelope unnamed", func(c *Config) { c.EnvelopeFD = 0 }, "envelope descriptor 0 and control descriptor 0: exactly one is set"},
		{"envelope and control both", func(c *Config) { c.ControlFD = 6 }, "envelope descriptor 3 and control descriptor 6: exactly one is set"},
		{"envelope negative", func(c *Config) { c.EnvelopeFD = -1 }, "descriptor -1 for the envelope: want 3 or more"},
		{"control on stdout", func(c *Config) { c.EnvelopeFD, c.ControlFD = 0, 1 }, "descriptor 1 for the control"},
		{"control on the status pipe", func(c *Config) { c.EnvelopeFD, c.ControlFD = 0, 4 }, "descriptor 4 for both the setup status and the control"},
		{"status on stderr", func(c *Config) { c.SetupStatusFD = 2 }, "descriptor 2 for the setup status"},
		{"named twice", func(c *Config) { c.CodeStderrFD = 3 }, "descriptor 3 for both the code stderr and the envelope"},
		{"proxy port without channel", func(c *Config) { c.ProxyPort = 8888 }, "proxy port 8888 but proxy channel descriptor 0"},
		{"proxy channel without port", func(c *Config) { c.ProxyChannelFD = 6 }, "proxy port 0 but proxy channel descriptor 6"},
		{"proxy channel on the envelope", func(c *Config) { c.ProxyPort, c.ProxyChannelFD = 8888, 3 }, "descriptor 3 for both the envelope and the proxy channel"},
		{"no interpreter", func(c *Config) { c.Argv = nil }, "names no interpreter"},
		{"host root", func(c *Config) { c.Rootless = false }, "would run code as host root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.modify(&c)
			raw, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(raw)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Decode refused %+v: %v", c, err)
			case tt.want == "" && !reflect.DeepEqual(*got, c):
				t.Errorf("Decode = %+v, want %+v", got, c)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Decode = %v, want an error saying %q", err, tt.want)
			case tt.want != "" && (!strings.HasPrefix(err.Error(), "initconfig: ") || strings.Count(err.Error(), "initconfig") != 1):
				t.Errorf("Decode = %v, want it to start with \"initconfig: \", once", err)
			}
		})
	}
	if _, err := Decode(""); err == nil || err.Error() != "initconfig: "+ConfigEnv+" is not set" {
		t.Errorf("Decode of nothing = %v, want initconfig: %s is not set", err, ConfigEnv)
	}
}
