"""Airlock harness, session mode: the last part of the harness's source.

harness.go runs harness_files.py, harness.py and this file as one program;
this part serves a session's calls (sandbox/doc.go, "Session mode") and
ends with the dispatch between the two modes.
"""
import _signal
import posix
import sys


class _ProtocolError(Exception):
    """A call message that breaks the session protocol."""


class _Session:
    """The state one session interpreter keeps across calls."""

    def __init__(self, namespace, workdir):
        self.namespace, self.workdir = namespace, workdir
        self.calls = 0
        self.interruptible = [False]
        self.pid = posix.getpid()
        self.null = posix.open("/dev/null", posix.O_RDWR)
        posix.set_inheritable(self.null, False)
        # Bound now, so that what the code patches cannot break the next call.
        self.write, self.exit_now, self.encode = posix.write, posix._exit, _json
        self.dup2, self.close, self.getpid = posix.dup2, posix.close, posix.getpid
        self.signal = _signal.signal
        interruptible, exit_now = self.interruptible, posix._exit

        def on_interrupt(signum, frame):
            if interruptible[0]:  # the server's interrupt reaches only the code
                raise KeyboardInterrupt

        def on_cpu_limit(signum, frame):
            # As pid 1 of its sandbox the interpreter would never die of an
            # unhandled SIGXCPU: end it as the signal would.
            exit_now(128 + signum)

        self.on_interrupt, self.on_cpu_limit = on_interrupt, on_cpu_limit

    def arm(self):
        """Install the session's signal handlers, whatever earlier code installed."""
        self.signal(_signal.SIGINT, self.on_interrupt)
        self.signal(_signal.SIGXCPU, self.on_cpu_limit)

    def quiet(self):
        """Point stdout and stderr at /dev/null: nothing runs between calls writes anywhere."""
        _flush(at_exit=False)
        try:
            self.dup2(self.null, 1)
        except OSError:  # the code closed our /dev/null
            self.null = posix.open("/dev/null", posix.O_RDWR)
            posix.set_inheritable(self.null, False)
            self.dup2(self.null, 1)
        self.dup2(self.null, 2)

    def serve(self, sock):
        """Serve the next call on sock; False once the stream has ended."""
        message = _receive(sock)
        if message is None:
            return False
        (out, err, envelope), nonce, limit, (out_bytes, out_count), files, source = message
        self.calls += 1
        _flush(at_exit=False)  # what the code left running wrote so far goes to /dev/null
        self.dup2(out, 1)
        self.dup2(err, 2)
        self.close(out)
        self.close(err)
        code = source.decode("utf-8", "replace")
        del source
        error = _write_files(self.workdir, _parse_files(files)) if files else None
        del files
        self.arm()
        recursion_limit = sys.getrecursionlimit()

        result, exc, value = (None, None, None) if error else _run(code, self.namespace, limit, self.interruptible)

        self.arm()  # a handler the code installed must not fire in the harness's steps
        kept_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(recursion_limit, kept_limit))  # room to report
        exit_code, error = (1, error) if error else _outcome(exc, limit, code)
        if self.getpid() != self.pid:  # a process the code forked fell through: it ends here
            _flush()
            self.exit_now(exit_code)
        returned = _collect_figures(out_bytes, out_count, value)
        del value
        self.quiet()
        _send_files(returned, self.workdir, nonce, self.write, envelope)
        sys.setrecursionlimit(kept_limit)
        payload = self.encode({
            "status": "ok" if exit_code == 0 else "error",
            "exit_code": exit_code,
            "result": result,
            "error": error,
            "call": self.calls,
        }).encode("utf-8")
        _frame(nonce, payload, self.write, envelope)
        try:
            self.close(envelope)
        except OSError:
            pass  # the code closed it
        return True


def _receive(sock):
    """Read one call message: (fds, nonce, max_repr, (max_out_bytes, max_out_count), files, code).

    None at the end of the stream, before any byte of a message.
    """
    import _socket

    cmsg_space = _socket.CMSG_SPACE(16 * 4)
    flags = getattr(_socket, "MSG_CMSG_CLOEXEC", 0)
    chunks, size, fds = [], 0, []
    try:
        while True:
            data, ancillary, _, _ = sock.recvmsg(4096, cmsg_space, flags)
            for level, kind, payload in ancillary:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    usable = len(payload) - len(payload) % 4
                    fds.extend(int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, usable, 4))
            if not data:
                if size:
                    raise _ProtocolError("the stream ended inside a call's header")
                return None
            chunks.append(data)
            size += len(data)
            if b"\n" in data:
                break
            if size > MAX_SESSION_HEADER:
                raise _ProtocolError("a call's header line is too long")
        header, rest = b"".join(chunks).split(b"\n", 1)
        fields = header.split(b" ")
        if len(fields) != 7 or fields[0] != SESSION_MAGIC or len(fds) != 3:
            raise _ProtocolError("not a call header with three descriptors")
        nonce = fields[1]
        try:
            limit, code_len, files_len, out_bytes, out_count = (int(f) for f in fields[2:])
        except ValueError:
            raise _ProtocolError("a call header's numbers are not numbers") from None
        if (len(nonce) != 32 or not MIN_REPR <= limit <= MAX_REPR or not 0 <= code_len <= MAX_SESSION_CODE
                or not 0 <= files_len <= FILES_MAX_IN or out_bytes < 0 or out_count < 0):
            raise _ProtocolError("a call header out of bounds")
        length = code_len + files_len
        chunks, size = [rest], len(rest)
        while size < length:
            data = sock.recv(min(length - size, 1 << 20))
            if not data:
                raise _ProtocolError("the stream ended inside a call's code")
            chunks.append(data)
            size += len(data)
        if size != length:
            raise _ProtocolError("bytes past the call's code")
        for fd in fds:
            posix.set_inheritable(fd, False)
        message = b"".join(chunks)
        return fds, nonce, limit, (out_bytes, out_count), memoryview(message)[:files_len], message[files_len:]
    except BaseException:
        for fd in fds:
            try:
                posix.close(fd)
            except OSError:
                pass
        raise


def _listener(path):
    """A socket listening at path, which appears only once it accepts connections."""
    import _socket

    temporary = "%s.%d" % (path, posix.getpid())
    try:
        posix.unlink(temporary)
    except FileNotFoundError:
        pass
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    listener.bind(temporary)
    listener.listen(16)
    posix.rename(temporary, path)
    return listener


def _session(control, workdir, sys_path):
    import _socket

    posix.register_at_fork(after_in_child=lambda: _signal.signal(_signal.SIGXCPU, _signal.SIG_DFL))
    session = _Session(_prepare(workdir, sys_path), _Workdir(workdir))
    session.arm()
    session.quiet()
    kind, _, where = control.partition(":")
    if kind == "fd":
        sock = _socket.socket(fileno=int(where))
        posix.set_inheritable(sock.fileno(), False)
        sock.sendall(b"\n")  # ready: waiting for the first call
        while session.serve(sock):
            pass
        session.exit_now(0)  # the backend closed the channel: the session is over
    if kind != "listen":
        raise SystemExit("airlock harness: unknown control channel")
    listener = _listener(where)
    while True:  # one connection per call, each from a client the backend started
        fd, _ = listener._accept()
        conn = _socket.socket(fileno=fd)
        try:
            session.serve(conn)
        except (_ProtocolError, OSError):
            pass  # that client broke the protocol or went away; the next one is served
        finally:
            conn.close()


if len(sys.argv) > 2 and sys.argv[1] == "session":
    _session(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "", sys.argv[4:])
else:
    _fresh()
