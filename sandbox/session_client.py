"""Airlock session client: carries one call to a session harness listening on a socket.

`python3 -I -S -B -c <this source> <socket path>`, started once per call
inside the session's sandbox by a backend whose only way in is an exec
(Modal). Described in sandbox/session_client.go. Stdin: the call's message
exactly as the Go side's NewSessionCall makes it (a header line naming the
lengths of the code and of the files block, then both); the client sends it to the harness with its
own stdout and stderr attached (SCM_RIGHTS: stdout, stderr, and stderr again
as the envelope channel), so the call's output and its envelope frame come
out of this exec's streams. Stdin then stays open: its end of file, before
the call is over, asks for an interrupt, and the client sends SIGINT to the
harness (found with SO_PEERCRED). The call is over when the harness closes
the connection; the client then checks that the harness still listens.

With a second argument `cpu=N`, before sending the call it gives the
harness N more seconds of CPU time than it has used so far (RLIMIT_CPU's
soft limit, set with prlimit; the hard limit stays): the CPU limit is per
call, as in a fresh sandbox. With `ready` instead, it carries no call: it
waits until the harness listens (a starting interpreter), at most
READY_WAIT seconds.

Exit status: 0 the call was served and the interpreter lives on; 3 the
harness could not be reached (the call did not run); 4 the connection ended
and the interpreter is gone; 5 the CPU limit could not be set (the call did
not run). Stdlib only; must run on Python 3.8+.
"""
import _signal
import _socket
import _thread
import posix
import sys

SERVED, UNREACHABLE, ENDED, NO_CPU_LIMIT = 0, 3, 4, 5
MAX_HEADER = 256
READY_WAIT = 120  # seconds an interpreter may take to start listening


def _read_message():
    """The call's message from stdin: the header line, then exactly the files and code it announces."""
    data = b""
    while b"\n" not in data:
        if len(data) > MAX_HEADER:
            raise SystemExit("airlock session client: the header line is too long")
        chunk = posix.read(0, MAX_HEADER)
        if not chunk:
            raise SystemExit("airlock session client: stdin ended inside the header")
        data += chunk
    header, code = data.split(b"\n", 1)
    fields = header.split(b" ")
    if len(fields) != 7:
        raise SystemExit("airlock session client: not a call header")
    length = int(fields[3]) + int(fields[4])  # the code, and the files before it
    parts, size = [header, b"\n", code], len(code)
    while size < length:
        chunk = posix.read(0, min(length - size, 1 << 20))
        if not chunk:
            raise SystemExit("airlock session client: stdin ended inside the code")
        parts.append(chunk)
        size += len(chunk)
    if size != length:
        raise SystemExit("airlock session client: bytes past the code on stdin")
    return b"".join(parts)


def _connect(path):
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def _interrupt_on_eof(pid):
    """Wait for stdin's end of file, then interrupt the harness."""
    try:
        while posix.read(0, 4096):
            pass
        posix.kill(pid, _signal.SIGINT)
    except OSError:
        pass


def _arm_cpu(pid, seconds):
    """Set the harness's soft CPU limit to its CPU time so far plus seconds, rounded up."""
    import resource

    with open("/proc/%d/stat" % pid, "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    used = (int(fields[11]) + int(fields[12])) / posix.sysconf("SC_CLK_TCK")  # utime + stime
    soft = int(used + seconds)
    if soft < used + seconds:
        soft += 1
    hard = resource.prlimit(pid, resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.prlimit(pid, resource.RLIMIT_CPU, (soft, hard))


def _alive(path):
    """Whether the harness still listens: it accepts and closes a connection that sends nothing."""
    try:
        sock = _connect(path)
        sock.shutdown(_socket.SHUT_WR)
        ended = sock.recv(1) == b""
        sock.close()
        return ended
    except OSError:
        return False


def main(path, cpu_seconds):
    message = _read_message()
    try:
        sock = _connect(path)
    except OSError:
        posix._exit(UNREACHABLE)
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    pid = int.from_bytes(creds[:4], sys.byteorder, signed=True)
    if cpu_seconds is not None:
        try:
            _arm_cpu(pid, cpu_seconds)
        except (OSError, ValueError, IndexError):
            posix._exit(NO_CPU_LIMIT)
    rights = (1).to_bytes(4, sys.byteorder) + (2).to_bytes(4, sys.byteorder) * 2
    try:
        sent = sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
        if sent < len(message):  # sendall sends once even with nothing left, and the harness may be done
            sock.sendall(message[sent:])
    except OSError:
        posix._exit(UNREACHABLE if not _alive(path) else ENDED)
    if pid > 0:
        _thread.start_new_thread(_interrupt_on_eof, (pid,))
    try:
        while sock.recv(4096):
            pass  # the harness sends nothing back: the end of the stream ends the call
    except OSError:
        pass
    sock.close()
    posix._exit(SERVED if _alive(path) else ENDED)


def ready(path):
    """Wait, for at most READY_WAIT seconds, for the harness to listen."""
    import time

    deadline = time.monotonic() + READY_WAIT
    while not _alive(path):
        if time.monotonic() > deadline:
            posix._exit(UNREACHABLE)
        time.sleep(0.005)
    posix._exit(SERVED)


if sys.argv[2:] == ["ready"]:
    ready(sys.argv[1])
cpu = [a for a in sys.argv[2:] if a.startswith("cpu=")]
main(sys.argv[1], int(cpu[0][4:]) if cpu else None)
