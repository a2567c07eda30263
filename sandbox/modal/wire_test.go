package modal

import (
	"reflect"
	"strings"
	"testing"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"

	"github.com/airlock-mcp/airlock-mcp/netrules"
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

// TestNetworkOnTheWire runs one call per set of network rules, mapped by
// NetworkFor, and checks the network access the create request carries.
func TestNetworkOnTheWire(t *testing.T) {
	tls := func(h string) netrules.Rule { return netrules.Rule{Host: h, Ports: []int{443}} }
	cidr := func(c string) netrules.Rule { return netrules.Rule{CIDR: c} }
	tests := []struct {
		name    string
		rules   netrules.Rules
		typ     pb.NetworkAccess_NetworkAccessType
		domains []string
		cidrs   []string
	}{
		{"no network rules", netrules.Rules{}, pb.NetworkAccess_BLOCKED, nil, nil},
		{"allow_egress false", netrules.Rules{AllowEgress: false, Allow: []netrules.Rule{}}, pb.NetworkAccess_BLOCKED, nil, nil},
		{"hostnames (advisory)", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{tls("pypi.org"), tls("*.pythonhosted.org")}},
			pb.NetworkAccess_ALLOWLIST, []string{"pypi.org", "pythonhosted.org", "*.pythonhosted.org"}, nil},
		{"CIDRs", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{cidr("203.0.113.0/24"), cidr("2001:db8::/32")}, Deny: []netrules.Rule{cidr("203.0.113.0/26")}},
			pb.NetworkAccess_ALLOWLIST, nil, []string{"203.0.113.64/26", "203.0.113.128/25", "2001:db8::/32"}},
		{"hostnames and CIDRs (advisory)", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{cidr("10.0.0.0/8"), tls("api.example.com")}},
			pb.NetworkAccess_ALLOWLIST, []string{"api.example.com"}, []string{"10.0.0.0/8"}},
	}
	srv := startCP(t, modaltest.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOptions()
			opts.Network = NetworkFor(tt.rules)
			srv.ResetRequests()
			b := newBackend(t, srv, opts)
			if res, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: opts.DefaultLimits}); err != nil || res.Status != sandbox.StatusOK {
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
