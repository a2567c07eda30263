package modal

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sdk "github.com/modal-labs/modal-client/go"
)

// Mount is a host directory copied into every sandbox, fresh or session,
// before the code runs (Options.Mounts): a snapshot of its regular files
// taken when the backend is created (symbolic links and other special
// files are left out). A Modal sandbox is a container of its own, whose
// code runs as its root: ReadOnly makes the copy read-only (files 0444,
// directories 0555), which guards against accidents only; nothing is ever
// written back to the host.
type Mount struct {
	// Host is the absolute path of an existing host directory.
	Host string
	// Path is where the sandbox sees it: absolute and clean, e.g.
	// /data/name; not /, nor under /proc, /sys or /dev.
	Path string
	// ReadOnly makes the copy read-only (see Mount).
	ReadOnly bool
}

// mountsDigest digests the mounts' paths, modes and content.
func (b *Backend) mountsDigest() []byte {
	if b.mounts == nil {
		return nil
	}
	h := sha256.New()
	for _, r := range b.mounts.roots {
		h.Write([]byte(r + "\x00"))
	}
	h.Write(b.mounts.block)
	return h.Sum(nil)[:8]
}

// mountUploadTimeout bounds the upload of the mounts into one sandbox.
const mountUploadTimeout = 2 * time.Minute

// mountSet is the mounts' content, read once, as the uploader takes it.
type mountSet struct {
	block []byte   // the files block: "<path_len> <data_len>\n<path><data>" each
	roots []string // the uploader's arguments: "ro:" or "rw:" and each mount's path
	bytes int64
}

// loadMounts reads every regular file under each mount's host directory,
// refusing a mount that is not an existing directory or whose path is
// not absolute and clean, or mounts whose files exceed maxBytes in all.
func loadMounts(mounts []Mount, maxBytes int64) (*mountSet, error) {
	set := &mountSet{}
	for i, m := range mounts {
		name := fmt.Sprintf("mount %d (host %q, path %q)", i, m.Host, m.Path)
		if !filepath.IsAbs(m.Host) {
			return nil, fmt.Errorf("modal: %s: the host path must be absolute", name)
		}
		if st, err := os.Stat(m.Host); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("modal: %s: the host path is not an existing directory; create it or fix the path", name)
		}
		if !path.IsAbs(m.Path) || path.Clean(m.Path) != m.Path || m.Path == "/" || strings.ContainsAny(m.Path, "\x00\n") {
			return nil, fmt.Errorf("modal: %s: the path in the sandbox must be absolute and clean, like /data/name", name)
		}
		for _, system := range []string{"/proc", "/sys", "/dev"} {
			if m.Path == system || strings.HasPrefix(m.Path, system+"/") {
				return nil, fmt.Errorf("modal: %s: the path in the sandbox lies in %s; choose a path such as /data/name", name, system)
			}
		}
		mode := "rw:"
		if m.ReadOnly {
			mode = "ro:"
		}
		set.roots = append(set.roots, mode+m.Path)
		err := filepath.WalkDir(m.Host, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil // directories are walked; links and special files left out
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if set.bytes += info.Size(); set.bytes > maxBytes {
				return fmt.Errorf("the mounts hold more than %d bytes (policy files.max_mount_mb), which every sandbox would upload; mount less, or raise the bound", maxBytes)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(m.Host, p)
			if err != nil {
				return err
			}
			target := path.Join(m.Path, filepath.ToSlash(rel))
			set.block = strconv.AppendInt(set.block, int64(len(target)), 10)
			set.block = append(set.block, ' ')
			set.block = strconv.AppendInt(set.block, int64(len(data)), 10)
			set.block = append(append(append(set.block, '\n'), target...), data...)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("modal: %s: %w", name, err)
		}
	}
	return set, nil
}

// uploaderSource writes a files block from stdin at the absolute paths it
// names, creating directories, then makes each "ro:" root read-only. Stdlib
// only; Python 3.8+.
const uploaderSource = `import os, sys
data = sys.stdin.buffer.read()
i = 0
roots = [a.split(":", 1) for a in sys.argv[1:]]
for _, root in roots:
    os.makedirs(root, exist_ok=True)
while i < len(data):
    nl = data.index(b"\n", i)
    plen, dlen = (int(x) for x in data[i:nl].split(b" "))
    target = data[nl + 1:nl + 1 + plen].decode("utf-8")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(data[nl + 1 + plen:nl + 1 + plen + dlen])
    i = nl + 1 + plen + dlen
for mode, root in roots:
    if mode == "ro":
        for top, dirs, files in os.walk(root, topdown=False):
            for name in files:
                os.chmod(os.path.join(top, name), 0o444)
            os.chmod(top, 0o555)
`

// uploadMounts copies the mounts into sb with an exec of the uploader,
// and returns once it has exited cleanly.
func (b *Backend) uploadMounts(ctx context.Context, sb *sdk.Sandbox, creds Credentials) error {
	set := b.mounts
	if set == nil || len(set.roots) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, mountUploadTimeout)
	defer cancel()
	argv := append([]string{"python3", "-I", "-S", "-B", "-c", uploaderSource}, set.roots...)
	proc, err := sb.Exec(ctx, argv, &sdk.SandboxExecParams{Timeout: mountUploadTimeout, Workdir: "/"})
	if err != nil {
		return b.describe(stageExec, err, creds)
	}
	go writeStdin(proc.Stdin, set.block)
	go func() { _, _ = io.Copy(io.Discard, proc.Stdout) }()
	stderr := make(chan []byte, 1)
	go func() {
		data, _ := io.ReadAll(io.LimitReader(proc.Stderr, 4096))
		_, _ = io.Copy(io.Discard, proc.Stderr)
		stderr <- data
	}()
	code, err := proc.Wait(ctx, nil)
	if err != nil {
		return fmt.Errorf("modal: uploading the mounts into the sandbox: %w", err)
	}
	if code != 0 {
		var said []byte
		select {
		case said = <-stderr:
		case <-ctx.Done():
		}
		return fmt.Errorf("modal: uploading the mounts into the sandbox failed with exit code %d (%s); the image must provide python3, and the mounts' paths must be writable there", code, strings.TrimSpace(string(said)))
	}
	return nil
}
