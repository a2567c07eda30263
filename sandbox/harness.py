"""Airlock harness: runs submitted code as __main__ and reports on a private fd.

Started as `python -I -S -u -B -c <this source>`. Stdin holds one JSON header
line, then the code (UTF-8) to EOF. The report (the "envelope") is one frame
written to the header's envelope_fd just before os._exit:

    AIRLOCK-ENVELOPE/1 <nonce> <len>\n<json of len bytes>\n

The Go side (sandbox/envelope.go) trusts nothing here: it accepts exactly one
well-formed frame with the right nonce and checks it against the process's
real exit code. Stdlib only; must run on Python 3.8+.
"""
import ast
import atexit
import builtins
import json
import linecache
import os
import sys
import traceback
import types

FILENAME = "<code>"


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


def _describe(exc, limit):
    """The error record of exc, its traceback starting at the user's code."""
    try:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
            tb = tb.tb_next
        if tb is None:  # raised outside the user's frames, e.g. a SyntaxError
            lines = traceback.format_exception_only(type(exc), exc)
        else:
            lines = traceback.format_exception(type(exc), exc, tb)
        text = "".join(lines)
    except BaseException:
        text = ""
    return {
        "type": _cap(_type_name(exc), limit),
        "message": _cap(_safe_str(exc), limit),
        "traceback": _cap(text, limit),
    }


def _run(source, namespace, limit):
    """Run source like a REPL would; return (result, exception or None)."""
    try:
        code = source.decode("utf-8")
        linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
        tree = ast.parse(code, FILENAME)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = compile(ast.Expression(tree.body.pop().value), FILENAME, "eval", dont_inherit=True)
        exec(compile(tree, FILENAME, "exec", dont_inherit=True), namespace)
        value = None if last is None else eval(last, namespace)
        return (None if value is None else _cap(repr(value), limit)), None
    except BaseException as exc:
        return None, exc


def _outcome(exc, limit):
    """The exit code and error record for exc, as the interpreter would exit."""
    if exc is None:
        return 0, None
    if not isinstance(exc, SystemExit):
        return 1, _describe(exc, limit)
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


def _flush():
    """Run atexit handlers and flush every stream, whatever the code did to them."""
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def _main():
    # Bound before the user's code runs, so patching the modules cannot break reporting.
    write, exit_now, dumps = os.write, os._exit, json.dumps

    data = sys.stdin.buffer.read()
    line, _, source = data.partition(b"\n")
    header = json.loads(line.decode("utf-8"))
    del data, line
    nonce = header["nonce"].encode("ascii")  # kept only in this frame's locals
    fd = header["envelope_fd"]
    limit = header.get("max_repr") or 65536

    null = os.open(os.devnull, os.O_RDONLY)  # input() in the code sees EOF
    os.dup2(null, 0)
    if null != 0:
        os.close(null)
    os.set_inheritable(fd, False)  # subprocesses must not get the envelope channel
    for stream in (sys.stdout, sys.stderr):  # -I ignores PYTHONIOENCODING
        try:
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
        except BaseException:
            pass

    sys.argv = [""]
    if header.get("workdir"):
        sys.path.insert(0, header["workdir"])
    sys.path.extend(header.get("sys_path") or [])
    import site  # with -S, importing site only defines helpers; add exit(), quit(), help()
    site.setquit()
    site.sethelper()
    del header

    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    recursion_limit = sys.getrecursionlimit()

    result, exc = _run(source, main.__dict__, limit)

    sys.setrecursionlimit(recursion_limit)
    exit_code, error = _outcome(exc, limit)
    _flush()
    payload = dumps({
        "status": "ok" if exit_code == 0 else "error",
        "exit_code": exit_code,
        "result": result,
        "error": error,
    }, ensure_ascii=False).encode("utf-8")
    frame = b"AIRLOCK-ENVELOPE/1 %s %d\n%s\n" % (nonce, len(payload), payload)
    try:
        while frame:
            frame = frame[write(fd, frame):]
    except OSError:
        pass  # the code closed or replaced the fd: no envelope, the exit code still tells
    exit_now(exit_code)  # lingering non-daemon threads must not hold the sandbox open


_main()
