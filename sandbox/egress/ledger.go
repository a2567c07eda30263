package egress

import (
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"strconv"
	"sync"
	"sync/atomic"
)

// maxEntries is how many ledger entries a session keeps; later attempts are
// only counted in Ledger.Dropped.
const maxEntries = 256

// Ledger is the record of one session's connection attempts, in the order
// they were decided.
type Ledger struct {
	// Entries holds the first 256 attempts.
	Entries []Entry `json:"entries"`
	// Dropped counts the attempts beyond those, which were not kept.
	Dropped int `json:"dropped,omitempty"`
}

// Entry is one connection attempt (a CONNECT tunnel or one plain HTTP
// request), in the form results report it: Method is CONNECT or the HTTP
// method; Rule is the policy verdict's rule, or "proxy limit", "sni check",
// "request" for the proxy's own refusals; Error says what went wrong after
// the attempt was allowed (the dial or the transfer failed, or a proxy
// limit cut the connection).
type Entry = sandbox.Connection

// Summary is a ledger in numbers.
type Summary struct {
	// Attempts counts every attempt, the dropped ones included.
	Attempts int `json:"attempts"`
	// Allowed and Denied count the kept entries by outcome; Failed counts
	// the allowed ones that have an Error.
	Allowed int `json:"allowed"`
	Denied  int `json:"denied"`
	Failed  int `json:"failed"`
	// BytesOut and BytesIn add up the kept entries' byte counts.
	BytesOut int64 `json:"bytes_out"`
	BytesIn  int64 `json:"bytes_in"`
}

// Summary counts l's attempts and bytes. Dropped entries count as attempts
// only: their outcome and bytes were not kept.
func (l Ledger) Summary() Summary {
	s := Summary{Attempts: len(l.Entries) + l.Dropped}
	for _, e := range l.Entries {
		switch {
		case !e.Allowed:
			s.Denied++
		default:
			s.Allowed++
			if e.Error != "" {
				s.Failed++
			}
		}
		s.BytesOut += e.BytesOut
		s.BytesIn += e.BytesIn
	}
	return s
}

// String reads "3 connection attempts: 2 allowed (1 failed), 1 denied;
// 517 bytes out, 4096 bytes in".
func (s Summary) String() string {
	out := strconv.Itoa(s.Attempts) + " connection attempt"
	if s.Attempts != 1 {
		out += "s"
	}
	out += ": " + strconv.Itoa(s.Allowed) + " allowed"
	if s.Failed > 0 {
		out += " (" + strconv.Itoa(s.Failed) + " failed)"
	}
	out += ", " + strconv.Itoa(s.Denied) + " denied"
	if unknown := s.Attempts - s.Allowed - s.Denied; unknown > 0 {
		out += ", " + strconv.Itoa(unknown) + " not recorded"
	}
	return out + "; " + strconv.FormatInt(s.BytesOut, 10) + " bytes out, " + strconv.FormatInt(s.BytesIn, 10) + " bytes in"
}

// record is the live state of one entry: its fields under mu, its byte
// counts updated by the copying goroutines.
type record struct {
	mu  sync.Mutex
	e   Entry
	out atomic.Int64
	in  atomic.Int64
}

// update changes r's fields under its lock.
func (r *record) update(f func(e *Entry)) {
	r.mu.Lock()
	f(&r.e)
	r.mu.Unlock()
}

// entry returns a copy of r with its current byte counts.
func (r *record) entry() Entry {
	r.mu.Lock()
	e := r.e
	r.mu.Unlock()
	e.BytesOut = r.out.Load()
	e.BytesIn = r.in.Load()
	return e
}

// ledger collects a session's records.
type ledger struct {
	mu      sync.Mutex
	records []*record
	dropped int
}

// add starts a record for e. The record is returned even when the ledger is
// full and does not keep it, so callers need not care.
func (l *ledger) add(e Entry) *record {
	r := &record{e: e}
	l.mu.Lock()
	if len(l.records) < maxEntries {
		l.records = append(l.records, r)
	} else {
		l.dropped++
	}
	l.mu.Unlock()
	return r
}

// snapshot copies the ledger as it stands.
func (l *ledger) snapshot() Ledger {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := Ledger{Entries: make([]Entry, len(l.records)), Dropped: l.dropped}
	for i, r := range l.records {
		out.Entries[i] = r.entry()
	}
	return out
}
