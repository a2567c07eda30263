package precheck

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// found renders what Check finds in code as "host port line source".
func found(code string) []string {
	var out []string
	for _, f := range Check(code, policy.Network{AllowEgress: true}.Egress(), nil).Findings {
		out = append(out, fmt.Sprintf("%s %d %d %s", f.Host, f.Port, f.Line, f.Source))
	}
	return out
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		code string
		want []string
	}{
		// URLs and ports
		{"https default port", `u = "https://pypi.org/simple/numpy/"`, []string{"pypi.org 443 1 https://pypi.org/simple/numpy/"}},
		{"explicit port", `u = "https://evil.test:8443/x?y=1#z"`, []string{"evil.test 8443 1 https://evil.test:8443/x?y=1#z"}},
		{"scheme defaults", `["http://a.test", "ws://b.test/s", "wss://c.test", "ftp://d.test/f", "redis://e.test", "HTTP://f.test"]`,
			[]string{"a.test 80 1 http://a.test", "b.test 80 1 ws://b.test/s", "c.test 443 1 wss://c.test", "d.test 21 1 ftp://d.test/f", "e.test 0 1 redis://e.test", "f.test 80 1 HTTP://f.test"}},
		{"uppercase host normalized", `u = "HTTPS://EVIL.TEST./X"`, []string{"evil.test 443 1 HTTPS://EVIL.TEST./X"}},
		{"empty port is the default", `"http://evil.test:/"`, []string{"evil.test 80 1 http://evil.test:/"}},
		{"bad port is unknown", `"http://evil.test:99999/" "  http://other.test:8o/"`, []string{"evil.test 0 1 http://evil.test:99999/", "other.test 0 1 http://other.test:8o/"}},
		{"no scheme before ://", `"://evil.test/x"`, []string{"evil.test 0 1 ://evil.test/x"}},
		// userinfo
		{"userinfo trick", `"http://pypi.org@evil.test/"`, []string{"evil.test 80 1 http://pypi.org@evil.test/"}},
		{"userinfo with colon and at", `"https://u:p@ss@pypi.org:444@evil.test:81/"`, []string{"evil.test 81 1 https://u:p@ss@pypi.org:444@evil.test:81/"}},
		// IP addresses
		{"IPv6 in brackets", `"http://[::1]:8080/"`, []string{"::1 8080 1 http://[::1]:8080/"}},
		{"IPv4-mapped IPv6", `"http://[::ffff:127.0.0.1]/"`, []string{"127.0.0.1 80 1 http://[::ffff:127.0.0.1]/"}},
		{"IPv6 zone", `"http://[fe80::1%25eth0]:99/"`, []string{"fe80::1 99 1 http://[fe80::1%25eth0]:99/"}},
		{"IPv4", `"http://169.254.169.254/latest/meta-data"`, []string{"169.254.169.254 80 1 http://169.254.169.254/latest/meta-data"}},
		{"inet_aton decimal", `"http://2130706433/"`, []string{"127.0.0.1 80 1 http://2130706433/"}},
		{"inet_aton hex and short", `["http://0x7f.1:81/", "http://127.1:82", "http://0177.0.0.1:83", "http://0xA9FEA9FE/"]`,
			[]string{"127.0.0.1 81 1 http://0x7f.1:81/", "127.0.0.1 82 1 http://127.1:82", "127.0.0.1 83 1 http://0177.0.0.1:83", "169.254.169.254 80 1 http://0xA9FEA9FE/"}},
		{"not addresses", `["http://1.2.3.4.5/", "http://256.1.1.1/", "http://08.1/", "http://0x/"]`, nil},
		{"percent-encoded host decoded", `"http://ev%69l.test/"`, []string{"evil.test 80 1 http://ev%69l.test/"}},
		// hosts not known before the code runs
		{"templates", `["https://{host}/api", "http://%s:%d/" % (h, p), "http://<host>:<port>/", "https://" + host, "http://%zz/"]`, nil},
		{"f-string host", `f"https://{h}/x" f"https://api.{d}/"`, nil},
		{"f-string port", `f"https://evil.test:{p}/{path}"`, []string{"evil.test 0 1 https://evil.test:{…}/{…}"}},
		{"single-label host", `"http://intranet/x" "  scheme://host:port/path"`, nil},
		{"localhost", `"http://localhost:8000/"`, []string{"localhost 8000 1 http://localhost:8000/"}},
		// URLs in text
		{"URL inside a URL", `"https://web.archive.org/web/2020/https://evil.test/"`, []string{"web.archive.org 443 1 https://web.archive.org/web/2020/https://evil.test/"}},
		{"URL in prose", `"see the docs (https://evil.test)."`, []string{"evil.test 443 1 https://evil.test"}},
		{"URLs on their lines", "x = 1\ndoc = '''\nfetch http://a.test/x then\n  https://b.test:8443/y\n'''",
			[]string{"a.test 80 3 http://a.test/x", "b.test 8443 4 https://b.test:8443/y"}},
		{"escaped newline is not a line", `"a\nhttps://evil.test"`, []string{"evil.test 443 1 https://evil.test"}},
		{"implicit concatenation", "u = ('https://'\n     'evil.test/x')", []string{"evil.test 443 1 https://evil.test/x"}},
		{"bytes literal", `b"http://evil.test/"`, []string{"evil.test 80 1 http://evil.test/"}},
		{"comment only", "# see https://evil.test/\nx = 1  # 'http://other.test'", nil},
		// whole literals
		{"bare hostname", `h = "evil.test"`, []string{"evil.test 0 1 evil.test"}},
		{"bare hostname with port", `h = "api.example.com:8443"`, []string{"api.example.com 8443 1 api.example.com:8443"}},
		{"bare trailing dot and case", `h = " EVIL.TEST. "`, []string{"evil.test 0 1 EVIL.TEST."}},
		{"bare localhost", `["localhost", "localhost:6379"]`, []string{"localhost 0 1 localhost", "localhost 6379 1 localhost:6379"}},
		{"bare IPv4", `ip = "10.0.0.1"`, []string{"10.0.0.1 0 1 10.0.0.1"}},
		{"bare IPv4 with port", `ip = "10.0.0.1:5432"`, []string{"10.0.0.1 5432 1 10.0.0.1:5432"}},
		{"bare IPv6", `["::1", "[::1]:8080", "2001:db8::1", "fd00:ec2::254"]`,
			[]string{"::1 0 1 ::1", "::1 8080 1 [::1]:8080", "2001:db8::1 0 1 2001:db8::1", "fd00:ec2::254 0 1 fd00:ec2::254"}},
		{"not hosts", `["os.path", "numpy.linalg", "x.py", "data.csv", "README.md", "self.value", "typing.IO", "my_pkg.app",
			"0.0.0.0", "::", "a::b", "3.14", "1.2.3", "127.1", "std::vector", "a.test b.test", "evil.test/path", "evil.test:http", "2130706433", ""]`, nil},
		{"tuple port", `socket.create_connection(("evil.test", 443))`, []string{"evil.test 443 1 evil.test"}},
		{"tuple port for an IP", `s.connect(("10.0.0.5", 22))`, []string{"10.0.0.5 22 1 10.0.0.5"}},
		{"tuple port does not make a host", `open("data.csv", 1)`, nil},
		// deduplication and order
		{"deduplicated by host and port", "a = 'https://evil.test/a'\nb = 'https://evil.test/b'\nc = 'http://evil.test/'\nd = 'evil.test:443'",
			[]string{"evil.test 443 1 https://evil.test/a", "evil.test 80 3 http://evil.test/"}},
		{"order of appearance", `f"https://a.test/{requests.get('https://b.test')}"`,
			[]string{"a.test 443 1 https://a.test/{…}", "b.test 443 1 https://b.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := found(tt.code)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("found in %s:\n got %q\nwant %q", tt.code, got, tt.want)
			}
		})
	}
}

func TestInetAton(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2130706433", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0X7F.0.0.01", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"10.0x10000", "10.1.0.0"},
		{"0", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"1.16777216", ""},
		{"256.1", ""},
		{"08", ""},
		{"0x", ""},
		{"1..1", ""},
		{"1.2.3.4.5", ""},
		{"+1", ""},
		{"a.1", ""},
		{"1.a", ""},
		{"99999999999999999999", ""},
	}
	for _, tt := range tests {
		a, ok := inetAton(tt.in)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("inetAton(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSourceTruncated(t *testing.T) {
	url := "https://evil.test/" + strings.Repeat("é", 100)
	fs := Check(`u = "`+url+`"`, nil, nil).Findings
	if len(fs) != 1 {
		t.Fatalf("findings = %v", fs)
	}
	s := fs[0].Source
	if len(s) > maxSource || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") || !strings.HasPrefix(url, strings.TrimSuffix(s, "…")) {
		t.Errorf("Source = %q (%d bytes)", s, len(s))
	}
	// Invalid UTF-8 from a bytes literal becomes valid.
	fs = Check(`u = b"http://evil.test/\xff"`, nil, nil).Findings
	if len(fs) != 1 || !utf8.ValidString(fs[0].Source) {
		t.Errorf("findings = %+v", fs)
	}
}
