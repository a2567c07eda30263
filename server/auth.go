package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
)

// minTokenLen is the shortest bearer token accepted in a tokens file.
const minTokenLen = 16

// Tokens is a set of named bearer tokens, loaded from a file of
// "NAME TOKEN" lines. Reload swaps the set atomically, so a running server
// picks up an edited file (on SIGHUP) without dropping requests. The zero
// value holds no tokens.
type Tokens struct {
	path string
	set  atomic.Pointer[[]namedToken]
}

type namedToken struct {
	name string
	sum  [sha256.Size]byte
}

// LoadTokens reads the tokens file at path.
func LoadTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload reads the file again; on error the previous set stays in force.
func (t *Tokens) Reload() error {
	data, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("auth tokens: %w", err)
	}
	set, err := parseTokens(t.path, data)
	if err != nil {
		return err
	}
	t.set.Store(&set)
	return nil
}

// Len is the number of tokens in force.
func (t *Tokens) Len() int {
	if p := t.set.Load(); p != nil {
		return len(*p)
	}
	return 0
}

func parseTokens(path string, data []byte) ([]namedToken, error) {
	var set []namedToken
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		switch {
		case len(f) != 2:
			return nil, fmt.Errorf("%s:%d: want \"NAME TOKEN\", got %d fields", path, line, len(f))
		case names[f[0]]:
			return nil, fmt.Errorf("%s:%d: client name %q appears twice", path, line, f[0])
		case len(f[1]) < minTokenLen:
			return nil, fmt.Errorf("%s:%d: the token of %q is shorter than %d characters", path, line, f[0], minTokenLen)
		}
		names[f[0]] = true
		set = append(set, namedToken{name: f[0], sum: sha256.Sum256([]byte(f[1]))})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth tokens: %s: %w", path, err)
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%s: no tokens (one \"NAME TOKEN\" pair per line)", path)
	}
	return set, nil
}

// identify returns the name of the client whose token presented is, or "".
// Every stored token is compared, in constant time, whatever matches.
func (t *Tokens) identify(presented string) string {
	p := t.set.Load()
	if p == nil || presented == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(presented))
	name := ""
	for _, nt := range *p {
		if subtle.ConstantTimeCompare(sum[:], nt.sum[:]) == 1 {
			name = nt.name
		}
	}
	return name
}

type clientKey struct{}

// ClientIdentity is the name of the authenticated client that made the
// request behind ctx ("" on stdio or without authentication).
func ClientIdentity(ctx context.Context) string {
	name, _ := ctx.Value(clientKey{}).(string)
	return name
}

// withClient carries the request's client identity into the MCP handlers'
// context.
func withClient(ctx context.Context, r *http.Request) context.Context {
	if name := ClientIdentity(r.Context()); name != "" {
		return context.WithValue(ctx, clientKey{}, name)
	}
	return ctx
}

// requireToken answers 401 with a WWW-Authenticate challenge unless the
// request carries a bearer token from t. The token itself is never logged.
func requireToken(t *Tokens, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		name := ""
		if ok {
			name = t.identify(strings.TrimSpace(presented))
		}
		if name == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="airlock-mcp"`)
			http.Error(w, "airlock-mcp: missing or invalid bearer token (Authorization: Bearer <token>)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, name)))
	})
}
