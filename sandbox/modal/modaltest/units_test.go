package modaltest

import (
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestStdinOffsets: writes are deduplicated by offset, gaps refused, data
// after close refused, and everything accepted is delivered in order.
func TestStdinOffsets(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sp := newStdinPipe(w)
	done := make(chan struct{})
	go func() { sp.run(); close(done) }()

	steps := []struct {
		offset uint64
		data   string
		eof    bool
		want   codes.Code
	}{
		{0, "hello ", false, codes.OK},
		{0, "hello ", false, codes.OK},   // retry: ignored
		{3, "lo world", false, codes.OK}, // overlaps: only "world" is new
		{20, "gap", false, codes.InvalidArgument},
		{11, "!", true, codes.OK}, // data and close
		{12, "", true, codes.OK},  // retried close
		{12, "more", false, codes.FailedPrecondition},
	}
	for i, s := range steps {
		if err := sp.write(s.offset, []byte(s.data), s.eof); status.Code(err) != s.want {
			t.Errorf("step %d: write(%d, %q, %v) = %v, want %v", i, s.offset, s.data, s.eof, err, s.want)
		}
	}
	_ = r.SetReadDeadline(time.Now().Add(safetyNet)) // fail, not hang, if stdin is never closed
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading what was delivered: %v (got %q)", err, got)
	}
	if string(got) != "hello world!" {
		t.Errorf("delivered %q, want %q", got, "hello world!")
	}
	if n, closed := sp.status(); n != 12 || !closed {
		t.Errorf("status = %d, %v, want 12, true", n, closed)
	}
	<-done
}

// TestStdinStopUnblocksFullPipe: stop returns the feeder from a write that
// nobody will read.
func TestStdinStopUnblocksFullPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sp := newStdinPipe(w)
	done := make(chan struct{})
	go func() { sp.run(); close(done) }()
	if err := sp.write(0, make([]byte, 4<<20), false); err != nil { // more than a pipe holds
		t.Fatal(err)
	}
	// Once the first byte arrives, the feeder is in its one write of 4 MiB,
	// which cannot complete while nothing reads the pipe.
	_ = r.SetReadDeadline(time.Now().Add(safetyNet)) // fail, not hang
	if _, err := io.ReadFull(r, make([]byte, 1)); err != nil {
		t.Fatalf("the feeder never wrote: %v", err)
	}
	sp.stop()
	within(t, done, "the feeder to return after stop")
}

// TestOutputStream: reads from any offset, waits for more, ends only once
// finished.
func TestOutputStream(t *testing.T) {
	o := newOutputStream()
	if chunk, ended, changed, err := o.read(0, 10); len(chunk) != 0 || ended || changed == nil || err != nil {
		t.Fatalf("empty stream read = %q %v %v %v", chunk, ended, changed, err)
	}
	_, _, changed, _ := o.read(0, 10)
	o.append([]byte("abcdef"))
	select {
	case <-changed:
	default:
		t.Fatal("append did not signal")
	}
	if chunk, _, _, _ := o.read(2, 3); string(chunk) != "cde" {
		t.Errorf("read(2, 3) = %q", chunk)
	}
	if _, _, _, err := o.read(7, 3); err == nil {
		t.Error("read past the end succeeded")
	}
	if _, ended, _, _ := o.read(6, 3); ended {
		t.Error("unfinished stream ended")
	}
	o.finish()
	if _, ended, _, _ := o.read(6, 3); !ended {
		t.Error("finished stream did not end")
	}
	if chunk, ended, _, _ := o.read(5, 3); string(chunk) != "f" || ended {
		t.Errorf("read(5) of a finished stream = %q, %v", chunk, ended)
	}
}

func TestResolveCommand(t *testing.T) {
	s := &Server{opts: Options{Python: "/opt/py/bin/python3"}}
	tests := []struct {
		argv     []string
		wantPath string
		wantArg0 string
		wantErr  bool
	}{
		{[]string{"python3", "-"}, "/opt/py/bin/python3", "/opt/py/bin/python3", false},
		{[]string{"python"}, "/opt/py/bin/python3", "/opt/py/bin/python3", false},
		{[]string{"/usr/local/bin/python3.12", "-I"}, "/opt/py/bin/python3", "/opt/py/bin/python3", false},
		{[]string{"sh", "-c", "true"}, "/bin/sh", "/bin/sh", false},
		{[]string{"/bin/sh"}, "/bin/sh", "/bin/sh", false},
		{[]string{"pythonista"}, "", "", true},
		{[]string{"./python3"}, "", "", true},
		{[]string{}, "", "", true},
	}
	for _, tt := range tests {
		path, args, err := s.resolveCommand(tt.argv)
		if (err != nil) != tt.wantErr || path != tt.wantPath || (err == nil && args[0] != tt.wantArg0) {
			t.Errorf("resolveCommand(%q) = %q, %q, %v", tt.argv, path, args, err)
		}
		if err == nil && !slices.Equal(args[1:], tt.argv[1:]) {
			t.Errorf("resolveCommand(%q) changed the arguments: %q", tt.argv, args)
		}
	}
}

func TestJWT(t *testing.T) {
	s := &Server{signKey: []byte("k")}
	now := time.Now()
	good := s.mintJWT(claims{Sub: "ta-1", Aud: audRouter, Exp: now.Add(time.Hour).Unix()})
	if c, err := s.verifyJWT(good, audRouter); err != nil || c.Sub != "ta-1" {
		t.Errorf("verify good token = %+v, %v", c, err)
	}
	bad := map[string]string{
		"wrong audience": good,
		"expired":        s.mintJWT(claims{Sub: "ta-1", Aud: audControl, Exp: now.Add(-time.Second).Unix()}),
		"other key":      (&Server{signKey: []byte("other")}).mintJWT(claims{Sub: "ta-1", Aud: audControl, Exp: now.Add(time.Hour).Unix()}),
		"two parts":      "a.b",
	}
	for name, tok := range bad {
		if _, err := s.verifyJWT(tok, audControl); err == nil {
			t.Errorf("%s: token accepted", name)
		}
	}
}
