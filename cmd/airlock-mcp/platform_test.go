package main

import (
	"strings"
	"testing"
)

// TestLocalBackendOffLinux: on macOS and Windows a command that would
// start the local backend says in one sentence what to do instead (Modal,
// or WSL 2 or a Linux VM); with --backend modal, on Linux, or for a
// command that starts no backend, nothing stops it.
func TestLocalBackendOffLinux(t *testing.T) {
	tests := []struct {
		goos, command, backend string
		refused                bool
	}{
		{"darwin", "stdio", "local", true},
		{"darwin", "http", "local", true},
		{"windows", "run", "local", true},
		{"windows", "doctor", "local", true},
		{"freebsd", "stdio", "local", true},
		{"darwin", "stdio", "modal", false},
		{"windows", "http", "modal", false},
		{"linux", "stdio", "local", false},
		{"darwin", "policy", "local", false},
		{"windows", "version", "local", false},
	}
	for _, tc := range tests {
		msg := localUnsupported(tc.goos, tc.command, tc.backend)
		if (msg != "") != tc.refused {
			t.Errorf("%s %s --backend %s: %q, want refused=%v", tc.goos, tc.command, tc.backend, msg, tc.refused)
			continue
		}
		if msg == "" {
			continue
		}
		if strings.Count(msg, ". ") != 0 || !strings.HasSuffix(msg, ".") || strings.Contains(msg, "\n") {
			t.Errorf("not one sentence: %q", msg)
		}
		for _, want := range []string{"--backend modal", "WSL 2", "Linux VM"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%q lacks %q", msg, want)
			}
		}
	}
	if msg := localUnsupported("darwin", "stdio", "local"); !strings.Contains(msg, "this is macOS") {
		t.Errorf("darwin is not called macOS: %q", msg)
	}
	if msg := localUnsupported("windows", "stdio", "local"); !strings.Contains(msg, "this is Windows") {
		t.Errorf("windows is not called Windows: %q", msg)
	}
}

// TestDoctorBackend: doctor checks the Modal set-up where the local
// backend cannot run, unless --backend names one.
func TestDoctorBackend(t *testing.T) {
	tests := []struct {
		goos, backend string
		explicit      bool
		want          string
	}{
		{"linux", "local", false, "local"},
		{"linux", "modal", true, "modal"},
		{"darwin", "local", false, "modal"},
		{"windows", "local", false, "modal"},
		{"darwin", "local", true, "local"},
	}
	for _, tc := range tests {
		if got := doctorBackend(tc.goos, tc.backend, tc.explicit); got != tc.want {
			t.Errorf("doctorBackend(%s, %s, %v) = %s, want %s", tc.goos, tc.backend, tc.explicit, got, tc.want)
		}
	}
}

// TestStartOffLinux runs the command line as it runs on macOS: serving
// without --backend modal stops at once with the one sentence, and doctor
// checks the Modal set-up.
func TestStartOffLinux(t *testing.T) {
	defer func(g string) { goos = g }(goos)
	goos = "darwin"
	for _, args := range [][]string{nil, {"stdio"}, {"http"}, {"run", "-"}, {"--backend", "local", "doctor"}} {
		code, stdout, stderr := runCLI(args...)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "airlock-mcp: The local backend needs Linux and this is macOS: start airlock-mcp with --backend modal") {
			t.Errorf("%q on macOS: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	t.Setenv("MODAL_CONFIG_PATH", t.TempDir()+"/none.toml")
	t.Setenv("MODAL_TOKEN_ID", "")
	t.Setenv("MODAL_TOKEN_SECRET", "")
	_, stdout, stderr := runCLI("doctor")
	if !strings.Contains(stdout, "— backend modal") || strings.Contains(stderr, "Linux") {
		t.Errorf("doctor on macOS does not check Modal:\n%s\nstderr: %s", stdout, stderr)
	}
}
