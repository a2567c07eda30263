package modal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// credentialVars are every variable FindCredentials reads.
var credentialVars = []string{
	"MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET", "MODAL_PROFILE", "MODAL_CONFIG_PATH", "MODAL_SERVER_URL",
	"MODAL_OAUTH_REFRESH_TOKEN", "MODAL_OAUTH_CLIENT_ID", "MODAL_OAUTH_CLIENT_SECRET", "MODAL_OAUTH_JWT_KEY",
}

func TestFindCredentials(t *testing.T) {
	const twoProfiles = `[default]
token_id = "ak-default"
token_secret = "as-default-secret"

[work]
token_id = "ak-work"
token_secret = "as-work-secret"
server_url = "https://work.example"
active = true
`
	tests := []struct {
		name   string
		env    map[string]string
		config string // written to MODAL_CONFIG_PATH unless empty
		// wantSource is the Source found; "" means ErrNoCredentials,
		// whose text must contain every wantErr.
		wantSource string
		wantServer string
		wantErr    []string
	}{
		{name: "nothing configured",
			wantErr: []string{"Modal credentials are not configured: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET in airlock-mcp's environment, or run `modal token new`"}},
		{name: "environment",
			env:        map[string]string{"MODAL_TOKEN_ID": "ak-1", "MODAL_TOKEN_SECRET": "as-1"},
			wantSource: "the environment (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET)", wantServer: defaultServerURL},
		{name: "only the id", env: map[string]string{"MODAL_TOKEN_ID": "ak-1"},
			wantErr: []string{"(only one of the token id and the token secret is set)"}},
		{name: "active profile", config: twoProfiles,
			wantSource: `profile "work" in CONFIG`, wantServer: "https://work.example"},
		{name: "profile named by MODAL_PROFILE", config: twoProfiles, env: map[string]string{"MODAL_PROFILE": "default"},
			wantSource: `profile "default" in CONFIG`, wantServer: defaultServerURL},
		{name: "environment wins over the profile", config: twoProfiles,
			env:        map[string]string{"MODAL_TOKEN_ID": "ak-1", "MODAL_TOKEN_SECRET": "as-1", "MODAL_SERVER_URL": "http://127.0.0.1:9"},
			wantSource: "the environment (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET)", wantServer: "http://127.0.0.1:9"},
		{name: "environment and profile mixed", config: twoProfiles, env: map[string]string{"MODAL_TOKEN_SECRET": "as-1"},
			wantSource: `the environment and profile "work" in CONFIG`},
		{name: "no active profile", config: "[a]\ntoken_id = \"ak\"\ntoken_secret = \"as\"\n",
			wantErr: []string{"CONFIG has no active profile (and MODAL_PROFILE is not set)"}},
		{name: "unknown profile", config: twoProfiles, env: map[string]string{"MODAL_PROFILE": "nope"},
			wantErr: []string{`CONFIG has no profile "nope" with a token`}},
		{name: "malformed file does not quote it", config: "[work]\ntoken_secret = \"as-very-secret\nactive = true\n",
			wantErr: []string{"cannot parse CONFIG: invalid TOML at line 2"}},
		{name: "OAuth", env: map[string]string{"MODAL_OAUTH_REFRESH_TOKEN": "rt", "MODAL_OAUTH_CLIENT_ID": "oc-1", "MODAL_OAUTH_CLIENT_SECRET": "ov-1"},
			wantSource: "OAuth credentials from the environment (MODAL_OAUTH_*)"},
		// The SDK would take either at random, in each process.
		{name: "two active profiles are refused", config: twoProfiles + "\n[other]\ntoken_id = \"ak-o\"\ntoken_secret = \"as-o\"\nactive = true\n",
			wantErr: []string{`CONFIG marks 2 profiles active ("other" and "work"), and the Modal SDK would pick one of them at random`, "keep active = true on one profile only", "MODAL_PROFILE"}},
		{name: "MODAL_PROFILE settles two active profiles", config: twoProfiles + "\n[other]\ntoken_id = \"ak-o\"\ntoken_secret = \"as-o\"\nactive = true\n",
			env: map[string]string{"MODAL_PROFILE": "other"}, wantSource: `profile "other" in CONFIG`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range credentialVars {
				t.Setenv(k, "")
			}
			config := filepath.Join(t.TempDir(), "modal.toml")
			t.Setenv("MODAL_CONFIG_PATH", config)
			if tt.config != "" {
				if err := os.WriteFile(config, []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := FindCredentials()
			if tt.wantSource == "" {
				if !errors.Is(err, ErrNoCredentials) {
					t.Fatalf("FindCredentials = %+v, %v; want ErrNoCredentials", c, err)
				}
				for _, w := range tt.wantErr {
					if w = strings.ReplaceAll(w, "CONFIG", config); !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "very-secret") {
					t.Errorf("error quotes the config file's secret: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(tt.wantSource, "CONFIG", config); c.Source != want {
				t.Errorf("Source = %q, want %q", c.Source, want)
			}
			if tt.wantServer != "" && c.ServerURL != tt.wantServer {
				t.Errorf("ServerURL = %q, want %q", c.ServerURL, tt.wantServer)
			}
			if strings.Contains(c.String(), "secret") || strings.Contains(c.String(), "as-") {
				t.Errorf("String() reveals the secret: %q", c)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	c := Credentials{secret: "as-0123456789"}
	if got := c.redact("bad token as-0123456789 given"); got != "bad token [redacted] given" {
		t.Errorf("redact = %q", got)
	}
}
