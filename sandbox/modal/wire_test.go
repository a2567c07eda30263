package modal

import (
	"reflect"
	"strings"
	"testing"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// createRequests returns the SandboxCreateV2 requests the server received.
func createRequests(t *testing.T, srv *modaltest.Server) []*pb.SandboxCreateV2Request {
	t.Helper()
	var out []*pb.SandboxCreateV2Request
	for _, m := range srv.Requests("SandboxCreateV2") {
		out = append(out, m.(*pb.SandboxCreateV2Request))
	}
	return out
}

// TestNetworkOnTheWire runs one call per network policy, from the policy
// file's section through OptionsFromPolicy, and checks the network access
// the create request carries.
func TestNetworkOnTheWire(t *testing.T) {
	tls := func(h string) policy.NetworkRule { return policy.NetworkRule{Host: h, Ports: []int{443}} }
	cidr := func(c string) policy.NetworkRule { return policy.NetworkRule{CIDR: c} }
	tests := []struct {
		name    string
		network policy.Network
		typ     pb.NetworkAccess_NetworkAccessType
		domains []string
		cidrs   []string
	}{
		{"no network policy", policy.Default().Network, pb.NetworkAccess_BLOCKED, nil, nil},
		{"allow_egress false", policy.Network{AllowEgress: false, Allow: []policy.NetworkRule{}}, pb.NetworkAccess_BLOCKED, nil, nil},
		{"hostnames (advisory)", policy.Network{AllowEgress: true, OnUnenforceable: policy.Advisory, Allow: []policy.NetworkRule{tls("pypi.org"), tls("*.pythonhosted.org")}},
			pb.NetworkAccess_ALLOWLIST, []string{"pypi.org", "pythonhosted.org", "*.pythonhosted.org"}, nil},
		{"CIDRs", policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{cidr("203.0.113.0/24"), cidr("2001:db8::/32")}, Deny: []policy.NetworkRule{cidr("203.0.113.0/26")}},
			pb.NetworkAccess_ALLOWLIST, nil, []string{"203.0.113.64/26", "203.0.113.128/25", "2001:db8::/32"}},
		{"hostnames and CIDRs (advisory)", policy.Network{AllowEgress: true, OnUnenforceable: policy.Advisory, Allow: []policy.NetworkRule{cidr("10.0.0.0/8"), tls("api.example.com")}},
			pb.NetworkAccess_ALLOWLIST, []string{"api.example.com"}, []string{"10.0.0.0/8"}},
	}
	srv := startCP(t, modaltest.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy.Default()
			p.Network.AllowEgress, p.Network.Allow, p.Network.Deny = tt.network.AllowEgress, tt.network.Allow, tt.network.Deny
			if tt.network.OnUnenforceable != "" {
				p.Network.OnUnenforceable = tt.network.OnUnenforceable
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("policy: %v", err)
			}
			opts, err := OptionsFromPolicy(p)
			if err != nil {
				t.Fatalf("OptionsFromPolicy: %v", err)
			}
			srv.ResetRequests()
			b := newBackend(t, srv, opts)
			if res, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: opts.PoolLimits}); err != nil || res.Status != sandbox.StatusOK {
				t.Fatalf("Execute: %+v, %v", res, err)
			}
			reqs := createRequests(t, srv)
			if len(reqs) != 1 {
				t.Fatalf("%d create requests, want 1", len(reqs))
			}
			na := reqs[0].GetDefinition().GetNetworkAccess()
			if na.GetNetworkAccessType() != tt.typ {
				t.Errorf("network access type %v, want %v", na.GetNetworkAccessType(), tt.typ)
			}
			if got := na.GetAllowedDomains(); !sameStrings(got, tt.domains) {
				t.Errorf("allowed domains %q, want %q", got, tt.domains)
			}
			if got := na.GetAllowedCidrs(); !sameStrings(got, tt.cidrs) {
				t.Errorf("allowed CIDRs %q, want %q", got, tt.cidrs)
			}
		})
	}
}

// TestUnenforceableNetworkIsRefused: a rule Modal cannot enforce stops the
// backend from being built, naming the rule, before any call to Modal.
func TestUnenforceableNetworkIsRefused(t *testing.T) {
	p := policy.Default()
	p.Network = policy.Network{AllowEgress: true, OnUnenforceable: policy.Refuse, Allow: []policy.NetworkRule{{Host: "pypi.org", Ports: []int{80, 443}}}}
	_, err := OptionsFromPolicy(p)
	if err == nil || !strings.Contains(err.Error(), "/network/allow/0: rule network.allow[0] (host pypi.org, ports 80, 443) cannot be enforced on Modal: Modal's domain allowlist admits only TLS on port 443") {
		t.Errorf("OptionsFromPolicy = %v", err)
	}
}

func sameStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestResourcesAndTagsOnTheWire checks what a call's create and exec
// requests carry: the policy's resources and lifetime, airlock's tags, the
// code on stdin and not in argv, and no secret or environment.
func TestResourcesAndTagsOnTheWire(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	opts := baseOptions()
	opts.CPU, opts.MemoryMiB, opts.Lifetime = 0.25, 384, 45*time.Second
	b := newBackend(t, srv, opts)
	limits := callLimits
	limits.Timeout = 20500 * time.Millisecond
	code := "print('marker-in-the-code')"
	if res, err := b.Execute(testContext(t), sandbox.Request{Code: code, Limits: limits}); err != nil || res.Status != sandbox.StatusOK {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	reqs := createRequests(t, srv)
	if len(reqs) != 1 {
		t.Fatalf("%d create requests", len(reqs))
	}
	req := reqs[0]
	def := req.GetDefinition()
	res := def.GetResources()
	if res.GetMilliCpu() != 250 || res.GetMemoryMb() != 384 || res.GetMemoryMbMax() != 512 {
		t.Errorf("resources: %d milli-CPU, %d MiB requested, %d MiB cap; want 250, 384, 512", res.GetMilliCpu(), res.GetMemoryMb(), res.GetMemoryMbMax())
	}
	if def.GetTimeoutSecs() != 45+21 {
		t.Errorf("lifetime %d s, want 66 (45 + the call's 20.5 s rounded up)", def.GetTimeoutSecs())
	}
	if def.GetWorkdir() != "/tmp" {
		t.Errorf("workdir %q", def.GetWorkdir())
	}
	tags := map[string]string{}
	for _, tag := range req.GetTags() {
		tags[tag.GetTagName()] = tag.GetTagValue()
	}
	if want := map[string]string{TagApp: "airlock-mcp", TagInstance: "test-instance", TagPool: "false"}; !reflect.DeepEqual(tags, want) {
		t.Errorf("tags %v, want %v", tags, want)
	}
	if len(req.GetSecretSources()) != 0 || len(def.GetSecretIds()) != 0 || len(def.GetEntrypointArgs()) != 0 {
		t.Errorf("create carries secrets %v %v or a command %v", req.GetSecretSources(), def.GetSecretIds(), def.GetEntrypointArgs())
	}

	execs := srv.Requests("TaskExecStart")
	if len(execs) != 1 {
		t.Fatalf("%d exec requests", len(execs))
	}
	ex := execs[0].(*pb.TaskExecStartRequest)
	argv := ex.GetCommandArgs()
	if argv[0] != "python3" || strings.Contains(strings.Join(argv, " "), "marker-in-the-code") {
		t.Errorf("argv starts %q and must not carry the code", argv[:min(len(argv), 6)])
	}
	if len(ex.GetEnv()) != 0 || len(ex.GetSecretSources()) != 0 || len(ex.GetSecretIds()) != 0 {
		t.Errorf("exec carries environment %v or secrets", ex.GetEnv())
	}
	if ex.GetTimeoutSecs() != 23 || ex.GetWorkdir() != "/tmp" {
		t.Errorf("exec timeout %d s (want 23: the call's 20.5 s plus grace, rounded up), workdir %q", ex.GetTimeoutSecs(), ex.GetWorkdir())
	}
	var stdin strings.Builder
	for _, m := range srv.Requests("TaskExecStdinWrite") {
		stdin.Write(m.(*pb.TaskExecStdinWriteRequest).GetData())
	}
	if !strings.Contains(stdin.String(), code) {
		t.Error("the code did not go on stdin")
	}
}

// TestCodeSeesNoCredentials: the server's Modal credentials are in its
// environment; the sandboxed code must not see them.
func TestCodeSeesNoCredentials(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	b := newBackend(t, srv, baseOptions())
	res, err := b.Execute(testContext(t), sandbox.Request{Code: "import os\nsorted(k for k in os.environ if 'MODAL' in k or 'TOKEN' in k)", Limits: callLimits})
	if err != nil || res.Result == nil {
		t.Fatalf("Execute: %+v, %v", res, err)
	}
	if *res.Result != "[]" {
		t.Errorf("the code sees %s", *res.Result)
	}
}
