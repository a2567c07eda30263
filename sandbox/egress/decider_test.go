package egress

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// addrRefuser allows every name and refuses every address.
type addrRefuser struct{}

func (addrRefuser) CheckHost(host string, port int) netrules.Verdict {
	return netrules.Verdict{Allowed: true, Rule: "test: any name"}
}

func (addrRefuser) CheckAddr(host string, addr netip.Addr, port int) netrules.Verdict {
	return netrules.Verdict{Rule: "test: no address", Reason: "Connection to " + host + " refused: " + addr.String() + " is refused by the test."}
}

// TestDeciderDecides: the proxy asks the Decider it is given, not rules of
// its own: a name the Decider allows is still refused, before any dial,
// when the Decider refuses every address it resolves to.
func TestDeciderDecides(t *testing.T) {
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}), func(c *Config) { c.Egress = addrRefuser{} })
	_, _, resp, body := p.connect(t, "api.test:443")
	if resp.StatusCode != 403 || resp.Status != "403 Airlock policy: connection to api.test:443 refused by test: no address" {
		t.Errorf("answer %q, want a 403 naming the Decider's rule", resp.Status)
	}
	if !strings.Contains(body, "127.0.0.1 is refused by the test.") {
		t.Errorf("body %q lacks the Decider's reason", body)
	}
	if n := p.d.dials(); n != 0 {
		t.Errorf("%d dials, want none", n)
	}
	if l := p.Snapshot(); len(l.Entries) != 1 || l.Entries[0].Allowed || l.Entries[0].Rule != "test: no address" {
		t.Errorf("ledger %+v, want the one refusal by the Decider's rule", l)
	}
}
