package modal

import (
	"fmt"
	"regexp"
	"strings"
)

// Names the image layers accept: plain package names and requirement
// strings, so that each can be single-quoted into a shell command as is
// (no quote, space or shell metacharacter can occur).
var (
	aptName        = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$`)
	pipRequirement = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?([<>=!~]=?[A-Za-z0-9.*+!-]+(,[<>=!~]=?[A-Za-z0-9.*+!-]+)*)?$`)
)

// ImageCommands are the Dockerfile commands the backend adds on top of
// Options.Image: one RUN installing Options.Apt with apt-get, then one
// installing Options.Pip with the image's python3 -m pip. Modal builds the
// result once and caches it by its definition; nil when neither is set.
func (o Options) ImageCommands() []string {
	var cmds []string
	if len(o.Apt) > 0 {
		cmds = append(cmds, "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "+quoteAll(o.Apt)+" && rm -rf /var/lib/apt/lists/*")
	}
	if len(o.Pip) > 0 {
		cmds = append(cmds, "RUN python3 -m pip install --no-cache-dir --disable-pip-version-check "+quoteAll(o.Pip))
	}
	return cmds
}

// ImageDefinition states the image for a person: the registry reference
// and the layers on it, if any.
func (o Options) ImageDefinition() string {
	cmds := o.ImageCommands()
	if len(cmds) == 0 {
		return o.Image
	}
	return o.Image + " with layers [" + strings.Join(cmds, " | ") + "]"
}

// validateImageLayers checks every name in Apt and Pip, naming the policy
// key and the entry.
func (o Options) validateImageLayers() error {
	for i, n := range o.Apt {
		if !aptName.MatchString(n) {
			return fmt.Errorf("modal: apt entry %q is not a Debian package name (optionally name=version) (policy backend.modal.apt[%d])", n, i)
		}
	}
	for i, r := range o.Pip {
		if !pipRequirement.MatchString(r) {
			return fmt.Errorf("modal: pip entry %q is not a requirement such as \"requests\" or \"pandas==2.2.3\" (policy backend.modal.pip[%d])", r, i)
		}
	}
	return nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, " ")
}
