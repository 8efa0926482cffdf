"""ManagedDaemon: the part every daemon wrapper of the harness shares.

A subclass says what to run (`command()`) and how to tell it is up (a probe passed to
`wait_up`); this class starts it through util.start_process (so the runner's watchdog can kill
it), keeps its log, waits for it with a bound, stops it by PID and reads its log for failure
messages. Used by containerd.Containerd, registry.Registry, spegel.Spegel and the cluster
harness's NodeContainerd and NodeSpegel.

Owner: the test (or fixture) that constructs the wrapper. Not thread-safe.
"""

import signal

from . import util


class ManagedDaemon:
    """One long-running process with a log file; `proc` is its Popen while it runs, else None.

    Subclasses set `log_path` (and `stdout_path` to keep stdout apart) before launching, and
    `name` (used in messages, e.g. "containerd").
    """

    name = "daemon"
    log_name = "daemon"  # "<log_name> log:" in timeout messages
    stop_timeout = 10.0  # SIGTERM, then SIGKILL after this many seconds.
    dir = None  # The wrapper's own temp dir (util.make_temp_dir), removed by close().

    def __init__(self, log_path=None, stdout_path=None):
        self.log_path = log_path
        self.stdout_path = stdout_path
        self.proc = None
        self.exit_code = None

    def command(self):
        """The argument list to run."""
        raise NotImplementedError

    # ---- lifecycle -------------------------------------------------------------------------

    def launch(self, banner=None):
        """Starts command() (no wait). With `banner`, first appends `---- harness: <banner> ----`
        to the log, so restarts are easy to tell apart in it."""
        if self.running():
            raise util.HarnessError(f"{self.name} already running")
        if banner is not None:
            with open(self.log_path, "ab") as f:
                f.write(f"---- harness: {banner} ----\n".encode())
        self.proc = util.start_process(self.command(), self.log_path,
                                       stdout_path=self.stdout_path)
        return self.proc

    def wait_up(self, probe, timeout, what, interval=0.05, explain=False):
        """Polls `probe()` until it is truthy (bounded by `timeout`; TimeoutError names `what`).
        The process exiting first is a HarnessError with its exit code and the log's tail. With
        `explain`, a timeout is a HarnessError that carries the log's tail too."""
        def up():
            self.check_alive()
            return probe()
        try:
            return util.wait_until(up, timeout, what, interval)
        except TimeoutError as e:
            if not explain:
                raise
            raise util.HarnessError(f"{e}\n{self.log_name} log:\n{self.log_tail()}") from e

    def start_and_wait(self, probe, timeout, what, banner=None):
        """launch(), then wait_up(probe, ...); a daemon that does not come up is stopped again
        before the error propagates."""
        self.launch(banner)
        try:
            self.wait_up(probe, timeout, what)
        except BaseException:
            self.stop()
            raise
        return self

    def check_alive(self):
        """Raises HarnessError (exit code and log tail) if the process has exited."""
        if self.proc.poll() is not None:
            raise util.HarnessError(f"{self.name} exited with {self.proc.returncode}:\n"
                                    f"{util.tail(self.log_path)}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=None):
        """SIGTERM (SIGKILL after `timeout`, default stop_timeout), by PID; returns the exit code,
        None if it was not running. The last exit code is kept in `exit_code`."""
        proc, self.proc = self.proc, None
        code = util.stop_process(proc, term_timeout=self.stop_timeout if timeout is None
                                 else timeout)
        if proc is not None:
            self.exit_code = code
        return code

    def kill(self):
        """SIGKILL, as in a crash (no clean shutdown); returns the exit code."""
        proc, self.proc = self.proc, None
        code = util.stop_process(proc, term_timeout=5.0, sig=signal.SIGKILL)
        if proc is not None:
            self.exit_code = code
        return code

    def close(self):
        """Stops the daemon and removes its own temp dir (`dir`), if it has one."""
        try:
            self.stop()
        finally:
            if self.dir is not None:
                util.remove_temp_dir(self.dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- log -------------------------------------------------------------------------------

    def log_text(self):
        """The whole log ("" if there is none yet)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, max_bytes=4000):
        """The last max_bytes of the log, for failure messages."""
        return util.tail(self.log_path, max_bytes)
