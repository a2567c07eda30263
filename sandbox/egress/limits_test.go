package egress

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

func TestConnectionLimit(t *testing.T) {
	srv := newRawServer(t, echo)
	target := "api.test:" + strconv.Itoa(port(t, srv.addr()))
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}), func(c *Config) { c.MaxConnections = 2 })
	for i := range 2 {
		c, br, resp, _ := p.connect(t, target)
		if resp.StatusCode != 200 {
			t.Fatalf("connection %d: %s", i+1, resp.Status)
		}
		roundTrip(t, c, br, "hi")
		if i == 0 {
			c.Close() // a closed connection still counts
		}
	}
	// A denial does not use up the limit, but the third connection is
	// refused.
	if _, _, resp, _ := p.connect(t, "evil.test:443"); resp.Header.Get("X-Airlock-Rule") != "network.allow (no rule matches)" {
		t.Errorf("denial: %s", resp.Status)
	}
	_, _, resp, body := p.connect(t, target)
	if resp.StatusCode != 403 || resp.Status != "403 Airlock policy: connection to "+target+" refused by proxy limit: at most 2 connections per call" ||
		resp.Header.Get("X-Airlock-Rule") != "proxy limit" {
		t.Errorf("third connection: %q %v", resp.Status, resp.Header)
	}
	if !strings.Contains(body, "at most 2 connections per call") {
		t.Errorf("body %q", body)
	}
	if p.d.dials() != 2 {
		t.Errorf("%d dials", p.d.dials())
	}
	l := p.Close()
	if e := l.Entries[3]; e.Allowed || e.Rule != "proxy limit" || !strings.Contains(e.Reason, "at most 2 connections") {
		t.Errorf("entry %+v", e)
	}
}

func TestByteLimit(t *testing.T) {
	const limit = 64 << 10
	big := newRawServer(t, func(c net.Conn) {
		chunk := make([]byte, 16<<10)
		for range 64 { // 1 MiB
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	idle := newRawServer(t, echo)
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}), func(c *Config) { c.MaxBytes = limit })

	// An idle tunnel, then a download that exceeds the limit: both end.
	idleConn, idleBr, resp, _ := p.connect(t, "api.test:"+strconv.Itoa(port(t, idle.addr())))
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	roundTrip(t, idleConn, idleBr, "ping")
	c, br, resp, _ := p.connect(t, "api.test:"+strconv.Itoa(port(t, big.addr())))
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, _ := io.Copy(io.Discard, br)
	if n != limit-8 {
		t.Errorf("downloaded %d bytes, want the %d left of the limit", n, limit-8)
	}
	idleConn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := idleBr.ReadByte(); err == nil {
		t.Error("the idle tunnel was not closed")
	}
	// New connections are refused.
	_, _, resp, body := p.connect(t, "api.test:"+strconv.Itoa(port(t, idle.addr())))
	if resp.StatusCode != 403 || !strings.Contains(resp.Status, "refused by proxy limit: at most 65536 bytes per call (reached)") {
		t.Errorf("after the limit: %s", resp.Status)
	}
	if !strings.Contains(body, "relays at most 65536 bytes per call") {
		t.Errorf("body %q", body)
	}
	l := p.Close()
	if len(l.Entries) != 3 {
		t.Fatalf("ledger %+v", l)
	}
	for _, e := range l.Entries[:2] {
		if !e.Allowed || !strings.Contains(e.Error, "at most 65536 bytes per call") || !strings.Contains(e.Reason, "65536 bytes") {
			t.Errorf("entry %+v", e)
		}
	}
	if s := l.Summary(); s.BytesIn+s.BytesOut != limit {
		t.Errorf("relayed %d bytes, want exactly the limit %d", s.BytesIn+s.BytesOut, limit)
	}
	if e := l.Entries[2]; e.Allowed || e.Rule != "proxy limit" {
		t.Errorf("entry %+v", e)
	}
}

func TestByteLimitPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 1<<20))
	}))
	defer srv.Close()
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}), func(c *Config) { c.MaxBytes = 100 << 10 })
	c := proxiedClient(p)
	resp, err := c.Get("http://api.test:" + strconv.Itoa(port(t, srv.Listener.Addr().String())) + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= 100<<10 {
		t.Errorf("read %d bytes, err %v: the download should be cut", n, err)
	}
	if e := p.Close().Entries[0]; !strings.Contains(e.Error, "at most 102400 bytes per call") || e.BytesIn+e.BytesOut != 100<<10 {
		t.Errorf("entry %+v", e)
	}
}
