package policy

import (
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	got := Default().Describe()
	for _, want := range []string{
		"timeout: 30 s by default, 300 s at most\n",
		"memory 512 MiB", "CPU 60 s", "64 processes", "256 open files", "files and scratch 64 MiB",
		"code up to 256 KiB", "output up to 64 KiB per stream", "4 calls at once",
		"network: none\n",
		"python: auto",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe() =\n%s\nlacks %q", got, want)
		}
	}
	p := with(func(p *Policy) {
		p.Limits.MemoryMB, p.Limits.MaxOutputBytes, p.Limits.DefaultTimeoutS = 2048, 1500, 0.5
		p.Backend.Local.Python = "/opt/py/bin/python3"
	})
	got = p.Describe()
	for _, want := range []string{"memory 2 GiB", "output up to 1500 B", "0.5 s by default", "python: /opt/py/bin/python3"} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe() =\n%s\nlacks %q", got, want)
		}
	}
}

func TestSHA256(t *testing.T) {
	def := Default().SHA256()
	if len(def) != 64 || strings.Trim(def, "0123456789abcdef") != "" {
		t.Fatalf("SHA256() = %q, want 64 hex digits", def)
	}
	// A file that spells out some defaults is the same effective policy.
	p, err := Parse([]byte("# same as default\nversion: 1\nlimits:\n  memory_mb: 512\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.SHA256(); got != def {
		t.Errorf("equivalent policy hashes to %s, default to %s", got, def)
	}
	changed := with(func(p *Policy) { p.Limits.MaxOpenFiles++ })
	if changed.SHA256() == def {
		t.Error("a changed limit does not change SHA256()")
	}
}
