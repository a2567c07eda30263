//go:build linux

package local_test

import (
	"context"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// TestEscapeSuiteInASession runs every attack of the escape suite in a
// session of its own: a session's sandbox has every protection of a fresh
// one. Each attack is the session's second call, after one that leaves
// state behind; while the interpreter lives it must still answer, and what
// the attack left running (daemons, a fork bomb) is checked once the
// session has ended, as a session's processes live as long as it does.
func TestEscapeSuiteInASession(t *testing.T) {
	b := newBackend(t)
	for _, tc := range escapeCases(b, newHostFixtures(t)) {
		t.Run(tc.name, func(t *testing.T) {
			runEscapeCase(t, b, tc, func(l sandbox.Limits) sandbox.Result {
				s, err := b.StartSession(context.Background(), sandbox.SessionKey{Owner: "escape", Name: "attack"}, l)
				if err != nil {
					t.Fatalf("StartSession: %v", err)
				}
				defer s.Close()
				if first := call(t, s, "before = 41"); first.Status != sandbox.StatusOK {
					t.Fatalf("the session's first call: %s %+v", first.Status, first.Error)
				}
				res, err := s.Execute(context.Background(), sandbox.Request{Code: pyPrelude + tc.code, Limits: l})
				if err != nil {
					t.Fatalf("Execute in the session: %v", err)
				}
				select {
				case <-s.Done(): // the attack ended the interpreter (a limit's kill): its result says so
				default:
					if after := call(t, s, "before + 1"); after.Status != sandbox.StatusOK || resultString(after) != "42" {
						t.Errorf("the session does not answer after the attack: %s %+v", after.Status, after.Error)
					}
				}
				s.Close()
				return res
			})
		})
	}
}
