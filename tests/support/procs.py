"""Real servers for tests: a free loopback port, a process started and stopped by PID, readiness polling.

A missing binary fails the test (never skips): the test script provisions every part on a fresh machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def require_binary(name: str) -> str:
    """The path of ``name`` on PATH or beside the running interpreter; an AssertionError if absent."""
    import sys

    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed; scripts/test.sh provisions it (a missing part is a failure)"
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Server:
    """A started process: its PID, its log file, stop() by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """Hard kill (SIGKILL), as a crash would."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(cmd: Sequence[str], log_path: Path, ready: Callable[[], bool], timeout: float = 30,
                 env: dict[str, str] | None = None, what: str | None = None) -> Server:
    """Start ``cmd`` with output to ``log_path`` and wait until ``ready()``; the log is in the error if not."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")
    proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    log.close()
    server = Server(proc, log_path)
    try:
        wait_until(lambda: proc.poll() is None and ready(), timeout, what or cmd[0])
    except AssertionError as exc:
        server.stop()
        raise AssertionError(f"{exc}; exit={proc.poll()}; log:\n{server.log()[-3000:]}") from None
    return server


@contextlib.contextmanager
def running(cmd: Sequence[str], log_path: Path, ready: Callable[[], bool], **kw) -> Iterator[Server]:
    server = start_server(cmd, log_path, ready, **kw)
    try:
        yield server
    finally:
        server.stop()
