package egress

import (
	"bufio"
	"fmt"
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

func TestPlainHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Proxy-Authenticate", "Basic realm=upstream")
		fmt.Fprintf(w, "%s %s host=%s body=%q ua=%q proxy-auth=%q proxy-conn=%q conn-header=%q",
			r.Method, r.RequestURI, r.Host, body, r.UserAgent(), r.Header.Get("Proxy-Authorization"),
			r.Header.Get("Proxy-Connection"), r.Header.Get("X-Private-Hop"))
	}))
	defer srv.Close()
	srvPort := strconv.Itoa(port(t, srv.Listener.Addr().String()))
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}))

	c, br := p.dial(t)
	exchange := func(raw string) (*http.Response, string) {
		t.Helper()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	// Two requests on one kept-alive client connection, each decided
	// and sent on a fresh upstream connection.
	resp, body := exchange("GET http://api.test:" + srvPort + "/path?q=1 HTTP/1.1\r\nHost: ignored.example\r\n" +
		"Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nConnection: X-Private-Hop\r\nX-Private-Hop: 1\r\n\r\n")
	want := `GET /path?q=1 host=api.test:` + srvPort + ` body="" ua="" proxy-auth="" proxy-conn="" conn-header=""`
	if resp.StatusCode != 200 || body != want {
		t.Errorf("first answer %s %q, want 200 %q", resp.Status, body, want)
	}
	if resp.Header.Get("Proxy-Authenticate") != "" || resp.Close {
		t.Errorf("hop-by-hop header leaked or connection not kept: %v", resp.Header)
	}
	resp, body = exchange("POST http://API.test:" + srvPort + "/submit HTTP/1.1\r\nHost: api.test\r\nUser-Agent: python-requests/2.32\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	want = `POST /submit host=API.test:` + srvPort + ` body="hello world" ua="python-requests/2.32" proxy-auth="" proxy-conn="" conn-header=""`
	if resp.StatusCode != 200 || body != want {
		t.Errorf("second answer %s %q, want 200 %q", resp.Status, body, want)
	}

	// A denied request on the same connection: 403, then the connection
	// closes.
	resp, body = exchange("GET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n")
	if resp.StatusCode != 403 ||
		resp.Status != "403 Airlock policy: connection to evil.test:80 refused by network.allow (no rule matches)" ||
		resp.Header.Get("X-Airlock-Rule") != "network.allow (no rule matches)" {
		t.Errorf("denial %q %v", resp.Status, resp.Header)
	}
	if !strings.Contains(body, "evil.test is not in the operator's allow list") || !strings.Contains(body, policyNote) {
		t.Errorf("denial body %q", body)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after a denial the connection should close; read: %v", err)
	}

	l := p.Close()
	if len(l.Entries) != 3 {
		t.Fatalf("ledger %+v", l)
	}
	for i, want := range []struct {
		method, host string
		allowed      bool
	}{{"GET", "api.test", true}, {"POST", "API.test", true}, {"GET", "evil.test", false}} {
		e := l.Entries[i]
		if e.Method != want.method || e.Host != want.host || e.Allowed != want.allowed {
			t.Errorf("entry %d: %+v", i, e)
		}
		if want.allowed && (e.Address != "127.0.0.1:"+srvPort || e.BytesOut == 0 || e.BytesIn == 0) {
			t.Errorf("entry %d: %+v", i, e)
		}
		if !want.allowed && (e.Address != "" || e.BytesOut != 0 || e.Reason == "") {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if p.d.dials() != 2 {
		t.Errorf("%d dials, want 2", p.d.dials())
	}
}

func TestPlainHTTPWithGoClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "1000")
			return
		}
		io.WriteString(w, strings.Repeat("x", 100000))
	}))
	defer srv.Close()
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}))
	c := proxiedClient(p)
	u := "http://api.test:" + strconv.Itoa(port(t, srv.Listener.Addr().String())) + "/"
	for range 3 {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 100000 {
			t.Errorf("got %d bytes", len(b))
		}
	}
	resp, err := c.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ContentLength != 1000 {
		t.Errorf("HEAD: content length %d", resp.ContentLength)
	}
	resp, err = c.Get("http://evil.test/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("denied: %s", resp.Status)
	}
	c.CloseIdleConnections()
	if s := p.Close().Summary(); s.Attempts != 5 || s.Allowed != 4 || s.Denied != 1 || s.BytesIn < 300000 {
		t.Errorf("summary %+v", s)
	}
}

func TestExpectContinueAndStreaming(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "second\n")
			return
		}
		b, _ := io.ReadAll(r.Body) // sends 100 Continue
		fmt.Fprintf(w, "got %q", b)
	}))
	defer srv.Close()
	defer close(release)
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}))
	u := "api.test:" + strconv.Itoa(port(t, srv.Listener.Addr().String()))

	c, br := p.dial(t)
	io.WriteString(c, "POST http://"+u+"/upload HTTP/1.1\r\nHost: "+u+"\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("want a 100 Continue before sending the body, got %q, %v", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("interim response not ended: %q", blank)
	}
	io.WriteString(c, "data")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `got "data"` {
		t.Errorf("body %q", b)
	}

	// A streamed response reaches the client as it comes.
	io.WriteString(c, "GET http://"+u+"/stream HTTP/1.1\r\nHost: "+u+"\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || first != "first\n" {
		t.Errorf("first chunk %q, %v", first, err)
	}
}

func TestPlainHTTPEdgeCases(t *testing.T) {
	garbage := newRawServer(t, func(c net.Conn) {
		io.WriteString(c, "SSH-2.0-not-http\r\n")
	})
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part one, ")
		w.(http.Flusher).Flush() // forces a chunked response
		io.WriteString(w, "part two")
	}))
	defer chunked.Close()
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}))
	exchange := func(raw string) (*http.Response, string, error) {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, raw)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		_, after := br.ReadByte()
		return resp, string(b), after
	}

	target := "api.test:" + strconv.Itoa(port(t, garbage.addr()))
	resp, body, _ := exchange("GET http://" + target + "/ HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
	if resp.StatusCode != 502 || resp.Status != "502 Airlock proxy: no valid response from "+target ||
		!strings.Contains(body, "sent no valid HTTP response") {
		t.Errorf("garbage upstream: %q %q", resp.Status, body)
	}

	// An HTTP/1.0 client gets the chunked body unchunked, and the
	// connection closes after it.
	target = "api.test:" + strconv.Itoa(port(t, chunked.Listener.Addr().String()))
	resp, body, after := exchange("GET http://" + target + "/ HTTP/1.0\r\n\r\n")
	if resp.StatusCode != 200 || body != "part one, part two" || len(resp.TransferEncoding) != 0 || after != io.EOF {
		t.Errorf("HTTP/1.0: %s %q %v, then %v", resp.Status, body, resp.TransferEncoding, after)
	}
	l := p.Close()
	if e := l.Entries[0]; !e.Allowed || !strings.HasPrefix(e.Error, "read upstream: ") {
		t.Errorf("entry %+v", e)
	}
}

// TestKeepAliveWhileTheSenderReports: a forwarded request's sender that has
// written the whole request but not yet reported it when the answer has
// gone back (a scheduling accident, forced here) does not cost the client
// its kept-alive connection: the next request on it is served, not reset.
func TestKeepAliveWhileTheSenderReports(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %q", r.Method, body)
	}))
	defer srv.Close()
	srvPort := strconv.Itoa(port(t, srv.Listener.Addr().String()))
	release := make(chan struct{})
	p := startProxy(t, allowRules([]netrules.Rule{host("api.test")}), func(c *Config) {
		c.hooks.sent = func() { <-release }
	})
	c, br := p.dial(t)
	for i, req := range []string{
		"GET http://api.test:" + srvPort + "/ HTTP/1.1\r\nHost: api.test\r\n\r\n",
		"POST http://api.test:" + srvPort + "/ HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\n\r\nhello",
		"GET http://api.test:" + srvPort + "/ HTTP/1.1\r\nHost: api.test\r\n\r\n",
	} {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on the kept-alive connection: %v", i, err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("request %d: %s, close %v, %v", i, resp.Status, resp.Close, err)
		}
		release <- struct{}{} // only now does the sender report
	}
}
