package policy

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// Files bounds the files execute_python carries into a sandbox and brings
// back, and how long the server keeps what it brought back.
type Files struct {
	// MaxInMB bounds the total size, in MiB, of the files one call gives
	// the code (execute_python's files argument, decoded).
	MaxInMB int `json:"max_in_mb"`
	// MaxInCount bounds how many files one call gives the code.
	MaxInCount int `json:"max_in_count"`
	// MaxOutMB bounds the total size, in MiB, of the files and figures one
	// call returns; what does not fit is listed as omitted.
	MaxOutMB int `json:"max_out_mb"`
	// MaxOutCount bounds how many files and figures one call returns.
	MaxOutCount int `json:"max_out_count"`
	// MaxInlineImageKB is the largest image, in KiB, returned inline as
	// MCP image content; a larger one is returned as a resource link.
	MaxInlineImageKB int `json:"max_inline_image_kb"`
	// TTLS is how many seconds the server keeps each call's returned files
	// readable (resources/read of airlock://files/...), for the client that
	// made the call only.
	TTLS int `json:"ttl_s"`
	// MaxMountMB bounds, in MiB, the operator's mounts (backend.local.mounts)
	// together where a backend must upload them into each sandbox (Modal);
	// a backend refuses to start with mounts over it.
	MaxMountMB int `json:"max_mount_mb"`
}

// TTL is TTLS as a duration.
func (f Files) TTL() time.Duration { return time.Duration(f.TTLS) * time.Second }

// MaxOutBytes is MaxOutMB in bytes.
func (f Files) MaxOutBytes() int64 { return int64(f.MaxOutMB) << 20 }

// MaxInlineImageBytes is MaxInlineImageKB in bytes.
func (f Files) MaxInlineImageBytes() int64 { return int64(f.MaxInlineImageKB) << 10 }

// MaxMountBytes is MaxMountMB in bytes.
func (f Files) MaxMountBytes() int64 { return int64(f.MaxMountMB) << 20 }

// MaxInBytes bounds the total size of the files one call gives the code:
// files.max_in_mb, or the scratch space (limits.max_file_mb) when that is
// smaller.
func (p *Policy) MaxInBytes() int64 { return int64(min(p.Files.MaxInMB, p.Limits.MaxFileMB)) << 20 }

// Summary is one line for people: the bounds on files in and out, and
// how long returned files stay readable.
func (f Files) Summary() string {
	return "in up to " + strconv.Itoa(f.MaxInMB) + " MiB in " + strconv.Itoa(f.MaxInCount) + " files; out (under /work/out, and figures) up to " +
		strconv.Itoa(f.MaxOutMB) + " MiB in " + strconv.Itoa(f.MaxOutCount) + " files; images up to " + strconv.Itoa(f.MaxInlineImageKB) +
		" KiB inline; returned files readable for " + strconv.Itoa(f.TTLS) + " s by the client that made the call"
}

// problems are the files section's semantic problems: the files a call
// gives the code must fit in the sandbox's scratch space. Only a
// max_in_mb the operator wrote is checked: with the default, a smaller
// scratch space is the bound (MaxInBytes), so that older policies with a
// small max_file_mb stay valid.
func (f Files) problems(l Limits, pl *place) []Problem {
	if f.MaxInMB <= l.MaxFileMB || !pl.written("files", "max_in_mb") {
		return nil
	}
	fileNote := ""
	if !pl.written("limits", "max_file_mb") {
		fileNote = " (the default)"
	}
	return []Problem{pl.problem([]string{"files", "max_in_mb"}, fmt.Sprintf(
		"files.max_in_mb %d is greater than limits.max_file_mb %d%s, the scratch space the files are written to; lower max_in_mb or raise max_file_mb",
		f.MaxInMB, l.MaxFileMB, fileNote))}
}

// Mount is one directory of this host the operator binds into every
// sandbox (backend.local.mounts; on Modal, uploaded into each sandbox).
type Mount struct {
	// Host is the directory on this host: absolute and clean.
	Host string `json:"host"`
	// Path is where the sandbox sees it: absolute, clean, under /data or
	// /mnt.
	Path string `json:"path"`
	// ReadOnly, true unless the operator writes false, keeps the code from
	// changing the host's files.
	ReadOnly bool `json:"read_only"`
}

// UnmarshalJSON decodes a mount, read_only being true unless written.
func (m *Mount) UnmarshalJSON(b []byte) error {
	type plain Mount
	v := plain{ReadOnly: true}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = Mount(v)
	return nil
}

// String is the mount for people: "/data/sales ← /srv/sales (read-only)".
func (m Mount) String() string {
	mode := "read-only"
	if !m.ReadOnly {
		mode = "read-write"
	}
	return m.Path + " ← " + m.Host + " (" + mode + ")"
}

// mountRoots are the directories a mount's path must lie under: places no
// part of the sandbox (the system's files, the scratch space) lives.
var mountRoots = []string{"/data", "/mnt"}

// MountsSummary is one line for people listing the mounts, or "none".
func MountsSummary(ms []Mount) string {
	if len(ms) == 0 {
		return "none"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}

// mountProblems are the mounts' semantic problems: paths that are not
// absolute and clean, a sandbox path outside /data and /mnt, and two
// mounts on one path or one inside another.
func mountProblems(ms []Mount, pl *place) []Problem {
	var out []Problem
	for i, m := range ms {
		at := []string{"backend", "local", "mounts", strconv.Itoa(i)}
		if msg := absoluteClean("host", m.Host); msg != "" {
			out = append(out, pl.problem(append(at, "host"), msg))
		}
		if msg := absoluteClean("path", m.Path); msg != "" {
			out = append(out, pl.problem(append(at, "path"), msg))
			continue
		}
		if !underMountRoot(m.Path) {
			out = append(out, pl.problem(append(at, "path"), fmt.Sprintf(
				"path %q is not under /data or /mnt; mount host directories at a path such as /data/%s", m.Path, path.Base(m.Path))))
			continue
		}
		for j := range i {
			if o := ms[j].Path; o == m.Path || within(m.Path, o) || within(o, m.Path) {
				out = append(out, pl.problem(append(at, "path"), fmt.Sprintf(
					"path %q overlaps mounts[%d] at %q; give each mount a path of its own, side by side", m.Path, j, o)))
				break
			}
		}
	}
	return out
}

// absoluteClean says what is wrong with p as the key's absolute, clean
// path, or "".
func absoluteClean(key, p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%s %q is not an absolute path; write it from /", key, p)
	case path.Clean(p) != p:
		return fmt.Sprintf("%s %q is not a clean path; write %s", key, p, path.Clean(p))
	}
	return ""
}

// underMountRoot reports whether p lies under one of mountRoots (not one
// of them itself).
func underMountRoot(p string) bool {
	for _, r := range mountRoots {
		if within(p, r) {
			return true
		}
	}
	return false
}

// within reports whether p lies strictly inside dir.
func within(p, dir string) bool { return strings.HasPrefix(p, dir+"/") }
