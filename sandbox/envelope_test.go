package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

const testNonce = "00112233445566778899aabbccddeeff"

// frame builds an envelope frame around body.
func frame(nonce, body string) []byte {
	return fmt.Appendf(nil, "AIRLOCK-ENVELOPE/1 %s %d\n%s\n", nonce, len(body), body)
}

// encodeEnvelope writes env as the harness would, for round-trip checks.
func encodeEnvelope(nonce string, env Envelope) ([]byte, error) {
	body, err := json.Marshal(struct {
		Status   Status     `json:"status"`
		ExitCode int        `json:"exit_code"`
		Result   *string    `json:"result"`
		Error    *ErrorInfo `json:"error"`
	}{env.Status, env.ExitCode, env.Result, env.Error})
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return frame(nonce, string(body)), nil
}

const (
	okBody  = `{"status": "ok", "exit_code": 0, "result": "2", "error": null}`
	errBody = `{"status": "error", "exit_code": 1, "result": null, "error": {"type": "ValueError", "message": "bad", "traceback": "Traceback ...\n"}}`
)

func TestParseEnvelopeAccepts(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want Envelope
	}{
		{"ok with result", frame(testNonce, okBody), Envelope{Status: StatusOK, Result: strp("2")}},
		{"ok without result", frame(testNonce, `{"status":"ok","exit_code":0,"result":null,"error":null}`), Envelope{Status: StatusOK}},
		{"keys in any order", frame(testNonce, `{"error":null,"result":null,"exit_code":0,"status":"ok"}`), Envelope{Status: StatusOK}},
		{"error", frame(testNonce, errBody), Envelope{Status: StatusError, ExitCode: 1,
			Error: &ErrorInfo{Type: "ValueError", Message: "bad", Traceback: "Traceback ...\n"}}},
		{"exit code 255", frame(testNonce, `{"status":"error","exit_code":255,"result":null,"error":{"type":"SystemExit","message":"","traceback":""}}`),
			Envelope{Status: StatusError, ExitCode: 255, Error: &ErrorInfo{Type: "SystemExit"}}},
		{"unicode and escapes", frame(testNonce, `{"status":"ok","exit_code":0,"result":"'é ✓ 🐍 \u00e9 \\udc80\n'","error":null}`),
			Envelope{Status: StatusOK, Result: strp("'é ✓ 🐍 é \\udc80\n'")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnvelope(tc.data, testNonce)
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseEnvelopeRejects(t *testing.T) {
	ok := string(frame(testNonce, okBody))
	withBody := func(body string) []byte { return frame(testNonce, body) }
	tests := []struct {
		name  string
		data  []byte
		nonce string
		want  error
	}{
		{"empty", nil, testNonce, ErrNoEnvelope},
		{"wrong nonce", frame("ffeeddccbbaa99887766554433221100", okBody), testNonce, ErrForgedEnvelope},
		{"nonce prefix", frame(testNonce[:16], okBody), testNonce, ErrForgedEnvelope},
		{"nonce longer", frame(testNonce+"00", okBody), testNonce, ErrForgedEnvelope},
		{"no expected nonce", frame("", okBody), "", ErrForgedEnvelope},
		{"two frames", []byte(ok + ok), testNonce, ErrForgedEnvelope},
		{"forged frame first", append(frame("ffeeddccbbaa99887766554433221100", okBody), ok...), testNonce, ErrForgedEnvelope},
		{"trailing garbage", []byte(ok + "x"), testNonce, ErrMalformedEnvelope},
		{"trailing newline", []byte(ok + "\n"), testNonce, ErrMalformedEnvelope},
		{"leading garbage", []byte("x" + ok), testNonce, ErrMalformedEnvelope},
		{"no final newline", []byte(strings.TrimSuffix(ok, "\n")), testNonce, ErrMalformedEnvelope},
		{"truncated body", []byte(ok[:len(ok)-10]), testNonce, ErrMalformedEnvelope},
		{"truncated header", []byte(ok[:30]), testNonce, ErrMalformedEnvelope},
		{"length too small", []byte(strings.Replace(ok, " 62\n", " 61\n", 1)), testNonce, ErrMalformedEnvelope},
		{"length too large", []byte(strings.Replace(ok, " 62\n", " 63\n", 1)), testNonce, ErrMalformedEnvelope},
		{"huge length", []byte("AIRLOCK-ENVELOPE/1 " + testNonce + " 9999999999\n" + okBody + "\n"), testNonce, ErrMalformedEnvelope},
		{"overlong length", []byte("AIRLOCK-ENVELOPE/1 " + testNonce + " 99999999999999999999\n" + okBody + "\n"), testNonce, ErrMalformedEnvelope},
		{"leading zero length", []byte(strings.Replace(ok, " 62\n", " 062\n", 1)), testNonce, ErrMalformedEnvelope},
		{"signed length", []byte(strings.Replace(ok, " 62\n", " +62\n", 1)), testNonce, ErrMalformedEnvelope},
		{"extra header field", []byte(strings.Replace(ok, " 62\n", " 62 x\n", 1)), testNonce, ErrMalformedEnvelope},
		{"double space", []byte(strings.Replace(ok, " 62\n", "  62\n", 1)), testNonce, ErrMalformedEnvelope},
		{"other version", []byte(strings.Replace(ok, "/1 ", "/2 ", 1)), testNonce, ErrMalformedEnvelope},
		{"oversize", append(frame(testNonce, okBody), bytes.Repeat([]byte(" "), maxEnvelopeCeiling)...), testNonce, ErrMalformedEnvelope},
		{"non-UTF-8", withBody("{\"status\":\"ok\",\"exit_code\":0,\"result\":\"\xff\",\"error\":null}"), testNonce, ErrMalformedEnvelope},
		{"lone surrogate escape", withBody(`{"status":"ok","exit_code":0,"result":"\udc80","error":null}`), testNonce, ErrMalformedEnvelope},
		{"surrogate pair escape", withBody(`{"status":"ok","exit_code":0,"result":"\ud83d\udc0d","error":null}`), testNonce, ErrMalformedEnvelope},
		{"not JSON", withBody(`status=ok`), testNonce, ErrMalformedEnvelope},
		{"array", withBody(`[]`), testNonce, ErrMalformedEnvelope},
		{"two objects", withBody(okBody + okBody), testNonce, ErrMalformedEnvelope},
		{"unknown field", withBody(`{"status":"ok","exit_code":0,"result":null,"error":null,"x":1}`), testNonce, ErrMalformedEnvelope},
		{"duplicate field", withBody(`{"status":"error","status":"ok","exit_code":0,"result":null,"error":null}`), testNonce, ErrMalformedEnvelope},
		{"missing field", withBody(`{"status":"ok","exit_code":0,"result":null}`), testNonce, ErrMalformedEnvelope},
		{"unknown status", withBody(`{"status":"timeout","exit_code":0,"result":null,"error":null}`), testNonce, ErrMalformedEnvelope},
		{"status not a string", withBody(`{"status":1,"exit_code":0,"result":null,"error":null}`), testNonce, ErrMalformedEnvelope},
		{"status null", withBody(`{"status":null,"exit_code":0,"result":null,"error":null}`), testNonce, ErrMalformedEnvelope},
		{"ok with exit code", withBody(`{"status":"ok","exit_code":1,"result":null,"error":null}`), testNonce, ErrMalformedEnvelope},
		{"ok with error", withBody(`{"status":"ok","exit_code":0,"result":null,"error":{"type":"E","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"error with exit 0", withBody(`{"status":"error","exit_code":0,"result":null,"error":{"type":"E","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"error without error", withBody(`{"status":"error","exit_code":1,"result":null,"error":null}`), testNonce, ErrMalformedEnvelope},
		{"error with result", withBody(`{"status":"error","exit_code":1,"result":"1","error":{"type":"E","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"error with empty type", withBody(`{"status":"error","exit_code":1,"result":null,"error":{"type":"","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"error missing traceback", withBody(`{"status":"error","exit_code":1,"result":null,"error":{"type":"E","message":""}}`), testNonce, ErrMalformedEnvelope},
		{"error extra field", withBody(`{"status":"error","exit_code":1,"result":null,"error":{"type":"E","message":"","traceback":"","x":""}}`), testNonce, ErrMalformedEnvelope},
		{"error duplicate field", withBody(`{"status":"error","exit_code":1,"result":null,"error":{"type":"E","type":"F","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"error field not a string", withBody(`{"status":"error","exit_code":1,"result":null,"error":{"type":"E","message":1,"traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"error is a string", withBody(`{"status":"error","exit_code":1,"result":null,"error":"E"}`), testNonce, ErrMalformedEnvelope},
		{"exit code fraction", withBody(`{"status":"error","exit_code":1.0,"result":null,"error":{"type":"E","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"exit code exponent", withBody(`{"status":"error","exit_code":1e0,"result":null,"error":{"type":"E","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"exit code string", withBody(`{"status":"error","exit_code":"1","result":null,"error":{"type":"E","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"exit code negative", withBody(`{"status":"error","exit_code":-1,"result":null,"error":{"type":"E","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"exit code above 255", withBody(`{"status":"error","exit_code":256,"result":null,"error":{"type":"E","message":"","traceback":""}}`), testNonce, ErrMalformedEnvelope},
		{"result a number", withBody(`{"status":"ok","exit_code":0,"result":2,"error":null}`), testNonce, ErrMalformedEnvelope},
		{"result an object", withBody(`{"status":"ok","exit_code":0,"result":{},"error":null}`), testNonce, ErrMalformedEnvelope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnvelope(tc.data, tc.nonce)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseEnvelope = %+v, %v; want error %v", got, err, tc.want)
			}
			if !reflect.DeepEqual(got, Envelope{}) {
				t.Errorf("rejected envelope returned a value: %+v", got)
			}
			if err != tc.want && !strings.HasPrefix(err.Error(), tc.want.Error()+": ") {
				t.Errorf("error %q does not add detail to %q", err, tc.want)
			}
		})
	}
}

// TestParseEnvelopeNeverQuotesData checks that error details do not echo
// what the sandboxed code wrote.
func TestParseEnvelopeNeverQuotesData(t *testing.T) {
	const secret = "INJECTED-TEXT"
	for _, data := range [][]byte{
		[]byte(secret),
		frame(testNonce, `{"status":"`+secret+`","exit_code":0,"result":null,"error":null}`),
		frame(testNonce, `{"`+secret+`":1}`),
		frame(testNonce, secret),
		append(frame(testNonce, okBody), secret...),
	} {
		if _, err := ParseEnvelope(data, testNonce); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("error %v quotes the data", err)
		}
	}
}

func TestMaxEnvelopeBytesBoundsTheHarness(t *testing.T) {
	// Worst case for JSON escaping: control characters everywhere, in every field.
	limits := Limits{MaxOutputBytes: 4 << 10}
	maxRepr := ReprLimit(limits)
	worst := strings.Repeat("\x01", maxRepr)
	data, err := encodeEnvelope(testNonce, Envelope{Status: StatusError, ExitCode: 255,
		Error: &ErrorInfo{Type: worst, Message: worst, Traceback: worst}})
	if err != nil {
		t.Fatal(err)
	}
	// Result is null on errors, so this bound is generous; check it holds.
	if len(data) > MaxEnvelopeBytes(limits) {
		t.Errorf("worst-case envelope of %d bytes exceeds MaxEnvelopeBytes %d", len(data), MaxEnvelopeBytes(limits))
	}
	if MaxEnvelopeBytes(Limits{}) > maxEnvelopeCeiling {
		t.Errorf("MaxEnvelopeBytes(default) %d > ceiling %d", MaxEnvelopeBytes(Limits{}), maxEnvelopeCeiling)
	}
	if _, err := ParseEnvelope(data, testNonce); err != nil {
		t.Errorf("worst-case envelope rejected: %v", err)
	}
}

func TestReadEnvelope(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100)
	got, err := ReadEnvelope(bytes.NewReader(data), 10)
	if err != nil || len(got) != 11 {
		t.Errorf("ReadEnvelope over limit = %d bytes, %v; want 11 (limit+1), nil", len(got), err)
	}
	r := bytes.NewReader(data)
	if _, err := ReadEnvelope(r, 10); err != nil || r.Len() != 0 {
		t.Errorf("ReadEnvelope left %d bytes unread (err %v); it must drain", r.Len(), err)
	}
	got, err = ReadEnvelope(bytes.NewReader(data), 1000)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadEnvelope under limit = %q, %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := ReadEnvelope(io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)), 10); !errors.Is(err, boom) {
		t.Errorf("ReadEnvelope error = %v, want boom", err)
	}
}

// FuzzParseEnvelope: ParseEnvelope never panics, and whatever it accepts is
// consistent and survives re-encoding unchanged. Seeds are in
// testdata/fuzz/FuzzParseEnvelope.
func FuzzParseEnvelope(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvelope(data, testNonce)
		if err != nil {
			if !errors.Is(err, ErrNoEnvelope) && !errors.Is(err, ErrForgedEnvelope) && !errors.Is(err, ErrMalformedEnvelope) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		switch {
		case env.Status == StatusOK && (env.ExitCode != 0 || env.Error != nil):
			t.Fatalf("inconsistent ok envelope: %+v", env)
		case env.Status == StatusError && (env.ExitCode == 0 || env.Error == nil || env.Result != nil):
			t.Fatalf("inconsistent error envelope: %+v", env)
		case env.Status != StatusOK && env.Status != StatusError:
			t.Fatalf("accepted status %q", env.Status)
		}
		again, err := encodeEnvelope(testNonce, env)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseEnvelope(again, testNonce)
		if err != nil {
			t.Fatalf("re-encoded envelope rejected: %v\n%q", err, again)
		}
		if !reflect.DeepEqual(back, env) {
			t.Fatalf("round trip changed the envelope:\n got %+v\nwant %+v", back, env)
		}
		if _, err := ParseEnvelope(again, "ffeeddccbbaa99887766554433221100"); !errors.Is(err, ErrForgedEnvelope) {
			t.Fatalf("accepted under another nonce: %v", err)
		}
	})
}
