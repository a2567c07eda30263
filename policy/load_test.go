package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// with returns Default() changed by each f in turn.
func with(fs ...func(p *Policy)) *Policy {
	p := Default()
	for _, f := range fs {
		f(p)
	}
	return p
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             *Policy
	}{
		{"empty", "p.yaml", "", Default()},
		{"comments only", "p.yaml", "# nothing here\n\n", Default()},
		{"explicit empty document", "p.yaml", "---\n", Default()},
		{"empty JSON object", "p.json", "{}", Default()},
		{"partial YAML keeps defaults", "p.yaml", "limits:\n  memory_mb: 1024\n",
			with(func(p *Policy) { p.Limits.MemoryMB = 1024 })},
		{"empty sections keep defaults", "p.yaml", "limits: {}\nnetwork: {}\nbackend: {local: {}}\n", Default()},
		{"full YAML", "p.yaml", `# every key
$schema: ./schemas/policy.schema.json
version: 1
limits:
  default_timeout_s: 2.5
  max_timeout_s: 3600
  memory_mb: 2048
  cpu_time_s: 120
  max_processes: 8
  max_code_bytes: 1024
  max_output_bytes: 1024
  max_file_mb: 1
  max_open_files: 16
  max_concurrent: 256
network:
  allow_egress: true
  allow:
    - host: pypi.org
      ports: [443]
    - host: "*.pythonhosted.org"
    - cidr: 2001:db8::/32
      ports: [22, 5432]
sessions:
  enabled: false
  max_per_client: 2
  max_total: 5
  idle_ttl_s: 60
  max_lifetime_s: 600
  end_on_shutdown: true
files:
  max_in_mb: 1
  max_in_count: 3
  max_out_mb: 2
  max_out_count: 4
  max_inline_image_kb: 0
  ttl_s: 60
  max_mount_mb: 5
backend:
  local:
    python: /usr/bin/python3.12
    warm_sandboxes: 0
    mounts:
      - {host: /srv/sales, path: /data/sales}
      - host: /srv/scratch
        path: /mnt/scratch
        read_only: false
      - {host: /srv/ref, path: /data/ref, read_only: true}
  modal:
    app_name: my-app
    image: ghcr.io/example/py:3.13
    cpu: 2
    memory_mb: 1024
    timeout_s: 120
    environment: staging
    pool_size: 3
`, &Policy{
			Version: 1,
			Limits: Limits{DefaultTimeoutS: 2.5, MaxTimeoutS: 3600, MemoryMB: 2048, CPUTimeS: 120,
				MaxProcesses: 8, MaxCodeBytes: 1024, MaxOutputBytes: 1024, MaxFileMB: 1,
				MaxOpenFiles: 16, MaxConcurrent: 256, MaxQueued: 64, QueueTimeoutS: 30, CallsPerMinute: 120, CallBurst: 20},
			Network: Network{AllowEgress: true, Allow: []NetworkRule{
				{Host: "pypi.org", Ports: []int{443}},
				{Host: "*.pythonhosted.org"},
				{CIDR: "2001:db8::/32", Ports: []int{22, 5432}},
			}, Deny: []NetworkRule{}, OnUnenforceable: Refuse, MaxConnections: 64, MaxTransferMB: 256},
			Sessions: Sessions{Enabled: false, MaxPerClient: 2, MaxTotal: 5, IdleTTLS: 60, MaxLifetimeS: 600, EndOnShutdown: true},
			Files:    Files{MaxInMB: 1, MaxInCount: 3, MaxOutMB: 2, MaxOutCount: 4, MaxInlineImageKB: 0, TTLS: 60, MaxMountMB: 5},
			Backend: BackendSettings{
				Local: LocalSettings{Python: "/usr/bin/python3.12", Mounts: []Mount{
					{Host: "/srv/sales", Path: "/data/sales", ReadOnly: true},
					{Host: "/srv/scratch", Path: "/mnt/scratch", ReadOnly: false},
					{Host: "/srv/ref", Path: "/data/ref", ReadOnly: true},
				}},
				Modal: ModalSettings{AppName: "my-app", Image: "ghcr.io/example/py:3.13", CPU: 2, MemoryMB: 1024,
					TimeoutS: 120, Environment: "staging", PoolSize: 3, Apt: []string{}, Pip: []string{}},
			},
		}},
		{"egress without rules is valid (backends decide)", "p.yaml", "network:\n  allow_egress: true\n",
			with(func(p *Policy) { p.Network.AllowEgress = true })},
		{"modal section alone keeps the other modal defaults", "p.yaml", "backend:\n  modal:\n    pool_size: 2\n    cpu: 0.25\n",
			with(func(p *Policy) { p.Backend.Modal.PoolSize, p.Backend.Modal.CPU = 2, 0.25 })},
		{"JSON with $schema and tabs", "p.json", "{\n\t\"$schema\": \"https://example.invalid/policy.schema.json\",\n\t\"version\": 1,\n\t\"limits\": {\n\t\t\"max_timeout_s\": 60,\n\t\t\"default_timeout_s\": 60\n\t},\n\t\"network\": {\"allow_egress\": false}\n}\n",
			with(func(p *Policy) { p.Limits.MaxTimeoutS, p.Limits.DefaultTimeoutS = 60, 60 })},
		{"integer written as float", "p.yaml", "limits:\n  memory_mb: 1024.0\n  max_output_bytes: 1e6\n",
			with(func(p *Policy) { p.Limits.MemoryMB, p.Limits.MaxOutputBytes = 1024, 1000000 })},
		{"hex integer", "p.yaml", "limits:\n  max_code_bytes: 0x1000\n",
			with(func(p *Policy) { p.Limits.MaxCodeBytes = 4096 })},
		{"anchor without alias", "p.yaml", "limits: &l\n  max_concurrent: 1\n",
			with(func(p *Policy) { p.Limits.MaxConcurrent = 1 })},
		{"sessions section alone keeps the other session defaults", "p.yaml", "sessions:\n  max_per_client: 16\n",
			with(func(p *Policy) { p.Sessions.MaxPerClient = 16 })},
		{"files section alone keeps the other files defaults", "p.yaml", "files:\n  ttl_s: 60\n",
			with(func(p *Policy) { p.Files.TTLS = 60 })},
		{"a small scratch space with the default max_in_mb is valid", "p.yaml", "limits:\n  max_file_mb: 8\n",
			with(func(p *Policy) { p.Limits.MaxFileMB = 8 })},
		{"empty filename", "", "limits:\n  cpu_time_s: 5\n",
			with(func(p *Policy) { p.Limits.CPUTimeS = 5 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.data), tt.file)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name, data string
		// want is the exact error text when set; otherwise every one of
		// contains must occur in it.
		want     string
		contains []string
	}{
		{name: "unknown top-level key",
			data: "version: 1\nlimitz:\n  memory_mb: 64\n",
			want: "policy.yaml:2: /: additional properties 'limitz' not allowed"},
		{name: "unknown nested key",
			data: "limits:\n  cpu_time_s: 10\n  memory_mbb: 64\n",
			want: "policy.yaml:3: /limits: additional properties 'memory_mbb' not allowed"},
		{name: "wrong type",
			data: "limits:\n  memory_mb: \"lots\"\n",
			want: "policy.yaml:2: /limits/memory_mb: got string, want integer"},
		{name: "yes is a string, not a boolean",
			data: "network:\n  allow_egress: yes\n",
			want: "policy.yaml:2: /network/allow_egress: got string, want boolean"},
		{name: "below minimum",
			data: "limits:\n  memory_mb: 16\n",
			want: "policy.yaml:2: /limits/memory_mb: minimum: got 16, want 32"},
		{name: "fraction for an integer",
			data: "limits:\n  max_processes: 1.5\n",
			want: "policy.yaml:2: /limits/max_processes: got number, want integer"},
		{name: "zero timeout",
			data:     "limits:\n  default_timeout_s: 0\n",
			contains: []string{"policy.yaml:2: /limits/default_timeout_s: exclusiveMinimum: got 0, want > 0"}},
		{name: "above maximum",
			data: "# operator limits\n\nversion: 1\n\nlimits:\n  default_timeout_s: 30\n  max_timeout_s: 9000\n",
			// The number formatting (9000 or 9,000) is the schemas package's.
			contains: []string{"policy.yaml:7: /limits/max_timeout_s: maximum: got 9", "want 3"}},
		{name: "wrong version",
			data: "version: 2\n",
			want: "policy.yaml:1: /version: value must be 1"},
		{name: "root is a list",
			data: "- limits\n",
			want: "policy.yaml:1: /: got array, want object"},
		{name: "section is a scalar",
			data: "version: 1\nnetwork: off\n",
			want: "policy.yaml:2: /network: got string, want object"},
		{name: "several violations, in file order",
			data: "limits:\n  memory_mb: 16\n  max_concurrent: 0\nbogus: true\n",
			want: "policy.yaml:2: /limits/memory_mb: minimum: got 16, want 32\n" +
				"policy.yaml:3: /limits/max_concurrent: minimum: got 0, want 1\n" +
				"policy.yaml:4: /: additional properties 'bogus' not allowed"},
		{name: "duplicate key",
			data: "limits:\n  memory_mb: 64\n  cpu_time_s: 5\n  memory_mb: 128\n",
			want: "policy.yaml:4: /limits/memory_mb: duplicate key; first set on line 2"},
		{name: "duplicate section",
			data: "limits: {}\nnetwork: {}\nlimits: {}\n",
			want: "policy.yaml:3: /limits: duplicate key; first set on line 1"},
		{name: "YAML syntax error",
			data: "limits:\n  memory_mb: 64\n cpu_time_s: 5\n",
			// yaml.v3 names the line where the enclosing mapping's
			// trouble is detected, not always the bad line itself.
			want: "policy.yaml:2: YAML syntax error: did not find expected key"},
		{name: "YAML scanner error",
			data: "limits:\n  python: \"unterminated\n",
			want: "policy.yaml:2: YAML syntax error: found unexpected end of stream"},
		{name: "JSON syntax error",
			data:     "{\n  \"limits\": {\"memory_mb\": 64\n}\n",
			contains: []string{"policy.yaml:", ": YAML syntax error: "}},
		{name: "alias",
			data: "limits:\n  max_timeout_s: &t 60\n  default_timeout_s: *t\n",
			want: "policy.yaml:3: /limits/default_timeout_s: YAML aliases (*t) are not supported in a policy file; write the value out in full"},
		{name: "infinity",
			data: "limits:\n  max_timeout_s: .inf\n",
			want: "policy.yaml:2: /limits/max_timeout_s: got \".inf\", want a finite number"},
		{name: "two documents",
			data:     "limits: {}\n---\nnetwork: {}\n",
			contains: []string{"policy.yaml:", "one YAML document"}},
		{name: "default above max, both written",
			data: "limits:\n  max_timeout_s: 60\n  default_timeout_s: 90\n",
			want: "policy.yaml:3: /limits/default_timeout_s: default_timeout_s 90 is greater than max_timeout_s 60; lower default_timeout_s or raise max_timeout_s"},
		{name: "default above the default max",
			data: "limits:\n  default_timeout_s: 600\n",
			want: "policy.yaml:2: /limits/default_timeout_s: default_timeout_s 600 is greater than max_timeout_s 300 (the default); lower default_timeout_s or raise max_timeout_s"},
		{name: "max below the default default",
			data: "limits:\n  max_timeout_s: 10\n",
			want: "policy.yaml:2: /limits/max_timeout_s: default_timeout_s 30 (the default) is greater than max_timeout_s 10; lower default_timeout_s or raise max_timeout_s"},
		{name: "allow rules without egress",
			data: "network:\n  allow:\n    - host: pypi.org\n",
			want: "policy.yaml:2: /network/allow: network.allow lists destinations but network.allow_egress is false; set allow_egress: true to let sandboxed code reach them, or remove the rules"},
		{name: "rule with neither host nor cidr",
			data: "network:\n  allow_egress: true\n  allow:\n    - ports: [443]\n",
			want: "policy.yaml:4: /network/allow/0: a rule needs a host or a cidr"},
		{name: "rule with host and cidr",
			data: "network:\n  allow_egress: true\n  allow:\n    - {host: pypi.org, cidr: 10.0.0.0/8}\n",
			want: "policy.yaml:4: /network/allow/0: a rule has either a host or a cidr, not both; write two rules"},
		{name: "uppercase host",
			data:     "network:\n  allow_egress: true\n  allow:\n    - host: PyPI.org\n",
			contains: []string{"policy.yaml:4: /network/allow/0: host \"PyPI.org\" is not a hostname: use lowercase"}},
		{name: "single-label host",
			data:     "network:\n  allow_egress: true\n  allow:\n    - host: localhost\n",
			contains: []string{"/network/allow/0: host \"localhost\" is not a hostname", "at least two labels"}},
		{name: "bare wildcard",
			data:     "network:\n  allow_egress: true\n  allow:\n    - host: \"*\"\n",
			contains: []string{"/network/allow/0: host \"*\" is not a hostname"}},
		{name: "IP address as host",
			data: "network:\n  allow_egress: true\n  allow:\n    - host: 169.254.169.254\n",
			want: "policy.yaml:4: /network/allow/0: host \"169.254.169.254\" is an IP address; allow it with a cidr rule (169.254.169.254/32 or /128)"},
		{name: "malformed cidr",
			data: "network:\n  allow_egress: true\n  allow:\n    - cidr: 10.0.0.0/33\n",
			want: "policy.yaml:4: /network/allow/0: cidr \"10.0.0.0/33\" is not a CIDR block such as 203.0.113.0/24 or 2001:db8::/32"},
		{name: "cidr with host bits",
			data: "network:\n  allow_egress: true\n  allow:\n    - cidr: 203.0.113.7/24\n",
			want: "policy.yaml:4: /network/allow/0: cidr \"203.0.113.7/24\" has host bits set; write 203.0.113.0/24"},
		{name: "port out of range",
			data: "network:\n  allow_egress: true\n  allow:\n    - {host: pypi.org, ports: [0]}\n",
			want: "policy.yaml:4: /network/allow/0/ports/0: minimum: got 0, want 1"},
		{name: "unknown rule key",
			data: "network:\n  allow_egress: true\n  allow:\n    - {host: pypi.org, proto: tcp}\n",
			want: "policy.yaml:4: /network/allow/0: additional properties 'proto' not allowed"},
		{name: "zero modal cpu",
			data: "backend:\n  modal:\n    cpu: 0\n",
			want: "policy.yaml:3: /backend/modal/cpu: exclusiveMinimum: got 0, want > 0"},
		{name: "zero modal memory",
			data: "backend:\n  modal:\n    memory_mb: 0\n",
			want: "policy.yaml:3: /backend/modal/memory_mb: minimum: got 0, want 1"},
		{name: "negative modal lifetime",
			data: "backend:\n  modal:\n    timeout_s: -5\n",
			want: "policy.yaml:3: /backend/modal/timeout_s: minimum: got -5, want 1"},
		{name: "negative modal pool",
			data: "backend:\n  modal:\n    pool_size: -1\n",
			want: "policy.yaml:3: /backend/modal/pool_size: minimum: got -1, want 0"},
		{name: "unknown sessions key",
			data: "sessions:\n  idle_ttl: 60\n",
			want: "policy.yaml:2: /sessions: additional properties 'idle_ttl' not allowed"},
		{name: "zero idle expiry",
			data: "sessions:\n  idle_ttl_s: 0\n",
			want: "policy.yaml:2: /sessions/idle_ttl_s: minimum: got 0, want 1"},
		{name: "more sessions per client than in all",
			data: "sessions:\n  max_total: 2\n  max_per_client: 3\n",
			want: "policy.yaml:3: /sessions/max_per_client: sessions.max_per_client 3 is greater than sessions.max_total 2; lower max_per_client or raise max_total"},
		{name: "more sessions per client than the default total",
			data: "sessions:\n  max_per_client: 17\n",
			want: "policy.yaml:2: /sessions/max_per_client: sessions.max_per_client 17 is greater than sessions.max_total 16 (the default); lower max_per_client or raise max_total"},
		{name: "a total below the default per client",
			data: "sessions:\n  max_total: 3\n",
			want: "policy.yaml:2: /sessions/max_total: sessions.max_per_client 4 (the default) is greater than sessions.max_total 3; lower max_per_client or raise max_total"},
		{name: "unknown files key",
			data: "files:\n  max_in: 3\n",
			want: "policy.yaml:2: /files: additional properties 'max_in' not allowed"},
		{name: "zero files ttl",
			data: "files:\n  ttl_s: 0\n",
			want: "policy.yaml:2: /files/ttl_s: minimum: got 0, want 1"},
		{name: "inputs larger than the scratch space",
			data: "limits:\n  max_file_mb: 8\nfiles:\n  max_in_mb: 9\n",
			want: "policy.yaml:4: /files/max_in_mb: files.max_in_mb 9 is greater than limits.max_file_mb 8, the scratch space the files are written to; lower max_in_mb or raise max_file_mb"},
		{name: "inputs larger than the default scratch space",
			data: "files:\n  max_in_mb: 65\n",
			want: "policy.yaml:2: /files/max_in_mb: files.max_in_mb 65 is greater than limits.max_file_mb 64 (the default), the scratch space the files are written to; lower max_in_mb or raise max_file_mb"},
		{name: "mount without a path",
			data: "backend:\n  local:\n    mounts:\n      - {host: /srv/x}\n",
			want: "policy.yaml:4: /backend/local/mounts/0: missing property 'path'"},
		{name: "mount with an unknown key",
			data: "backend:\n  local:\n    mounts:\n      - {host: /srv/x, path: /data/x, ro: true}\n",
			want: "policy.yaml:4: /backend/local/mounts/0: additional properties 'ro' not allowed"},
		{name: "relative mount host",
			data: "backend:\n  local:\n    mounts:\n      - host: srv/x\n        path: /data/x\n",
			want: "policy.yaml:4: /backend/local/mounts/0/host: host \"srv/x\" is not an absolute path; write it from /"},
		{name: "unclean mount path",
			data: "backend:\n  local:\n    mounts:\n      - host: /srv/x\n        path: /data/../etc\n",
			want: "policy.yaml:5: /backend/local/mounts/0/path: path \"/data/../etc\" is not a clean path; write /etc"},
		{name: "mount over the system",
			data: "backend:\n  local:\n    mounts:\n      - {host: /srv/x, path: /usr/lib}\n",
			want: "policy.yaml:4: /backend/local/mounts/0/path: path \"/usr/lib\" is not under /data or /mnt; mount host directories at a path such as /data/lib"},
		{name: "mount over /data itself",
			data: "backend:\n  local:\n    mounts:\n      - {host: /srv/x, path: /data}\n",
			want: "policy.yaml:4: /backend/local/mounts/0/path: path \"/data\" is not under /data or /mnt; mount host directories at a path such as /data/data"},
		{name: "mount inside another",
			data: "backend:\n  local:\n    mounts:\n      - {host: /srv/x, path: /data/x}\n      - {host: /srv/y, path: /data/x/y}\n",
			want: "policy.yaml:5: /backend/local/mounts/1/path: path \"/data/x/y\" overlaps mounts[0] at \"/data/x\"; give each mount a path of its own, side by side"},
		{name: "empty modal image",
			data: "backend:\n  modal:\n    image: \"\"\n",
			want: "policy.yaml:3: /backend/modal/image: minLength: got 0, want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.data), "policy.yaml")
			if err == nil {
				t.Fatalf("Parse accepted the policy: %+v", p)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with its error: %+v", p)
			}
			var le *LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("error %T %q is not a *LoadError with problems", err, err)
			}
			if got := len(le.Problems); got != strings.Count(err.Error(), "\n")+1 {
				t.Errorf("%d problems but %d lines in %q", got, strings.Count(err.Error(), "\n")+1, err)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("error =\n%s\nwant\n%s", err, tt.want)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(good, []byte("limits:\n  max_concurrent: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(good)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if p.Limits.MaxConcurrent != 2 || p.Limits.MemoryMB != Default().Limits.MemoryMB {
		t.Errorf("Load = %+v, want max_concurrent 2 and default memory", p.Limits)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{\"limits\": {\"memory_mb\": 1}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+":1: /limits/memory_mb: minimum") {
		t.Errorf("Load(bad) error = %v, want it to start with %s:1: /limits/memory_mb: minimum", err, bad)
	}

	missing := filepath.Join(dir, "nope.yaml")
	_, err = Load(missing)
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want a not-exist error naming %s", err, missing)
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	tests := []struct {
		name string
		p    *Policy
		want string
	}{
		{"zero value", &Policy{}, "/limits/default_timeout_s: exclusiveMinimum"},
		{"memory", with(func(p *Policy) { p.Limits.MemoryMB = 1 }), "/limits/memory_mb: minimum: got 1, want 32"},
		{"timeouts", with(func(p *Policy) { p.Limits.MaxTimeoutS = 5 }), "/limits/default_timeout_s: default_timeout_s 30 is greater than max_timeout_s 5"},
		{"rule", with(func(p *Policy) {
			p.Network.AllowEgress = true
			p.Network.Allow = []NetworkRule{{Host: "pypi.org"}, {CIDR: "10.1.0.0/8"}}
		}), "/network/allow/1: cidr \"10.1.0.0/8\" has host bits set; write 10.0.0.0/8"},
		{"modal cpu", with(func(p *Policy) { p.Backend.Modal.CPU = -1 }), "/backend/modal/cpu: exclusiveMinimum: got -1, want > 0"},
		{"inputs over the scratch space", with(func(p *Policy) { p.Limits.MaxFileMB = 4 }), "/files/max_in_mb: files.max_in_mb 16 is greater than limits.max_file_mb 4"},
		{"mount path", with(func(p *Policy) { p.Backend.Local.Mounts = []Mount{{Host: "/srv", Path: "/etc/x"}} }), "/backend/local/mounts/0/path: path \"/etc/x\" is not under /data or /mnt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Validate() = %v, want a *LoadError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}
