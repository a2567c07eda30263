package egress

import (
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// An allowed connection made after a flood of refused attempts is listed
// in full: host, address and bytes, and every attempt is counted. The
// flood does not flood the log either.
func TestLedgerListsAllowedConnectionsAfterManyRefusals(t *testing.T) {
	const refused = 300
	srv := newRawServer(t, echo)
	target := "api.test:" + strconv.Itoa(port(t, srv.addr()))
	core, logs := observer.New(zap.DebugLevel)
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}), func(c *Config) { c.Log = zap.New(core) })
	for i := range refused {
		c, _, resp, _ := p.connect(t, "evil.test:443")
		if resp.StatusCode != 403 {
			t.Fatalf("attempt %d: %s", i+1, resp.Status)
		}
		c.Close()                // as a client does after a refusal,
		p.wait(t, p.released, 1) // which frees its place on the proxy
	}
	c, br, resp, _ := p.connect(t, target)
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	roundTrip(t, c, br, "ping")
	c.Close()
	l := p.Close()

	var allowed []Entry
	for _, e := range l.Entries {
		if e.Allowed {
			allowed = append(allowed, e)
		}
	}
	if len(allowed) != 1 {
		t.Fatalf("%d allowed entries in %d entries, want 1", len(allowed), len(l.Entries))
	}
	if e := allowed[0]; e.Host != "api.test" || e.Address != srv.addr() || e.BytesOut != 4 || e.BytesIn != 4 || e.Method != "CONNECT" {
		t.Errorf("allowed entry %+v", e)
	}
	s := l.Summary()
	if s.Attempts != refused+1 || s.Allowed != 1 || s.Denied != refused || s.BytesOut != 4 || s.BytesIn != 4 {
		t.Errorf("summary %+v", s)
	}
	// The refusals beyond the listed ones are one summary of their
	// destination; the connection, decided last, comes after it.
	last := l.Entries[len(l.Entries)-1]
	if !last.Allowed {
		t.Errorf("the allowed connection is not last: %+v", last)
	}
	sum := l.Entries[len(l.Entries)-2]
	if sum.Host != "evil.test" || sum.Port != 443 || sum.Allowed || sum.Count != refused-maxListed ||
		sum.Rule != "network.allow (no rule matches)" || !strings.Contains(sum.Reason, "evil.test") {
		t.Errorf("summary entry %+v", sum)
	}
	if len(l.Entries) != maxListed+2 {
		t.Errorf("%d entries, want %d listed refusals, one summary and the connection", len(l.Entries), maxListed)
	}

	info := logs.FilterLevelExact(zap.InfoLevel)
	if n := info.FilterMessage("egress refused").Len(); n != maxListed {
		t.Errorf("%d refusals logged at info level, want the %d listed", n, maxListed)
	}
	if n := info.FilterMessageSnippet("further attempts without a connection are counted").Len(); n != 1 {
		t.Errorf("%d lines say that further attempts are summarised, want 1", n)
	}
	if n := logs.FilterLevelExact(zap.DebugLevel).FilterMessage("egress refused").Len(); n != refused-maxListed {
		t.Errorf("%d refusals logged at debug level, want the %d summarised", n, refused-maxListed)
	}
}

// The ledger's attempts without a connection: listed, then summarised per
// destination, then per rule; connections always listed; every attempt
// counted, and the size bounded whatever the sandbox tries.
func TestLedgerSummarisesAttemptsWithoutConnection(t *testing.T) {
	refusal := func(host string) Entry {
		return Entry{Host: host, Port: 443, Method: "CONNECT", Rule: "network.allow (no rule matches)",
			Reason: "Connection to " + host + ":443 refused: " + host + " is not in the operator's allow list (network.allow)."}
	}
	unresolved := func(host string) Entry {
		return Entry{Host: host, Port: 443, Method: "CONNECT", Allowed: true, Rule: "network.allow (every destination)",
			Error: "resolve " + host + ": no such host", Reason: "The name " + host + " could not be resolved (no such host)."}
	}
	var l ledger
	for i := range maxListed {
		l.note(refusal("listed" + strconv.Itoa(i) + ".test"))
	}
	for range 3 {
		l.note(refusal("again.test"))
	}
	l.note(unresolved("nowhere.test"))
	conn := l.add(Entry{Host: "api.test", Port: 443, Method: "CONNECT", Allowed: true, Rule: "network.allow[0] (host api.test, every port)", Address: "127.0.0.1:443"})
	conn.out.Add(10)
	conn.in.Add(20)
	for i := range maxDestinations + 50 { // 2 destinations are summarised already
		l.note(refusal("scan" + strconv.Itoa(i) + ".test"))
		l.note(unresolved("unknown" + strconv.Itoa(i) + ".test"))
	}
	for i := range 1000 {
		l.add(Entry{Host: "api.test", Port: 443, Method: "CONNECT", Allowed: true, Rule: "network.allow[0]", Address: "127.0.0.1:" + strconv.Itoa(i)})
	}
	got := l.snapshot()

	wantLen := maxListed + maxDestinations + 2 + 1000 + 1 // listed, summarised destinations, per rule, connections
	if len(got.Entries) != wantLen {
		t.Fatalf("%d entries, want %d", len(got.Entries), wantLen)
	}
	if e := got.Entries[maxListed]; e.Host != "again.test" || e.Count != 3 || e.Allowed {
		t.Errorf("first summary %+v, want again.test counted 3 times", e)
	}
	if e := got.Entries[maxListed+1]; e.Host != "nowhere.test" || e.Count != 1 || !e.Allowed || e.Error == "" {
		t.Errorf("second summary %+v", e)
	}
	if e := got.Entries[maxListed+2]; e.Host != "api.test" || e.Count != 0 || e.BytesOut != 10 || e.BytesIn != 20 || e.Address != "127.0.0.1:443" {
		t.Errorf("the connection %+v, want it listed in full where it was decided", e)
	}
	var byRule []Entry
	for _, e := range got.Entries {
		if e.Host == "" {
			byRule = append(byRule, e)
		}
	}
	// 254 destinations were left for 127 scans and 127 unknowns; the
	// other 179 of each are counted in the summary of their rule.
	if len(byRule) != 2 {
		t.Fatalf("%d summaries by rule, want 2: %+v", len(byRule), byRule)
	}
	for _, e := range byRule {
		want := maxDestinations + 50 - (maxDestinations-2)/2
		if e.Count != want || e.Port != 0 || e.Method != "" || !strings.Contains(e.Reason, e.Rule) {
			t.Errorf("summary by rule %+v, want count %d", e, want)
		}
		if e.Allowed && e.Error == "" {
			t.Errorf("summary of allowed attempts without a connection has no error: %+v", e)
		}
	}
	s := got.Summary()
	attemptsWithout := maxListed + 3 + 1 + 2*(maxDestinations+50)
	if s.Attempts != attemptsWithout+1001 || s.Allowed != 1+maxDestinations+50+1001 || s.Failed != 1+maxDestinations+50 ||
		s.Denied != maxListed+3+maxDestinations+50 || s.BytesOut != 10 || s.BytesIn != 20 {
		t.Errorf("summary %+v", s)
	}
}

func TestSummaryString(t *testing.T) {
	for _, tc := range []struct {
		s    Summary
		want string
	}{
		{Summary{}, "0 connection attempts: 0 allowed, 0 denied; 0 bytes out, 0 bytes in"},
		{Summary{Attempts: 1, Allowed: 1, BytesOut: 5, BytesIn: 7}, "1 connection attempt: 1 allowed, 0 denied; 5 bytes out, 7 bytes in"},
		{Summary{Attempts: 3, Allowed: 2, Failed: 1, Denied: 1, BytesOut: 517, BytesIn: 4096},
			"3 connection attempts: 2 allowed (1 failed), 1 denied; 517 bytes out, 4096 bytes in"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}
