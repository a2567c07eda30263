//go:build linux

package sandboxinit

// The filesystem steps: the sandbox's root is assembled on a staging tmpfs
// from detached copies of host paths, then pivoted into and made read-only.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/airlock-mcp/airlock-mcp/sandbox/local/sandboxinit/initconfig"
)

// newRoot is where the sandbox's root filesystem is assembled before
// pivot_root. It lies in the helper's private mount namespace, so mounting
// over it changes nothing on the host; every host path the sandbox needs is
// captured with open_tree before the staging mount can hide it.
const newRoot = "/tmp"

// devNodes are the device files the sandbox gets, bound from the host.
var devNodes = []string{"null", "zero", "full", "random", "urandom"}

type detachedTree struct {
	fd     int
	target string
	dir    bool
	// writable device nodes keep write access; everything else is read-only.
	device bool
	// mount is an operator mount: noexec, and writable when the
	// operator said so.
	mount, writable bool
}

func makeMountsPrivate(*initState) error {
	// A stock systemd host shares propagation: without this, mounts made
	// here would appear on the host.
	return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
}

func captureHostPaths(st *initState) error {
	capture := func(path string, recursive, dir, device bool) error {
		flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
		if recursive {
			flags |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, path, flags)
		if err != nil {
			return fmt.Errorf("open_tree %s: %w", path, err)
		}
		st.trees = append(st.trees, detachedTree{fd: fd, target: path, dir: dir, device: device})
		return nil
	}
	for _, b := range st.cfg.Binds {
		if err := capture(b, true, true, false); err != nil {
			return err
		}
	}
	for _, f := range st.cfg.FileBinds {
		if err := capture(f, false, false, false); err != nil {
			return err
		}
	}
	for _, m := range st.cfg.Mounts {
		fd, err := unix.OpenTree(unix.AT_FDCWD, m.Source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("open_tree %s (mount at %s): %w", m.Source, m.Target, err)
		}
		st.trees = append(st.trees, detachedTree{fd: fd, target: m.Target, dir: true, mount: true, writable: m.Writable})
	}
	for _, d := range devNodes {
		if err := capture("/dev/"+d, false, false, true); err != nil {
			return err
		}
	}
	return nil
}

func mountStagingRoot(*initState) error {
	return unix.Mount("airlock-root", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755")
}

func populateRoot(st *initState) error {
	for _, d := range []string{"proc", "dev", "dev/shm", "tmp", "etc", ".scratch", strings.TrimPrefix(initconfig.Workdir, "/")} {
		if err := os.MkdirAll(filepath.Join(newRoot, d), 0o755); err != nil {
			return err
		}
	}
	for _, t := range st.trees {
		dst := filepath.Join(newRoot, t.target)
		if t.dir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return err
		}
	}
	for path, target := range st.cfg.Symlinks {
		dst := filepath.Join(newRoot, path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	}
	for _, l := range [][2]string{{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}} {
		if err := os.Symlink(l[1], filepath.Join(newRoot, "dev", l[0])); err != nil {
			return err
		}
	}
	uid, gid := sandboxIDs(st.cfg)
	etc := map[string]string{
		"passwd":   fmt.Sprintf("sandbox:x:%d:%d:airlock sandbox:%s:/usr/sbin/nologin\n", uid, gid, initconfig.Workdir),
		"group":    fmt.Sprintf("sandbox:x:%d:\n", gid),
		"hostname": initconfig.Hostname + "\n",
		"hosts":    "127.0.0.1\tlocalhost " + initconfig.Hostname + "\n::1\tlocalhost\n",
	}
	for name, content := range etc {
		if err := os.WriteFile(filepath.Join(newRoot, "etc", name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// sandboxIDs are the uid and gid the code runs as, as seen inside.
func sandboxIDs(cfg *initconfig.Config) (int, int) {
	if cfg.Rootless {
		return 0, 0
	}
	return cfg.UID, cfg.GID
}

func attachBinds(st *initState) error {
	for _, t := range st.trees {
		dst := filepath.Join(newRoot, t.target)
		if err := unix.MoveMount(t.fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("move_mount %s: %w", t.target, err)
		}
		unix.Close(t.fd)
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV}
		switch {
		case t.device:
			attr = &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC}
		case t.mount && t.writable:
			attr = &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC, Attr_clr: unix.MOUNT_ATTR_RDONLY}
		case t.mount:
			attr.Attr_set |= unix.MOUNT_ATTR_NOEXEC
		}
		if err := unix.MountSetattr(unix.AT_FDCWD, dst, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("mount_setattr %s: %w", t.target, err)
		}
	}
	st.trees = nil
	return nil
}

// mountScratch mounts one size-limited tmpfs and binds its parts at /tmp,
// the working directory and /dev/shm, so one limit bounds them all.
func mountScratch(st *initState) error {
	scratch := filepath.Join(newRoot, ".scratch")
	uid, gid := sandboxIDs(st.cfg)
	opts := fmt.Sprintf("size=%d,mode=0755,nr_inodes=16384", st.cfg.ScratchBytes)
	if err := unix.Mount("airlock-scratch", scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return err
	}
	parts := []struct {
		name, target string
		mode         os.FileMode
	}{
		{"tmp", "tmp", 0o777 | os.ModeSticky},
		{"shm", "dev/shm", 0o777 | os.ModeSticky},
		{"work", strings.TrimPrefix(initconfig.Workdir, "/"), 0o755},
	}
	for _, p := range parts {
		src := filepath.Join(scratch, p.name)
		if err := os.Mkdir(src, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(src, p.mode); err != nil {
			return err
		}
		if err := os.Chown(src, uid, gid); err != nil {
			return err
		}
		if err := unix.Mount(src, filepath.Join(newRoot, p.target), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p.target, err)
		}
	}
	if err := unix.Unmount(scratch, unix.MNT_DETACH); err != nil {
		return err
	}
	return os.Remove(scratch)
}

func mountProc(*initState) error {
	return unix.Mount("proc", filepath.Join(newRoot, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

func pivotRoot(*initState) error {
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root under the new one; detaching
	// it leaves nothing of the host reachable.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

func makeRootReadOnly(*initState) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	return unix.MountSetattr(unix.AT_FDCWD, "/", 0, attr)
}
