package egress

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Bounds of the ledger's attempts that made no connection (see Ledger).
const (
	// maxListed is how many of them are listed one by one.
	maxListed = 256
	// maxDestinations is how many destinations further ones are counted
	// for, each in one summary entry.
	maxDestinations = 256
)

// Ledger is the record of one session's connection attempts, in the order
// they were decided.
//
// Every attempt that got as far as dialling (each one counts against
// Config.MaxConnections) is listed in full: host, address, rule, bytes,
// whatever came of it. Attempts that made no connection — refused by the
// policy or a proxy limit, or whose name did not resolve — are listed one
// by one up to 256; further ones are summarised, never dropped: one entry
// per destination (host, port, method, outcome, rule and reason) with a
// Count, for up to 256 destinations, then one entry per outcome and rule,
// without a host. The ledger's size is thus bounded by MaxConnections, 512
// and the number of rules, whatever the sandbox tries.
type Ledger struct {
	// Entries are the attempts and summaries in the order they were
	// first seen.
	Entries []Entry `json:"entries"`
}

// Entry is one connection attempt (a CONNECT tunnel or one plain HTTP
// request), or a summary of several, in the form results report it:
// Method is CONNECT or the HTTP method (empty for a client connection
// refused before its request was read); Rule is the policy verdict's rule,
// or "proxy limit", "sni check" for the proxy's own refusals; Error says
// what went wrong after the attempt was allowed (the name did not resolve,
// the dial or the transfer failed, or a proxy limit cut the connection);
// Count, when not 0, is how many attempts a summary stands for.
type Entry = sandbox.Connection

// attempts is how many attempts e stands for.
func attempts(e Entry) int { return max(e.Count, 1) }

// Summary is a ledger in numbers.
type Summary struct {
	// Attempts counts every attempt, the summarised ones included.
	Attempts int `json:"attempts"`
	// Allowed and Denied count the attempts by outcome; Failed counts the
	// allowed ones that have an Error.
	Allowed int `json:"allowed"`
	Denied  int `json:"denied"`
	Failed  int `json:"failed"`
	// BytesOut and BytesIn add up the byte counts.
	BytesOut int64 `json:"bytes_out"`
	BytesIn  int64 `json:"bytes_in"`
}

// Summary counts l's attempts and bytes.
func (l Ledger) Summary() Summary {
	var s Summary
	for _, e := range l.Entries {
		n := attempts(e)
		s.Attempts += n
		switch {
		case !e.Allowed:
			s.Denied += n
		default:
			s.Allowed += n
			if e.Error != "" {
				s.Failed += n
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

// ruleKey identifies the summary of the attempts beyond maxDestinations
// that had one outcome by one rule.
type ruleKey struct {
	allowed bool
	rule    string
}

// ledger collects a session's records.
type ledger struct {
	mu      sync.Mutex
	records []*record         // in order: listed attempts and summaries
	listed  int               // attempts without a connection listed one by one
	byDest  map[Entry]*record // summaries per destination (the entry as listed)
	byRule  map[ruleKey]*record
}

// add lists an attempt that is dialling (and so counts against
// MaxConnections): it is always listed. The record it returns follows the
// connection.
func (l *ledger) add(e Entry) *record {
	r := &record{e: e}
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	return r
}

// note records an attempt that made no connection: listed while fewer than
// maxListed are, then counted in the summary of its destination, or, once
// maxDestinations have one, in the summary of its outcome and rule. It
// reports whether the attempt was listed.
func (l *ledger) note(e Entry) (listed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.listed < maxListed {
		l.listed++
		l.records = append(l.records, &record{e: e})
		return true
	}
	if r := l.byDest[e]; r != nil {
		r.update(func(e *Entry) { e.Count++ })
		return false
	}
	if len(l.byDest) < maxDestinations {
		if l.byDest == nil {
			l.byDest = make(map[Entry]*record)
		}
		r := &record{e: e}
		r.e.Count = 1
		l.byDest[e] = r
		l.records = append(l.records, r)
		return false
	}
	k := ruleKey{allowed: e.Allowed, rule: e.Rule}
	if r := l.byRule[k]; r != nil {
		r.update(func(e *Entry) { e.Count++ })
		return false
	}
	if l.byRule == nil {
		l.byRule = make(map[ruleKey]*record)
	}
	r := &record{e: ruleSummary(k)}
	l.byRule[k] = r
	l.records = append(l.records, r)
	return false
}

// ruleSummary is the first state of the summary for k: one attempt, no
// destination.
func ruleSummary(k ruleKey) Entry {
	why := " (counted by rule only: the ledger lists " + strconv.Itoa(maxListed) +
		" attempts that made no connection and counts further ones for " + strconv.Itoa(maxDestinations) + " destinations)."
	e := Entry{Allowed: k.allowed, Rule: k.rule, Count: 1}
	if k.allowed {
		e.Error = "no connection was made"
		e.Reason = "Further attempts to other destinations, allowed by " + k.rule + ", made no connection" + why
	} else {
		e.Reason = "Further connections to other destinations were refused by " + k.rule + why
	}
	return e
}

// snapshot copies the ledger as it stands.
func (l *ledger) snapshot() Ledger {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := Ledger{Entries: make([]Entry, len(l.records))}
	for i, r := range l.records {
		out.Entries[i] = r.entry()
	}
	return out
}
