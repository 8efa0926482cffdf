"""Shared helpers for the integration harness: bounded waits, processes, temp dirs, loopback HTTP.

Every process the harness starts goes through `start_process` and is recorded in a process-wide
registry, so a runner watchdog can stop all of them (by PID) if a test run exceeds its budget.
Every temp dir goes through `make_temp_dir` and is recorded the same way.
"""

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

LOOPBACK = "127.0.0.1"

_registry_lock = threading.Lock()
_live_processes = {}  # pid -> Popen
_live_dirs = set()


class HarnessError(Exception):
    """A fixture could not be brought up or a tool failed; the message says what and why."""


def free_port():
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls `predicate` until it returns a truthy value, which is returned.

    Raises TimeoutError naming `what` after `timeout` seconds. Exceptions from the predicate
    count as "not yet" and the last one is included in the error message.
    """
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_error = None
        except Exception as e:  # noqa: BLE001 - the predicate may fail while things start up
            last_error = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}{detail}")
        time.sleep(interval)


def make_temp_dir(prefix):
    """Creates a temp dir directly under /tmp (short paths: unix sockets are limited to 108 bytes)."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    with _registry_lock:
        _live_dirs.add(path)
    return path


def remove_temp_dir(path):
    """Removes a dir made by make_temp_dir; tolerates it being gone already."""
    shutil.rmtree(path, ignore_errors=True)
    with _registry_lock:
        _live_dirs.discard(path)


def start_process(args, log_path, env=None, stdout_path=None):
    """Starts `args` with stderr (and stdout, unless stdout_path is given) appended to log_path.

    The process gets its own session so a terminal ^C does not reach it before our cleanup does.
    """
    log = open(log_path, "ab")
    out = open(stdout_path, "ab") if stdout_path else log
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=log, env=env,
                                start_new_session=True)
    finally:
        log.close()
        if out is not log:
            out.close()
    with _registry_lock:
        _live_processes[proc.pid] = proc
    return proc


def stop_process(proc, term_timeout=10.0, sig=signal.SIGTERM):
    """Stops one process by PID: `sig` (SIGTERM by default), then SIGKILL after term_timeout.

    Returns the exit code (negative signal number when killed by a signal). Safe to call twice.
    """
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=term_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    with _registry_lock:
        _live_processes.pop(proc.pid, None)
    return proc.returncode


def emergency_cleanup():
    """SIGKILLs every process the harness started and removes every temp dir it made.

    For the runner's watchdog and signal handlers only; tests clean up through their fixtures.
    """
    # A signal handler may run this while the interrupted thread holds the lock: don't wait on it.
    locked = _registry_lock.acquire(timeout=1.0)
    try:
        procs = list(_live_processes.values())
        dirs = list(_live_dirs)
    finally:
        if locked:
            _registry_lock.release()
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def run(args, timeout=60, check=True, input_bytes=None, env=None):
    """Runs a tool to completion with a time bound; returns CompletedProcess (text output).

    With check=True a non-zero exit raises HarnessError carrying the command, exit code and stderr.
    """
    try:
        res = subprocess.run(args, input=input_bytes, capture_output=True, timeout=timeout,
                             env=env)
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"command timed out after {timeout}s: {' '.join(map(str, args))}") from e
    res.stdout = res.stdout.decode("utf-8", "replace")
    res.stderr = res.stderr.decode("utf-8", "replace")
    if check and res.returncode != 0:
        raise HarnessError(f"command failed (exit {res.returncode}): {' '.join(map(str, args))}\n"
                           f"stdout: {res.stdout[-2000:]}\nstderr: {res.stderr[-2000:]}")
    return res


def http_request(url, method="GET", headers=None, timeout=5.0, data=None):
    """One HTTP request to a loopback URL; returns (status, headers dict lower-cased, body bytes).

    Refuses any host other than 127.0.0.1 / ::1 / localhost: tests never send traffic elsewhere.
    HTTP error statuses are returned, not raised; connection errors raise.
    """
    host = urllib.request.urlparse(url).hostname
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise HarnessError(f"refusing non-loopback URL {url}")
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        body = e.read() if e.fp else b""
        return e.code, {k.lower(): v for k, v in e.headers.items()}, body


def snapshot_tree(root):
    """{relative path: (kind, mode, bytes or link target)} of everything under root: compares two
    states of a directory byte for byte (contents, modes, symlinks)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), b"")
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), f.read())
    return out


def tail(path, max_bytes=4000):
    """The last max_bytes of a log file, for failure messages."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"


def proc_cmdline(pid):
    """The argument list of process `pid`, or None if it is gone (a zombie or kernel thread
    gives [])."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def _ancestors():
    """This process and its ancestors' PIDs (so a search never finds its own caller)."""
    pids = {os.getpid()}
    pid = os.getpid()
    for _ in range(64):  # bounded: PID 1 is reached long before
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if pid <= 1:
            break
        pids.add(pid)
    return pids


def procs_pointing_into(path):
    """PIDs, other than this process's and its ancestors', whose cwd or any argument lies
    inside `path`."""
    path = os.path.realpath(path)
    found = []
    mine = _ancestors()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        args = proc_cmdline(entry) or []
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        if cwd == path or cwd.startswith(path + "/") or any(path in a for a in args):
            found.append(int(entry))
    return found


def netns_names(prefix=""):
    """Names of the network namespaces (`ip netns list`) that start with `prefix`."""
    res = run(["ip", "netns", "list"], timeout=10, check=False)
    return {line.split()[0] for line in res.stdout.splitlines()
            if line.strip() and line.split()[0].startswith(prefix)}
