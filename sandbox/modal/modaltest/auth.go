package modaltest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys the SDK sends to the control plane.
const (
	mdTokenID     = "x-modal-token-id"
	mdTokenSecret = "x-modal-token-secret"
	mdAuthToken   = "x-modal-auth-token"
	mdRouterAuth  = "authorization"
)

// Lifetimes of the tokens the server hands out. Long enough that the SDK
// never refreshes one during a test.
const (
	authTokenTTL = time.Hour
	routerJWTTTL = time.Hour
)

// Audiences keep a control plane token from being accepted by the router
// and the other way round.
const (
	audControl = "modal-control-plane"
	audRouter  = "task-command-router"
)

// claims is the payload of the JWTs this server mints.
type claims struct {
	Sub       string `json:"sub"`
	Aud       string `json:"aud"`
	SandboxID string `json:"sandbox_id,omitempty"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
}

// mintJWT returns an HS256 JWT: three base64url parts, with an exp claim the
// SDK reads to schedule refreshes.
func (s *Server) mintJWT(c claims) string {
	header := b64(`{"alg":"HS256","typ":"JWT"}`)
	payload, err := json.Marshal(c)
	if err != nil {
		panic("modaltest: marshalling JWT claims: " + err.Error())
	}
	signing := header + "." + b64(string(payload))
	return signing + "." + base64.RawURLEncoding.EncodeToString(s.sign(signing))
}

func (s *Server) sign(data string) []byte {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// verifyJWT checks the signature, audience and expiry of a token this
// server minted and returns its claims.
func (s *Server) verifyJWT(token, aud string) (claims, error) {
	var c claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("malformed token")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.sign(parts[0]+"."+parts[1])) {
		return c, fmt.Errorf("invalid token signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, fmt.Errorf("malformed token payload: %w", err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("malformed token claims: %w", err)
	}
	if c.Aud != aud {
		return c, fmt.Errorf("token is for %q, not %q", c.Aud, aud)
	}
	if time.Now().Unix() >= c.Exp {
		return c, fmt.Errorf("token expired")
	}
	return c, nil
}

// Messages for rejected control plane credentials. "Token ID is malformed"
// is what real Modal answers for a token id without the ak- prefix (seen in
// user reports, e.g. with id and secret swapped); the others are modelled on
// it.
const (
	msgTokenMissing         = "Token missing. Could not authenticate client. If you have token credentials, see modal.com/docs/reference/modal.config for setup help. If you are a new user, register an account at modal.com, then run `modal token new`."
	msgTokenIDMalformed     = "Token ID is malformed"
	msgTokenSecretMalformed = "Token secret is malformed"
	msgTokenInvalid         = "Token ID or secret is invalid"
	msgAuthTokenInvalid     = "Auth token is invalid"
)

// checkCredentials authenticates a control plane call the way the SDK
// presents it: token id and secret in metadata on every call, plus the auth
// token from AuthTokenGet on every call but AuthTokenGet itself.
func (s *Server) checkCredentials(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	id, secret := first(md, mdTokenID), first(md, mdTokenSecret)
	wantID, wantSecret := s.st.tokens()
	switch {
	case id == "" || secret == "":
		return status.Error(codes.Unauthenticated, msgTokenMissing)
	case id == wantID && secret == wantSecret:
	case !strings.HasPrefix(id, "ak-"):
		return status.Error(codes.Unauthenticated, msgTokenIDMalformed)
	case !strings.HasPrefix(secret, "as-"):
		return status.Error(codes.Unauthenticated, msgTokenSecretMalformed)
	default:
		return status.Error(codes.Unauthenticated, msgTokenInvalid)
	}
	if method == methodAuthTokenGet {
		return nil
	}
	if tok := first(md, mdAuthToken); tok != "" {
		if _, err := s.verifyJWT(tok, audControl); err != nil {
			return status.Errorf(codes.Unauthenticated, "%s: %v", msgAuthTokenInvalid, err)
		}
	}
	return nil
}

// authorizeTask checks the router's bearer JWT against the task a request
// names and returns that task's sandbox. A task whose sandbox has finished is
// NotFound, as the real router answers once a task has shut down.
func (s *Server) authorizeTask(ctx context.Context, taskID string) (*sandbox, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	bearer, ok := strings.CutPrefix(first(md, mdRouterAuth), "Bearer ")
	if !ok || bearer == "" {
		return nil, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	c, err := s.verifyJWT(bearer, audRouter)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "invalid bearer token: %v", err)
	}
	if c.Sub != taskID {
		return nil, status.Errorf(codes.PermissionDenied, "token is not valid for task %s", taskID)
	}
	sb := s.st.lookupTask(taskID)
	if sb == nil {
		return nil, status.Errorf(codes.NotFound, "task %s not found", taskID)
	}
	sb.mu.Lock()
	live, lost := sb.live, sb.lost
	sb.mu.Unlock()
	switch {
	case lost:
		return nil, errRouterLost
	case !live:
		return nil, status.Errorf(codes.NotFound, "task %s not found: sandbox %s has finished", taskID, sb.id)
	}
	return sb, nil
}

func (s *Server) routerJWT(sb *sandbox) string {
	now := time.Now()
	return s.mintJWT(claims{
		Sub:       sb.taskID,
		Aud:       audRouter,
		SandboxID: sb.id,
		Iat:       now.Unix(),
		Exp:       now.Add(routerJWTTTL).Unix(),
	})
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// SetTokens changes the credentials the server accepts, effective for the
// next call: clients still using the old ones get Unauthenticated, as after a
// token is revoked.
func (s *Server) SetTokens(tokenID, tokenSecret string) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.tokenID, s.st.tokenSecret = tokenID, tokenSecret
}
