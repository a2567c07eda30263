package modal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	sdk "github.com/modal-labs/modal-client/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The kinds of failure the backend reports. Every error Execute returns
// for one of them wraps the kind (test with errors.Is) and reads, on its
// own, as what happened and what the operator can do: never a raw gRPC
// status, never a credential.
var (
	// ErrNoCredentials: no Modal credentials are configured.
	ErrNoCredentials = errors.New("modal credentials are not configured")
	// ErrAuth: Modal rejected the configured credentials.
	ErrAuth = errors.New("modal rejected the credentials")
	// ErrPermission: Modal refused a request as not permitted, which is
	// either the credentials' rights or the workspace's plan.
	ErrPermission = errors.New("modal refused permission")
	// ErrImage: the sandbox image could not be built.
	ErrImage = errors.New("modal could not build the image")
	// ErrCapacity: Modal refused for lack of capacity or quota.
	ErrCapacity = errors.New("modal is out of capacity or quota")
	// ErrUnreachable: Modal's servers could not be reached.
	ErrUnreachable = errors.New("modal is unreachable")
	// ErrApp: the App or environment could not be opened.
	ErrApp = errors.New("modal app unavailable")
	// ErrCreate: a sandbox could not be created for another reason.
	ErrCreate = errors.New("modal sandbox creation failed")
	// ErrExec: the harness could not be started in a created sandbox.
	ErrExec = errors.New("modal exec failed")
	// ErrClosed: the backend is closed.
	ErrClosed = errors.New("modal backend is closed")
)

// backendError is an operator-facing error: its text is clean, and it
// unwraps to both its kind and the SDK error behind it.
type backendError struct {
	kind  error
	text  string
	cause error
}

func (e *backendError) Error() string   { return e.text }
func (e *backendError) Unwrap() []error { return []error{e.kind, e.cause} }

// stage is the step of the flow an SDK error came from: it decides what an
// error that is not otherwise recognisable means.
type stage int

const (
	stageApp stage = iota
	stageImage
	stageCreate
	stageExec
)

// describe turns an SDK error from stage into an operator-facing error.
// Cancellation and deadlines of the caller's context pass through wrapped,
// so callers can still tell a cancelled call from a failure.
func (b *Backend) describe(st stage, err error, creds Credentials) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("modal: %w", err)
	}
	said := creds.redact(serverSaid(err))
	code := codes.Unknown
	if s, ok := grpcStatus(err); ok {
		code = s.Code()
	}
	mk := func(kind error, format string, args ...any) error {
		return &backendError{kind: kind, text: fmt.Sprintf(format, args...), cause: err}
	}
	switch {
	case code == codes.PermissionDenied:
		return mk(ErrPermission, "Modal refused the request (Modal said: %s): either the credentials from %s may not do this (a token for another workspace, or one whose rights were restricted or revoked), or the workspace's plan does not allow it (a resource, region or feature it lacks); Modal's words above say which: check the plan on modal.com, or create a new token with `modal token new`",
			said, creds.Source)
	case isAuth(err):
		return mk(ErrAuth, "Modal rejected the credentials from %s (Modal said: %s): they are wrong, revoked or for another workspace; create a new token with `modal token new`, or fix MODAL_TOKEN_ID and MODAL_TOKEN_SECRET, then retry",
			creds.Source, said)
	case code == codes.ResourceExhausted || errors.As(err, &sdk.ResourceExhaustedError{}):
		return mk(ErrCapacity, "Modal refused to create a sandbox for lack of capacity or quota (Modal said: %s): retry later, lower limits.max_concurrent or backend.modal.pool_size, or raise the workspace's limits on modal.com",
			said)
	case code == codes.Unavailable:
		return mk(ErrUnreachable, "cannot reach Modal at %s (%s): check this machine's network access to Modal and https://status.modal.com, then retry",
			creds.ServerURL, transportDetail(said))
	}
	switch st {
	case stageApp:
		if code == codes.NotFound || errors.As(err, &sdk.NotFoundError{}) {
			return mk(ErrApp, "Modal could not open the App %q in environment %q (Modal said: %s): check backend.modal.environment names an environment of the workspace",
				b.opts.AppName, b.environmentName(), said)
		}
		return mk(ErrApp, "Modal could not open the App %q (Modal said: %s): check backend.modal.app_name and backend.modal.environment, then retry",
			b.opts.AppName, said)
	case stageImage:
		return mk(ErrImage, "Modal could not build the image %q (policy backend.modal.image; Modal said: %s): check that the reference exists in a public registry and that the image provides python3",
			b.opts.Image, said)
	case stageExec:
		return mk(ErrExec, "Modal could not start Python in the sandbox (Modal said: %s): check that the image %q provides python3 on its PATH, then retry",
			said, b.opts.Image)
	default:
		return mk(ErrCreate, "Modal could not create a sandbox (Modal said: %s): retry; if it persists, check the App %q on modal.com and https://status.modal.com",
			said, b.opts.AppName)
	}
}

func (b *Backend) environmentName() string {
	if b.opts.Environment == "" {
		return "(the profile's default)"
	}
	return b.opts.Environment
}

// grpcStatus finds the gRPC status inside err, however deeply the SDK
// wrapped it.
func grpcStatus(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		if s := se.GRPCStatus(); s != nil {
			return s, true
		}
	}
	return nil, false
}

// maxSaid bounds how much of the server's own message an error quotes.
const maxSaid = 300

// serverSaid is the server's own message in err: the gRPC status message,
// or the SDK error's text, on one line and bounded, never the raw
// "rpc error: code = ... desc = ..." form.
func serverSaid(err error) string {
	msg := err.Error()
	if s, ok := grpcStatus(err); ok {
		msg = s.Message()
		if msg == "" {
			msg = s.Code().String()
		}
	}
	msg = strings.Join(strings.FieldsFunc(msg, unicode.IsSpace), " ")
	if len(msg) > maxSaid {
		cut := maxSaid
		for cut > 0 && !isRuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	if msg == "" {
		msg = "no details"
	}
	return msg
}

func isRuneStart(c byte) bool { return c&0xC0 != 0x80 }

// transportDetail shortens gRPC's connection errors ("connection error:
// desc = \"transport: Error while dialing: dial tcp ...: connection
// refused\"") to the dial error itself.
func transportDetail(msg string) string {
	if i := strings.Index(msg, "dial "); i >= 0 {
		return strings.TrimRight(msg[i:], `"`)
	}
	msg = strings.TrimPrefix(msg, "connection error: desc = ")
	return strings.Trim(msg, `"`)
}

// isNotFound reports whether err says the thing asked about does not exist.
func isNotFound(err error) bool {
	if errors.As(err, &sdk.NotFoundError{}) {
		return true
	}
	s, ok := grpcStatus(err)
	return ok && s.Code() == codes.NotFound
}

// isClosed reports whether err comes from the backend being closed.
func isClosed(err error) bool { return errors.Is(err, ErrClosed) }

// isAuth reports whether err is Modal refusing the credentials, or
// refusing permission (which may be the credentials too): either way the
// session is dropped, so the next call reads the credentials afresh.
func isAuth(err error) bool {
	s, ok := grpcStatus(err)
	return ok && (s.Code() == codes.Unauthenticated || s.Code() == codes.PermissionDenied)
}
