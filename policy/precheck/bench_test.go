package precheck

import (
	"os"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// snippet is a realistic script of about 200 lines: requests, f-strings,
// docstrings, comments, several URLs.
func snippet(tb testing.TB) string {
	b, err := os.ReadFile("testdata/snippet.py")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

var benchPolicy = policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{
	{Host: "pypi.org", Ports: []int{443}},
	{Host: "*.pythonhosted.org", Ports: []int{443}},
	{Host: "pypistats.org", Ports: []int{443}},
}}.Egress()

// TestSnippet: what the benchmark's snippet holds, decided.
func TestSnippet(t *testing.T) {
	r := Check(snippet(t), benchPolicy, nil)
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Host)
	}
	if strings.Join(got, " ") != "warehouse.pypa.io pypi.org pypistats.org example.com files.pythonhosted.org" {
		t.Errorf("findings %v", got)
	}
	if r.Denied == nil || r.Denied.Host != "warehouse.pypa.io" || r.Denied.Line != 3 || r.Refused != nil || r.NetworkUse != "import requests, line 20" {
		t.Errorf("Denied %+v, Refused %+v, network use %q", r.Denied, r.Refused, r.NetworkUse)
	}
}

func BenchmarkCheck(b *testing.B) {
	small := snippet(b)
	var big strings.Builder
	for big.Len() < 256<<10 {
		big.WriteString(small)
	}
	for _, bc := range []struct {
		name, code string
	}{{"snippet-200-lines", small}, {"256KiB", big.String()[:256<<10]}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.code)))
			b.ReportAllocs()
			for b.Loop() {
				Check(bc.code, benchPolicy, nil)
			}
		})
	}
}
