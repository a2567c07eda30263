package modaltest

import (
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Defaults used when the corresponding Options field is empty.
const (
	// DefaultTokenID is the token id the server accepts unless Options says otherwise.
	DefaultTokenID = "ak-modaltest"
	// DefaultTokenSecret is the token secret the server accepts unless Options says otherwise.
	DefaultTokenSecret = "as-modaltest"
	// DefaultPython is the interpreter python3/python argv[0]s are mapped to.
	DefaultPython = "/usr/bin/python3"
	// DefaultImageBuilderVersion is what ClientEnv pins MODAL_IMAGE_BUILDER_VERSION to,
	// and what EnvironmentGetOrCreate reports.
	DefaultImageBuilderVersion = "2025.06"
	// DefaultEnvironment is the environment name used when a request names none.
	DefaultEnvironment = "main"
)

// maxMessageSize matches the SDK's own limit (100 MiB).
const maxMessageSize = 100 * 1024 * 1024

// Options configures a Server. The zero value is usable.
type Options struct {
	// TokenID and TokenSecret are the credentials the server accepts
	// (defaults DefaultTokenID, DefaultTokenSecret). They can be changed later
	// with SetTokens.
	TokenID     string
	TokenSecret string
	// Python is the interpreter an exec's argv[0] of python, python3,
	// pythonX.Y or any absolute path to one of those is mapped to
	// (default DefaultPython).
	Python string
	// CreateDelay is latency injected into every SandboxCreateV2 (see SetCreateDelay).
	CreateDelay time.Duration
	// ImageBuilderVersion is reported by EnvironmentGetOrCreate and pinned by
	// ClientEnv (default DefaultImageBuilderVersion).
	ImageBuilderVersion string
	// TempDir is where the server makes its temporary directory, which holds
	// one directory per sandbox (default os.TempDir()).
	TempDir string

	// afterFunc starts the server's timers: sandbox lifetimes and exec
	// timeouts (default time.AfterFunc). This package's tests set it to
	// fire them when they choose.
	afterFunc func(d time.Duration, f func()) stopper
}

// Server is a running test control plane. Its methods are safe for
// concurrent use.
type Server struct {
	opts     Options
	listener net.Listener
	grpc     *grpc.Server
	baseDir  string
	signKey  []byte
	started  time.Time
	rec      recorder
	changes  changes // tells Await of every change
	faults   faults
	st       state
	conns    atomic.Int64   // client connections open (OpenConnections)
	bg       sync.WaitGroup // every goroutine the server starts besides gRPC's own
	serveErr chan error
	close    sync.Once
}

// Start starts a server listening on 127.0.0.1 on a random port, serving
// plaintext gRPC. Call Close when done.
func Start(opts Options) (*Server, error) {
	if opts.TokenID == "" {
		opts.TokenID = DefaultTokenID
	}
	if opts.TokenSecret == "" {
		opts.TokenSecret = DefaultTokenSecret
	}
	if opts.Python == "" {
		opts.Python = DefaultPython
	}
	if opts.ImageBuilderVersion == "" {
		opts.ImageBuilderVersion = DefaultImageBuilderVersion
	}
	if opts.afterFunc == nil {
		opts.afterFunc = realAfterFunc
	}

	baseDir, err := os.MkdirTemp(opts.TempDir, "modaltest-")
	if err != nil {
		return nil, fmt.Errorf("modaltest: creating temp dir: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		_ = os.RemoveAll(baseDir)
		return nil, fmt.Errorf("modaltest: generating signing key: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(baseDir)
		return nil, fmt.Errorf("modaltest: listening on 127.0.0.1: %w", err)
	}

	s := &Server{
		opts:     opts,
		listener: lis,
		baseDir:  baseDir,
		signKey:  key,
		started:  time.Now(),
		serveErr: make(chan error, 1),
	}
	s.st.init(opts.TokenID, opts.TokenSecret)
	s.faults.init()
	if opts.CreateDelay > 0 {
		s.SetCreateDelay(opts.CreateDelay)
	}

	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxSendMsgSize(maxMessageSize),
		// The SDK pings every 30 s even without active calls; the default
		// enforcement policy would answer that with GOAWAY (too_many_pings).
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             5 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.WaitForHandlers(true),
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	)
	// Two types: the services share the method name SandboxWaitUntilReady,
	// so one Go type cannot implement both.
	pb.RegisterModalClientServer(s.grpc, &controlService{s: s})
	pb.RegisterTaskCommandRouterServer(s.grpc, &routerService{s: s})

	go func() { s.serveErr <- s.grpc.Serve(countingListener{Listener: lis, s: s}) }()
	return s, nil
}

// Close terminates every sandbox (killing every process it started and
// removing its directory), stops serving and removes the server's temporary
// directory. It waits for everything the server started. Safe to call twice.
func (s *Server) Close() {
	s.close.Do(func() {
		s.st.mu.Lock()
		s.st.closed = true
		s.st.mu.Unlock()
		for _, sb := range s.st.allSandboxes() {
			s.terminate(sb, pb.GenericResult_GENERIC_STATUS_TERMINATED, "modaltest server closed")
		}
		s.grpc.Stop()
		<-s.serveErr
		s.bg.Wait()
		_ = os.RemoveAll(s.baseDir)
	})
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL is the control plane URL to give the SDK as MODAL_SERVER_URL:
// http://127.0.0.1:PORT (plaintext).
func (s *Server) URL() string { return "http://" + s.Addr() }

// RouterURL is the task command router URL handed out by SandboxCreateV2:
// https://127.0.0.1:PORT. The SDK insists on https but dials it without TLS
// because the control plane URL is on 127.0.0.1.
func (s *Server) RouterURL() string { return "https://" + s.Addr() }

// ClientEnv is the environment the SDK needs to talk to this server, as
// KEY=VALUE pairs: MODAL_SERVER_URL, MODAL_TOKEN_ID, MODAL_TOKEN_SECRET (the
// currently accepted ones), MODAL_CONFIG_PATH pointing at a file that does not
// exist (so no ~/.modal.toml profile leaks in), MODAL_IMAGE_BUILDER_VERSION
// (so no EnvironmentGetOrCreate is needed) and MODAL_SANDBOX_V2=1 (the
// sandbox API this server implements).
func (s *Server) ClientEnv() []string {
	id, secret := s.st.tokens()
	return []string{
		"MODAL_SERVER_URL=" + s.URL(),
		"MODAL_TOKEN_ID=" + id,
		"MODAL_TOKEN_SECRET=" + secret,
		"MODAL_CONFIG_PATH=" + filepath.Join(s.baseDir, "no-such-dir", "modal.toml"),
		"MODAL_IMAGE_BUILDER_VERSION=" + s.opts.ImageBuilderVersion,
		"MODAL_SANDBOX_V2=1",
	}
}

// Setenver is what SetEnv needs; *testing.T and *testing.B satisfy it.
type Setenver interface {
	Setenv(key, value string)
}

// SetEnv sets every ClientEnv variable with t.Setenv, so they are restored
// when the test ends. The SDK reads them in modal.NewClientWithOptions.
func (s *Server) SetEnv(t Setenver) {
	for _, kv := range s.ClientEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// goBackground runs f in a goroutine that Close waits for.
func (s *Server) goBackground(f func()) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f()
	}()
}
