package modal

import (
	"slices"
	"strings"
	"testing"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestImageLayers: backend.modal.apt and backend.modal.pip become layers
// on the image, in the ImageGetOrCreate requests the server makes once
// (however many calls follow), apt first.
func TestImageLayers(t *testing.T) {
	srv := startCP(t, modaltest.Options{})
	opts := baseOptions()
	opts.Apt = []string{"python3-numpy", "fonts-dejavu-core=2.37-6"}
	opts.Pip = []string{"requests", "pandas==2.2.3", "httpx[http2]>=0.27,<1"}
	b := newBackend(t, srv, opts)
	for range 2 {
		res, err := b.Execute(testContext(t), sandbox.Request{Code: "1", Limits: callLimits})
		if err != nil || res.Status != sandbox.StatusOK {
			t.Fatalf("Execute: %v %+v", err, res)
		}
	}
	// The SDK builds the registry image, then the layers on it as a
	// second image whose base is the first: two requests, once.
	reqs := srv.Requests("ImageGetOrCreate")
	if len(reqs) != 2 {
		t.Fatalf("%d ImageGetOrCreate requests after two calls, want 2 (the registry image and the layers, built once per server)", len(reqs))
	}
	base := reqs[0].(*pb.ImageGetOrCreateRequest).GetImage().GetDockerfileCommands()
	if !slices.Equal(base, []string{"FROM python:3.12-slim"}) {
		t.Errorf("base image commands = %q", base)
	}
	layered := reqs[1].(*pb.ImageGetOrCreateRequest).GetImage()
	want := []string{
		"FROM base",
		"RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends 'python3-numpy' 'fonts-dejavu-core=2.37-6' && rm -rf /var/lib/apt/lists/*",
		"RUN python3 -m pip install --no-cache-dir --disable-pip-version-check 'requests' 'pandas==2.2.3' 'httpx[http2]>=0.27,<1'",
	}
	if got := layered.GetDockerfileCommands(); !slices.Equal(got, want) {
		t.Errorf("layer commands:\n got %q\nwant %q", got, want)
	}
	if bases := layered.GetBaseImages(); len(bases) != 1 || bases[0].GetDockerTag() != "base" || bases[0].GetImageId() == "" {
		t.Errorf("layers' base images = %v, want the registry image as base", bases)
	}
	if def := opts.ImageDefinition(); !strings.HasPrefix(def, "python:3.12-slim with layers [RUN apt-get") || !strings.Contains(def, "'pandas==2.2.3'") {
		t.Errorf("ImageDefinition = %q", def)
	}
}

// TestBadImageLayersAreRefused: an entry that is not a plain name or
// requirement (it would reach a shell) is refused by New, naming the key.
func TestBadImageLayersAreRefused(t *testing.T) {
	tests := []struct {
		name     string
		apt, pip []string
		key      string
	}{
		{"apt with a shell command", []string{"curl; rm -rf /"}, nil, "backend.modal.apt[0]"},
		{"apt option", []string{"-oDebug=1"}, nil, "backend.modal.apt[0]"},
		{"pip URL", nil, []string{"requests", "evil @ https://example.com/x.whl"}, "backend.modal.pip[1]"},
		{"pip quote", nil, []string{"x'y"}, "backend.modal.pip[0]"},
		{"pip option", nil, []string{"--index-url=https://example.com"}, "backend.modal.pip[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOptions()
			opts.Apt, opts.Pip = tt.apt, tt.pip
			_, err := New(opts)
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("New: %v; want a refusal naming %s", err, tt.key)
			}
		})
	}
}
