package modaltest

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	modal "github.com/modal-labs/modal-client/go"
	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
)

// TestBackendFlow drives the whole flow the Modal backend uses and checks
// the exact RPCs the unmodified SDK makes, and what they carried.
func TestBackendFlow(t *testing.T) {
	f := setup(t, Options{})
	ctx := testContext(t)
	sb, err := f.mc.Sandboxes.Create(ctx, f.app, f.img, &modal.SandboxCreateParams{
		CPU:          0.5,
		MemoryMiB:    256,
		Timeout:      60 * time.Second,
		Tags:         map[string]string{"owner": "airlock", "pool": "warm"},
		BlockNetwork: true,
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := f.srv.LiveSandboxes(); got != 1 {
		t.Errorf("LiveSandboxes after create = %d, want 1", got)
	}

	r := runExec(t, sb, []string{"python3", "-"}, "print(6 * 7)\n", &modal.SandboxExecParams{
		Timeout: 20 * time.Second,
		Workdir: "/work",
	})
	if r.stdout != "42\n" || r.stderr != "" || r.code != 0 || r.waitErr != nil || r.stdoutErr != nil || r.errErr != nil {
		t.Fatalf("exec = %+v, want stdout 42", r)
	}

	code, err := sb.Terminate(ctx, &modal.SandboxTerminateParams{Wait: true})
	if err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if code != 137 {
		t.Errorf("Terminate(Wait) code = %d, want 137 (GENERIC_STATUS_TERMINATED)", code)
	}
	if got := f.srv.LiveSandboxes(); got != 0 {
		t.Errorf("LiveSandboxes after terminate = %d, want 0", got)
	}
	if c, tm := f.srv.CreatedSandboxes(), f.srv.TerminatedSandboxes(); c != 1 || tm != 1 {
		t.Errorf("created, terminated = %d, %d, want 1, 1", c, tm)
	}

	// The exact RPCs, in order of first use.
	var seen []string
	for _, m := range f.srv.MethodNames() {
		if !slices.Contains(seen, m) {
			seen = append(seen, m)
		}
	}
	want := []string{
		"AuthTokenGet", "AppGetOrCreate", "ImageGetOrCreate", "SandboxCreateV2",
		"TaskExecStart", "TaskExecStdinWrite", "TaskExecStdioRead", "TaskExecWait",
		"SandboxTerminateV2", "SandboxWaitV2",
	}
	// The two stdio reads run concurrently with nothing ordering them
	// against the stdin writes' completion; compare as sets past TaskExecStart.
	if !slices.Equal(seen[:5], want[:5]) || !sameSet(seen, want) {
		t.Errorf("RPCs = %v, want %v", seen, want)
	}

	// What went on the wire.
	apps := f.srv.Requests("AppGetOrCreate")
	if got := apps[0].(*pb.AppGetOrCreateRequest).GetAppName(); got != "airlock-test" {
		t.Errorf("app name = %q", got)
	}
	img := f.srv.Requests("ImageGetOrCreate")[0].(*pb.ImageGetOrCreateRequest)
	if got := img.GetImage().GetDockerfileCommands(); !slices.Equal(got, []string{"FROM " + testImage}) {
		t.Errorf("image commands = %q", got)
	}
	if got := img.GetBuilderVersion(); got != DefaultImageBuilderVersion {
		t.Errorf("builder version = %q", got)
	}
	if got := f.srv.ImageRefs(); !slices.Equal(got, []string{testImage}) {
		t.Errorf("ImageRefs = %q", got)
	}
	create := f.srv.Requests("SandboxCreateV2")[0].(*pb.SandboxCreateV2Request)
	def := create.GetDefinition()
	if got := def.GetResources().GetMilliCpu(); got != 500 {
		t.Errorf("milli_cpu = %d, want 500", got)
	}
	if got := def.GetResources().GetMemoryMb(); got != 256 {
		t.Errorf("memory_mb = %d, want 256", got)
	}
	if got := def.GetTimeoutSecs(); got != 60 {
		t.Errorf("timeout_secs = %d, want 60", got)
	}
	if got := def.GetNetworkAccess().GetNetworkAccessType(); got != pb.NetworkAccess_BLOCKED {
		t.Errorf("network access = %v, want BLOCKED", got)
	}
	if got := def.GetImageId(); got != f.img.ImageID {
		t.Errorf("image id = %q, want %q", got, f.img.ImageID)
	}
	tags := map[string]string{}
	for _, tag := range create.GetTags() {
		tags[tag.GetTagName()] = tag.GetTagValue()
	}
	if tags["owner"] != "airlock" || tags["pool"] != "warm" || len(tags) != 2 {
		t.Errorf("tags = %v", tags)
	}
	start := f.srv.Requests("TaskExecStart")[0].(*pb.TaskExecStartRequest)
	if got := start.GetCommandArgs(); !slices.Equal(got, []string{"python3", "-"}) {
		t.Errorf("argv = %q", got)
	}
	if start.GetTimeoutSecs() != 20 || start.GetWorkdir() != "/work" {
		t.Errorf("exec timeout, workdir = %d, %q", start.GetTimeoutSecs(), start.GetWorkdir())
	}

	info, ok := f.srv.Sandbox(sb.SandboxID)
	if !ok || info.Live || info.Status != pb.GenericResult_GENERIC_STATUS_TERMINATED || info.Execs != 1 {
		t.Errorf("Sandbox info = %+v", info)
	}
	if _, err := os.Stat(info.Dir); !os.IsNotExist(err) {
		t.Errorf("sandbox dir %s still there after terminate (%v)", info.Dir, err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// TestNetworkAccessOnTheWire checks how each network option reaches the
// create request.
func TestNetworkAccessOnTheWire(t *testing.T) {
	f := setup(t, Options{})
	tests := []struct {
		name    string
		params  modal.SandboxCreateParams
		want    pb.NetworkAccess_NetworkAccessType
		cidrs   []string
		domains []string
	}{
		{"default open", modal.SandboxCreateParams{}, pb.NetworkAccess_OPEN, nil, nil},
		{"blocked", modal.SandboxCreateParams{BlockNetwork: true}, pb.NetworkAccess_BLOCKED, nil, nil},
		{"cidr allowlist", modal.SandboxCreateParams{
			OutboundCIDRAllowlist: &modal.Allowlist{Entries: []string{"10.0.0.0/8"}},
		}, pb.NetworkAccess_ALLOWLIST, []string{"10.0.0.0/8"}, nil},
		{"domain allowlist", modal.SandboxCreateParams{
			OutboundDomainAllowlist: &modal.Allowlist{Entries: []string{"pypi.org", "*.pypi.org"}},
		}, pb.NetworkAccess_ALLOWLIST, nil, []string{"pypi.org", "*.pypi.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.ResetRequests()
			f.create(t, &tt.params)
			reqs := f.srv.Requests("SandboxCreateV2")
			if len(reqs) != 1 {
				t.Fatalf("%d create requests, want 1", len(reqs))
			}
			na := reqs[0].(*pb.SandboxCreateV2Request).GetDefinition().GetNetworkAccess()
			if na.GetNetworkAccessType() != tt.want ||
				!slices.Equal(na.GetAllowedCidrs(), tt.cidrs) ||
				!slices.Equal(na.GetAllowedDomains(), tt.domains) {
				t.Errorf("network access = %v %q %q, want %v %q %q",
					na.GetNetworkAccessType(), na.GetAllowedCidrs(), na.GetAllowedDomains(),
					tt.want, tt.cidrs, tt.domains)
			}
		})
	}
}

// TestNoEnvironmentLookupWithPinnedBuilderVersion: with ClientEnv the SDK
// skips EnvironmentGetOrCreate; without the pin it asks, and the server
// answers.
func TestNoEnvironmentLookupWithPinnedBuilderVersion(t *testing.T) {
	f := setup(t, Options{})
	if n := len(f.srv.Requests("EnvironmentGetOrCreate")); n != 0 {
		t.Errorf("%d EnvironmentGetOrCreate with the builder version pinned, want 0", n)
	}

	t.Setenv("MODAL_IMAGE_BUILDER_VERSION", "")
	mc := newClient(t, nil)
	ctx := context.Background()
	app, err := mc.Apps.FromName(ctx, "airlock-test", &modal.AppFromNameParams{CreateIfMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Images.FromRegistry(testImage, nil).Build(ctx, app, nil); err != nil {
		t.Fatalf("Build without pinned builder version: %v", err)
	}
	if n := len(f.srv.Requests("EnvironmentGetOrCreate")); n != 1 {
		t.Errorf("%d EnvironmentGetOrCreate, want 1", n)
	}
}
