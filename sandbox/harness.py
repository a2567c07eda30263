"""Airlock harness: runs submitted code as __main__ and reports on a private fd.

Two modes, described once in sandbox/doc.go ("Harness protocol", "Session
mode"). Fresh: `python -I -S -u -B -c <this source> [ready_fd]`, with two
header lines and the code on stdin; it reports one envelope frame on the fd
the header names, then exits. Session: `... -c <this source> session
<control> [workdir [sys_path...]]`; one interpreter runs call after call in
one __main__, each call arriving on the control channel with its own nonce
and its own stdout, stderr and envelope descriptors. The Go side trusts
nothing here: it accepts exactly one well-formed frame with the right nonce
and checks it against what it observed of the process. Stdlib only; must run
on Python 3.8+.

Startup cost is paid on every fresh call, so the happy path imports only
built-in or frozen modules (no ast, json, re, traceback, site): the code is
parsed with compile(..., PyCF_ONLY_AST) and the envelope's JSON is written by
hand. traceback and linecache are imported only to describe an exception;
_socket only in session mode.
"""
import _ast
import _signal
import atexit
import builtins
import posix  # os without its import cost; os pulls in _collections_abc and more
import sys

FILENAME = "<code>"
PyCF_ONLY_AST = 0x400
SESSION_MAGIC = b"AIRLOCK-SESSION/1"
MAX_SESSION_HEADER = 256  # bytes of a call's header line
MAX_SESSION_CODE = 64 << 20  # bytes of a call's code
MIN_REPR, MAX_REPR = 256, 64 << 10  # the bounds Go's NewInvocation checks

# JSON string escapes: quote, backslash and the C0 controls. Everything else,
# non-ASCII included, is written as UTF-8 (valid: _cap guarantees it).
_JSON_ESCAPES = {i: "\\u%04x" % i for i in range(0x20)}
_JSON_ESCAPES.update({0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r"})


def _json(value):
    """Encode None, bool, int, str and dicts of them as JSON."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return '"' + str.translate(value, _JSON_ESCAPES) + '"'
    return "{" + ",".join(_json(k) + ":" + _json(v) for k, v in value.items()) + "}"


def _cap(text, limit):
    """Return text as valid UTF-8 of at most limit bytes, keeping head and tail."""
    data = str.encode(text, "utf-8", "backslashreplace")  # not a str subclass's encode
    if len(data) <= limit:
        return data.decode("utf-8")
    half = max((limit - 64) // 2, 0)  # 64 bytes leave room for the marker
    head = data[:half].decode("utf-8", "ignore")  # drops a sequence split by the cut
    tail = data[len(data) - half:].decode("utf-8", "ignore")
    omitted = len(data) - len(head.encode("utf-8")) - len(tail.encode("utf-8"))
    return "%s\n\u2026 [%d bytes omitted] \u2026\n%s" % (head, omitted, tail)


def _safe_str(value):
    try:
        return str(value)
    except BaseException:
        return "<str() failed>"


def _type_name(exc):
    """The class name, module-qualified as tracebacks show it."""
    cls = type(exc)
    module = getattr(cls, "__module__", None)
    if module in (None, "builtins", "__main__"):
        return cls.__qualname__
    return "%s.%s" % (_safe_str(module), cls.__qualname__)


def _describe(exc, limit, code):
    """The error record of exc, its traceback starting at the user's code."""
    try:
        import linecache
        import traceback

        linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
            tb = tb.tb_next
        if tb is None:  # raised outside the user's frames, e.g. a SyntaxError
            lines = traceback.format_exception_only(type(exc), exc)
        else:
            report = traceback.TracebackException(type(exc), exc, tb)
            last = report.stack[-1] if report.stack else None
            if last is not None and last.name == "on_interrupt" and last.filename != FILENAME:
                report.stack.pop()  # the harness's handler of the server's interrupt
            lines = report.format()
        text = "".join(lines)
    except BaseException:
        text = ""
    return {
        "type": _cap(_type_name(exc), limit),
        "message": _cap(_safe_str(exc), limit),
        "traceback": _cap(text, limit),
    }


def _run(code, namespace, limit, interruptible=None):
    """Run code like a REPL would; return (result, exception or None).

    interruptible, in session mode, is a one-item list set to True exactly
    while the code (or its result's repr) runs: the interrupt handler raises
    KeyboardInterrupt only then, never in the harness's own steps.
    """
    try:
        tree = compile(code, FILENAME, "exec", PyCF_ONLY_AST, dont_inherit=True)
        last = None
        if tree.body and isinstance(tree.body[-1], _ast.Expr):
            last = compile(_ast.Expression(tree.body.pop().value), FILENAME, "eval", dont_inherit=True)
        body = compile(tree, FILENAME, "exec", dont_inherit=True)
        if interruptible is not None:
            interruptible[0] = True
        try:
            exec(body, namespace)
            value = None if last is None else eval(last, namespace)
            return (None if value is None else _cap(repr(value), limit)), None
        finally:
            if interruptible is not None:
                interruptible[0] = False
    except BaseException as exc:
        return None, exc


def _outcome(exc, limit, code):
    """The exit code and error record for exc, as the interpreter would exit."""
    if exc is None:
        return 0, None
    if not isinstance(exc, SystemExit):
        return 1, _describe(exc, limit, code)
    code = exc.code
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code & 0xFF
    else:  # the interpreter prints any other value and exits with 1
        try:
            print(code, file=sys.stderr)
        except BaseException:
            pass
        status = 1
    if status == 0:
        return 0, None
    return status, {"type": "SystemExit", "message": _cap(_safe_str(exc), limit), "traceback": ""}


def _flush(at_exit=True):
    """Run atexit handlers (at_exit) and flush every stream, whatever the code did to them."""
    if at_exit:
        try:
            atexit._run_exitfuncs()
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def _frame(nonce, payload, write, fd):
    """Write one envelope frame on fd; an fd the code closed or replaced loses it."""
    frame = b"AIRLOCK-ENVELOPE/1 %s %d\n%s\n" % (nonce, len(payload), payload)
    try:
        while frame:
            frame = frame[write(fd, frame):]
    except OSError:
        pass  # no envelope: what the backend observed tells


def _prepare(workdir, sys_path):
    """Make the interpreter what the code expects; return __main__'s namespace.

    stdin reads end of file, stdout and stderr write UTF-8, sys.argv is
    [""], the workdir leads sys.path and the site directories end it (no
    site module), exit(), quit() and help() exist, and __main__ is a fresh
    module, not the harness's own.
    """
    null = posix.open("/dev/null", posix.O_RDONLY)  # input() in the code sees EOF
    posix.dup2(null, 0)
    if null != 0:
        posix.close(null)
    for stream in (sys.stdout, sys.stderr):  # -I ignores PYTHONIOENCODING
        try:
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
        except BaseException:
            pass
    sys.argv = [""]
    if workdir:
        sys.path.insert(0, workdir)
    sys.path.extend(p for p in sys_path if p)
    import _sitebuiltins  # -S drops exit(), quit() and help(); site would cost more

    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    builtins.help = _sitebuiltins._Helper()
    main = type(sys)("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    return main.__dict__


def _fresh():
    # Bound before the user's code runs, so patching the modules cannot break reporting.
    write, exit_now, encode, getpid = posix.write, posix._exit, _json, posix.getpid

    if len(sys.argv) > 1:  # the backend asked to know when we wait for code
        write(int(sys.argv[1]), b"\n")
    data = sys.stdin.buffer.read()
    first, paths, source = data.split(b"\n", 2)
    del data
    magic, nonce, fd, limit = first.split(b" ")
    if magic != b"AIRLOCK-HARNESS/1":
        raise SystemExit("airlock harness: unknown header")
    fd, limit = int(fd), int(limit)  # the nonce stays only in this frame's locals
    workdir, *sys_path = paths.decode("utf-8").split("\0")
    posix.set_inheritable(fd, False)  # subprocesses must not get the envelope channel
    namespace = _prepare(workdir, sys_path)
    code = source.decode("utf-8")
    del source
    recursion_limit = sys.getrecursionlimit()
    pid = getpid()

    result, exc = _run(code, namespace, limit)

    sys.setrecursionlimit(recursion_limit)
    exit_code, error = _outcome(exc, limit, code)
    _flush()
    if getpid() == pid:  # a process the code forked and that fell through never reports
        payload = encode({
            "status": "ok" if exit_code == 0 else "error",
            "exit_code": exit_code,
            "result": result,
            "error": error,
        }).encode("utf-8")
        _frame(nonce, payload, write, fd)
    exit_now(exit_code)  # lingering non-daemon threads must not hold the sandbox open


class _ProtocolError(Exception):
    """A call message that breaks the session protocol."""


class _Session:
    """The state one session interpreter keeps across calls."""

    def __init__(self, namespace):
        self.namespace = namespace
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
        (out, err, envelope), nonce, limit, source = message
        self.calls += 1
        _flush(at_exit=False)  # what the code left running wrote so far goes to /dev/null
        self.dup2(out, 1)
        self.dup2(err, 2)
        self.close(out)
        self.close(err)
        code = source.decode("utf-8", "replace")
        del source
        self.arm()
        recursion_limit = sys.getrecursionlimit()

        result, exc = _run(code, self.namespace, limit, self.interruptible)

        self.arm()  # a handler the code installed must not fire in the harness's steps
        kept_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(recursion_limit, kept_limit))  # room to report
        exit_code, error = _outcome(exc, limit, code)
        if self.getpid() != self.pid:  # a process the code forked fell through: it ends here
            _flush()
            self.exit_now(exit_code)
        self.quiet()
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
    """Read one call message: ((stdout, stderr, envelope fds), nonce, max_repr, code).

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
        if len(fields) != 4 or fields[0] != SESSION_MAGIC or len(fds) != 3:
            raise _ProtocolError("not a call header with three descriptors")
        nonce = fields[1]
        try:
            limit, length = int(fields[2]), int(fields[3])
        except ValueError:
            raise _ProtocolError("a call header's numbers are not numbers") from None
        if len(nonce) != 32 or not MIN_REPR <= limit <= MAX_REPR or not 0 <= length <= MAX_SESSION_CODE:
            raise _ProtocolError("a call header out of bounds")
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
        return fds, nonce, limit, b"".join(chunks)
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
    session = _Session(_prepare(workdir, sys_path))
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
