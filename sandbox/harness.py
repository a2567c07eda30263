"""Airlock harness: runs submitted code as __main__ and reports on a private fd.

Two modes, described once in sandbox/doc.go ("Harness protocol", "Session
mode", "Files"). The harness is one program in three files (harness.go):
harness_files.py writes and returns files, this file runs the code, and
harness_session.py serves a session and picks the mode. Fresh: `python -I
-S -u -B -c <the program> [ready_fd]`, with two header lines, the files and
the code on stdin; it reports a files frame and one envelope frame on the
fd the header names, then exits. Session: `... -c <the program> session
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
SESSION_MAGIC = b"AIRLOCK-SESSION/2"
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
    """Run code like a REPL would; return (result, exception or None, value).

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
            return (None if value is None else _cap(repr(value), limit)), None, value
        finally:
            if interruptible is not None:
                interruptible[0] = False
    except BaseException as exc:
        return None, exc, None


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
    _matplotlib_offscreen()
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
    magic, nonce, fd, limit, out_bytes, out_count, files_len = first.split(b" ")
    if magic != b"AIRLOCK-HARNESS/2":
        raise SystemExit("airlock harness: unknown header")
    fd, limit, files_len = int(fd), int(limit), int(files_len)  # the nonce stays only in this frame's locals
    workdir, *sys_path = paths.decode("utf-8").split("\0")
    posix.set_inheritable(fd, False)  # subprocesses must not get the envelope channel
    namespace = _prepare(workdir, sys_path)
    workdir = _Workdir(workdir)  # where the process started: the code may chdir
    code = source[files_len:].decode("utf-8")
    error = _write_files(workdir, _parse_files(memoryview(source)[:files_len])) if files_len else None
    del source
    recursion_limit = sys.getrecursionlimit()
    pid = getpid()

    result, exc, value = (None, None, None) if error else _run(code, namespace, limit)

    sys.setrecursionlimit(recursion_limit)
    exit_code, error = (1, error) if error else _outcome(exc, limit, code)
    returned = _collect_figures(int(out_bytes), int(out_count), value) if getpid() == pid else None
    del value
    _flush()
    if getpid() == pid:  # a process the code forked and that fell through never reports
        _send_files(returned, workdir, nonce, write, fd)
        payload = encode({
            "status": "ok" if exit_code == 0 else "error",
            "exit_code": exit_code,
            "result": result,
            "error": error,
        }).encode("utf-8")
        _frame(nonce, payload, write, fd)
    exit_now(exit_code)  # lingering non-daemon threads must not hold the sandbox open
