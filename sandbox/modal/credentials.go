package modal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// defaultServerURL is where the SDK goes when nothing says otherwise.
const defaultServerURL = "https://api.modal.com:443"

// Credentials says where the Modal SDK will take its credentials from, as
// found without any network call, following the SDK's own rules: the
// environment (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET) wins field by field over
// the profile named by MODAL_PROFILE, or else the active one, in
// ~/.modal.toml or the file MODAL_CONFIG_PATH names.
type Credentials struct {
	// Source describes where the credentials come from, for people:
	// `the environment (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET)` or
	// `profile "default" in /home/me/.modal.toml`. It never holds a secret.
	Source string
	// ServerURL is the Modal API the SDK will call.
	ServerURL string

	// secret is the token secret (or OAuth secret), kept only so messages
	// quoting the server can be scrubbed of it. Never printed.
	secret string
}

// String is Source: a Credentials value never prints its secret.
func (c Credentials) String() string { return c.Source }

// redact removes the secret from s, should a server ever echo it.
func (c Credentials) redact(s string) string {
	if len(c.secret) < 8 {
		return s
	}
	return strings.ReplaceAll(s, c.secret, "[redacted]")
}

// profileFile is the part of a ~/.modal.toml profile that matters here.
type profileFile struct {
	ServerURL         string `toml:"server_url"`
	TokenID           string `toml:"token_id"`
	TokenSecret       string `toml:"token_secret"`
	OAuthRefreshToken string `toml:"oauth_refresh_token"`
	OAuthClientID     string `toml:"oauth_client_id"`
	OAuthClientSecret string `toml:"oauth_client_secret"`
	OAuthJWTKey       string `toml:"oauth_jwt_key"`
	Active            bool   `toml:"active"`
}

// FindCredentials finds the Modal credentials the SDK would use, reading
// only the environment and the config file. It fails, wrapping
// ErrNoCredentials, when there are none, or when the config file cannot be
// read; the error says what to do.
func FindCredentials() (Credentials, error) {
	path, err := configPath()
	if err != nil {
		return Credentials{}, noCredentials("cannot locate the home directory for ~/.modal.toml (" + err.Error() + ")")
	}
	profiles, err := readProfiles(path)
	if err != nil {
		return Credentials{}, noCredentials(err.Error())
	}
	name := os.Getenv("MODAL_PROFILE")
	if name == "" {
		active := activeProfiles(profiles)
		if len(active) > 1 {
			return Credentials{}, ambiguousProfiles(path, active)
		}
		if len(active) == 1 {
			name = active[0]
		}
	}
	p := profiles[name]
	env := func(k, file string) (string, bool) {
		if v := os.Getenv(k); v != "" {
			return v, true
		}
		return file, false
	}
	c := Credentials{ServerURL: firstNonEmpty(os.Getenv("MODAL_SERVER_URL"), p.ServerURL, defaultServerURL)}
	where := func(fromEnv bool, vars string) string {
		switch {
		case fromEnv:
			return "the environment (" + vars + ")"
		default:
			return fmt.Sprintf("profile %q in %s", name, path)
		}
	}
	id, idEnv := env("MODAL_TOKEN_ID", p.TokenID)
	secret, secretEnv := env("MODAL_TOKEN_SECRET", p.TokenSecret)
	if id != "" && secret != "" {
		c.secret = secret
		c.Source = where(idEnv && secretEnv, "MODAL_TOKEN_ID, MODAL_TOKEN_SECRET")
		if idEnv != secretEnv {
			c.Source = fmt.Sprintf("the environment and profile %q in %s", name, path)
		}
		return c, nil
	}
	refresh, refreshEnv := env("MODAL_OAUTH_REFRESH_TOKEN", p.OAuthRefreshToken)
	client, _ := env("MODAL_OAUTH_CLIENT_ID", p.OAuthClientID)
	oauthSecret, _ := env("MODAL_OAUTH_CLIENT_SECRET", p.OAuthClientSecret)
	jwtKey, _ := env("MODAL_OAUTH_JWT_KEY", p.OAuthJWTKey)
	if refresh != "" && client != "" && (oauthSecret != "" || jwtKey != "") {
		c.secret = firstNonEmpty(oauthSecret, refresh)
		c.Source = "OAuth credentials from " + where(refreshEnv, "MODAL_OAUTH_*")
		return c, nil
	}
	switch {
	case id != "" || secret != "":
		return Credentials{}, noCredentials("only one of the token id and the token secret is set")
	case len(profiles) > 0 && name == "":
		return Credentials{}, noCredentials(path + " has no active profile (and MODAL_PROFILE is not set)")
	case len(profiles) > 0 && profiles[name] == (profileFile{}):
		return Credentials{}, noCredentials(fmt.Sprintf("%s has no profile %q with a token", path, name))
	}
	return Credentials{}, noCredentials("")
}

// noCredentials is the missing-credentials error, with detail when known.
func noCredentials(detail string) error {
	text := "Modal credentials are not configured"
	if detail != "" {
		text += " (" + detail + ")"
	}
	text += ": set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET in airlock-mcp's environment, or run `modal token new` to write a profile to ~/.modal.toml (MODAL_CONFIG_PATH names another file)"
	return &backendError{kind: ErrNoCredentials, text: text, cause: errors.New(detail)}
}

func configPath() (string, error) {
	if p := os.Getenv("MODAL_CONFIG_PATH"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".modal.toml"), nil
}

// readProfiles reads the config file; a missing file has no profiles.
func readProfiles(path string) (map[string]profileFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]profileFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	var profiles map[string]profileFile
	if err := toml.Unmarshal(data, &profiles); err != nil {
		// The parser's own text can quote the file, secrets included: say
		// only where the error is.
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("cannot parse %s: invalid TOML at line %d, column %d", path, row, col)
		}
		return nil, fmt.Errorf("cannot parse %s: it is not a TOML file of profiles", path)
	}
	return profiles, nil
}

// activeProfiles are the names of the profiles marked active = true, in
// order.
func activeProfiles(profiles map[string]profileFile) []string {
	var names []string
	for n, p := range profiles {
		if p.Active {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// ambiguousProfiles is the error for a config file with several active
// profiles: the SDK would pick one of them at random in each process.
func ambiguousProfiles(path string, names []string) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	text := fmt.Sprintf("%s marks %d profiles active (%s), and the Modal SDK would pick one of them at random each time airlock-mcp starts: keep active = true on one profile only (`modal profile activate NAME`), or name one with MODAL_PROFILE",
		path, len(names), strings.Join(quoted, " and "))
	return &backendError{kind: ErrNoCredentials, text: text, cause: errors.New("several active profiles")}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
