"""Airlock harness, files and figures: the first part of the harness's source.

harness.go runs this file followed by harness.py as one program (see
"Files" in sandbox/doc.go). Files the call brings are written under the
working directory before the code runs, through directory descriptors and
never through a symbolic link; after the code, matplotlib's open figures, a
PIL image as the final expression and every regular file under out/ come
back in one frame on the envelope channel, ahead of the envelope, within the
call's bounds. Stdlib only; imports nothing when the call brings no file and
the code imports neither matplotlib nor PIL.
"""
import posix
import sys

FILES_MAX_PATH = 1024  # bytes of a path, in and out (sandbox.MaxFilePathBytes)
FILES_MAX_OMITTED = 64  # entries listed without content besides max_count (sandbox.MaxOmittedListed)
FILES_MAX_IN = 256 << 20  # bytes of a call's files block (sandbox.MaxInFilesBytes)
FILES_MAX_WALK = 4096  # directory entries under out/ looked at, at most
FILES_MAX_DEPTH = 32  # directory levels under out/ followed, at most
OUT_DIR = "out"
_DIR = posix.O_RDONLY | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC
_S_IFMT, _S_IFREG, _S_IFDIR = 0o170000, 0o100000, 0o040000


class _FileRefused(Exception):
    """A file the harness will not write where the call asks."""


class _Workdir:
    """The working directory the process started in, held open: the code may chdir."""

    def __init__(self, path):
        self.path = path or "."
        self.fd = posix.open(".", _DIR)
        st = posix.fstat(self.fd)
        self.id = (st.st_dev, st.st_ino)

    def open(self):
        """A new descriptor of the working directory, for the caller to close."""
        try:
            st = posix.fstat(self.fd)
            if (st.st_dev, st.st_ino) == self.id:
                return posix.dup(self.fd)  # not inheritable
        except OSError:
            pass
        return posix.open(self.path, _DIR)  # the code closed or replaced ours


def _parse_files(block):
    """[(path, content)] from a files block: "<path_len> <data_len>\\n<path><data>" each."""
    files, i, n = [], 0, len(block)
    while i < n:
        line = bytes(block[i:i + 32])
        nl = i + line.index(b"\n")  # ValueError when missing
        plen, dlen = (int(x) for x in line[:nl - i].split(b" "))
        start, end = nl + 1, nl + 1 + plen + dlen
        if plen < 0 or dlen < 0 or end > n:
            raise ValueError("a file runs past the files block")
        files.append((bytes(block[start:start + plen]), block[start + plen:end]))
        i = end
    return files


def _write_files(workdir, files):
    """Write files under workdir (a _Workdir); None, or the error record of the first that cannot be."""
    for path, data in files:
        try:
            _write_one(workdir, path, data)
        except (_FileRefused, OSError) as exc:
            why = exc.args[0] if isinstance(exc, _FileRefused) else (exc.strerror or str(exc))
            name = path.decode("utf-8", "replace")
            return {
                "type": "FileError",
                "message": "the file %r was not written, so the code did not run: %s" % (name, why),
                "traceback": "",
            }
    return None


def _write_one(workdir, path, data):
    """Write data at path under workdir, creating directories, through no symbolic link."""
    import errno

    parts = path.split(b"/")
    if not path or len(path) > FILES_MAX_PATH or b"\0" in path or any(p in (b"", b".", b"..") for p in parts):
        raise _FileRefused("its path must be relative, without '..', '.' or empty parts")
    dirfd = workdir.open()
    try:
        for part in parts[:-1]:
            try:
                posix.mkdir(part, 0o755, dir_fd=dirfd)
            except FileExistsError:
                pass
            try:
                fd = posix.open(part, _DIR, dir_fd=dirfd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _FileRefused("%r on its way is a symbolic link or not a directory (files are never written through links)"
                                       % part.decode("utf-8", "replace")) from None
                raise
            posix.close(dirfd)
            dirfd = fd
        flags = posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_NOFOLLOW | posix.O_NONBLOCK | posix.O_CLOEXEC
        try:
            fd = posix.open(parts[-1], flags, 0o644, dir_fd=dirfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise _FileRefused("a symbolic link, a directory or another file that is not a regular one is in its place") from None
            raise
        try:
            if posix.fstat(fd).st_mode & _S_IFMT != _S_IFREG:
                raise _FileRefused("something that is not a regular file is in its place")
            view = memoryview(data)
            while view:
                view = view[posix.write(fd, view):]
        finally:
            posix.close(fd)
    finally:
        posix.close(dirfd)


class _Returned:
    """The entries of one call's files frame, within its bounds."""

    def __init__(self, max_bytes, max_count):
        self.bytes, self.count, self.omitted = max_bytes, max_count, FILES_MAX_OMITTED
        self.parts = []

    def fits(self, size):
        """Whether content of size bytes may still come back."""
        return self.count > 0 and size <= self.bytes

    def add(self, kind, path, size, data=None, reason=b"-"):
        """List one entry: with its content (data), or omitted for reason."""
        if data is not None and not self.fits(len(data)):
            reason, data = (b"count" if self.count <= 0 else b"bytes"), None
        if data is None:
            if reason == b"-":
                reason = b"count" if self.count <= 0 else b"bytes"
            if self.omitted <= 0:
                return
            self.omitted -= 1
            data = b""
        else:
            self.count -= 1
            self.bytes -= len(data)
        self.parts.append(b"%s %s %d %d %d\n" % (kind, reason, size, len(data), len(path)))
        self.parts.append(path)
        self.parts.append(data)


def _figures(returned, value):
    """Save matplotlib's open figures (then close them) and a PIL image value as PNG."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            numbers = sorted(plt.get_fignums())
        except BaseException:
            numbers = []
        for number in numbers:
            name = b"figure-%d.png" % number
            try:
                import io

                buf = io.BytesIO()
                plt.figure(number).savefig(buf, format="png")
                returned.add(b"figure", name, buf.tell(), buf.getvalue())
            except BaseException:
                returned.add(b"figure", name, 0, reason=b"unreadable")
        try:
            plt.close("all")  # as a notebook does: a figure comes back once
        except BaseException:
            pass
    pil = sys.modules.get("PIL.Image")
    if pil is not None and value is not None:
        try:
            if isinstance(value, pil.Image):
                import io

                buf = io.BytesIO()
                value.save(buf, format="PNG")
                returned.add(b"figure", b"result.png", buf.tell(), buf.getvalue())
        except BaseException:
            returned.add(b"figure", b"result.png", 0, reason=b"unreadable")


def _out_files(returned, workdir):
    """List every regular file under workdir/out (a _Workdir), sorted, following no link."""
    try:
        top = workdir.open()
    except OSError:
        return
    try:
        fd = posix.open(OUT_DIR, _DIR, dir_fd=top)
    except OSError:
        return  # no out/, or not a directory
    finally:
        posix.close(top)
    _walk(returned, fd, b"", [FILES_MAX_WALK], 0)


def _walk(returned, dirfd, prefix, budget, depth):
    try:
        names = sorted(posix.listdir(dirfd))
        for name in names:
            if budget[0] <= 0:
                return
            budget[0] -= 1
            raw = name.encode("utf-8", "surrogateescape")
            path = prefix + raw
            try:
                name.encode("utf-8")
            except UnicodeError:
                returned.add(b"file", (prefix.decode("utf-8", "replace") + name.encode("utf-8", "replace").decode("utf-8")).encode("utf-8"),
                             0, reason=b"name")
                continue
            if len(path) > FILES_MAX_PATH:
                continue
            try:
                st = posix.stat(raw, dir_fd=dirfd, follow_symlinks=False)
            except OSError:
                continue
            kind = st.st_mode & _S_IFMT
            if kind == _S_IFDIR:
                if depth < FILES_MAX_DEPTH:
                    try:
                        sub = posix.open(raw, _DIR, dir_fd=dirfd)
                    except OSError:
                        continue
                    _walk(returned, sub, path + b"/", budget, depth + 1)
            elif kind != _S_IFREG:
                returned.add(b"file", path, 0, reason=b"type")
            elif not returned.fits(st.st_size):
                returned.add(b"file", path, st.st_size)
            else:
                _read_out(returned, dirfd, raw, path)
    except OSError:
        pass
    finally:
        posix.close(dirfd)


def _read_out(returned, dirfd, raw, path):
    """Add the regular file raw in dirfd, read without following a link or blocking."""
    try:
        fd = posix.open(raw, posix.O_RDONLY | posix.O_NOFOLLOW | posix.O_NONBLOCK | posix.O_CLOEXEC, dir_fd=dirfd)
    except OSError:
        returned.add(b"file", path, 0, reason=b"unreadable")
        return
    try:
        st = posix.fstat(fd)
        if st.st_mode & _S_IFMT != _S_IFREG:  # replaced since it was looked at
            returned.add(b"file", path, 0, reason=b"type")
            return
        room = returned.bytes
        chunks, size = [], 0
        while size <= room:
            chunk = posix.read(fd, min(room + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > room:  # grew past what may come back
            returned.add(b"file", path, max(size, st.st_size))
        else:
            returned.add(b"file", path, size, b"".join(chunks))
    except OSError:
        returned.add(b"file", path, 0, reason=b"unreadable")
    finally:
        posix.close(fd)


def _collect_figures(max_bytes, max_count, value):
    """The entries of a call's files frame, its figures first; None when the call returns nothing.

    Figures are collected before the interpreter's atexit handlers run
    (pyplot's closes every figure), out/'s files after (_send_files).
    """
    if max_count <= 0:
        return None
    returned = _Returned(max_bytes, max_count)
    try:
        _figures(returned, value)
    except BaseException:
        pass
    return returned


def _send_files(returned, workdir, nonce, write, fd):
    """Add out/'s files to returned and write the files frame on fd."""
    if returned is None:
        return
    try:
        _out_files(returned, workdir)
    except BaseException:
        pass
    payload = b"".join(returned.parts)
    header = b"AIRLOCK-FILES/1 %s %d\n" % (nonce, len(payload))
    try:
        for part in (header, payload, b"\n"):
            view = memoryview(part)
            while view:
                view = view[write(fd, view):]
    except OSError:
        pass  # the code closed the channel: no envelope either


def _matplotlib_offscreen():
    """Make matplotlib draw off screen (Agg), its configuration in a writable scratch directory."""
    tmp = posix.environ.get(b"TMPDIR") or b"/tmp"
    for key, value in ((b"MPLBACKEND", b"Agg"), (b"MPLCONFIGDIR", tmp + b"/.airlock-matplotlib")):
        posix.putenv(key, value)
        posix.environ[key] = value  # os.environ wraps this very dict
