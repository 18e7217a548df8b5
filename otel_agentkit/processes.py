"""multiprocessing Pool workers: write what they recorded before ``Pool.terminate()`` ends them.

``with multiprocessing.Pool() as pool:`` leaves through ``terminate()``, which sends SIGTERM to every worker.
SIGTERM's default action kills the worker at once, before multiprocessing's exit finalizers (where init()
flushes) run, so everything the worker recorded would be lost. In a Pool worker, and only there, a SIGTERM
handler therefore first writes what the worker holds (waiting a bounded time), then ends the process as
SIGTERM would have (same signal, same exit status). Nothing runs per task and nothing outside Pool workers:
the ordinary path costs nothing.

A worker whose application installed its own SIGTERM handler keeps it. What cannot be written in the bound
is counted (``diagnostics.count_drop``) and said on stderr, since the counts die with the worker.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any, Callable

from . import diagnostics

TERMINATE_FLUSH_S = 3.0
"""How long a terminated Pool worker may take to write what it holds (Pool.terminate waits for it)."""

_stop: Callable[[float], Any] | None = None  # runtime.shutdown: the flush a worker does on its way out
_guarded_pid: int | None = None
_exiting = False  # the worker is leaving normally and flushing in its main thread


def in_pool_worker() -> bool:
    """True in a process started by a multiprocessing Pool (its target is ``multiprocessing.pool.worker``)."""
    mp_process = sys.modules.get("multiprocessing.process")
    if mp_process is None:
        return False
    target = getattr(mp_process.current_process(), "_target", None)
    return (getattr(target, "__module__", None), getattr(target, "__name__", None)) == ("multiprocessing.pool", "worker")


def _becoming_pool_worker() -> bool:
    """True while a spawned Pool worker imports the main module (init() at its top runs then): the process
    object with its target is not unpickled yet, but multiprocessing already gave the process its name."""
    mp_process = sys.modules.get("multiprocessing.process")
    if mp_process is None:
        return False
    current = mp_process.current_process()
    return bool(getattr(current, "_inheriting", False)) and "PoolWorker-" in str(getattr(current, "name", ""))


def guard_pool_worker(stop: Callable[[float], Any]) -> None:
    """In a Pool worker's main thread, make SIGTERM flush (through ``stop(timeout)``) before it kills."""
    global _stop, _guarded_pid, _exiting
    _stop = stop
    pid = os.getpid()
    if _guarded_pid == pid or threading.current_thread() is not threading.main_thread():
        return
    _exiting = False  # a forked worker starts afresh, whatever its parent was doing
    if not (in_pool_worker() or _becoming_pool_worker()):
        return
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current not in (signal.SIG_DFL, None, _on_sigterm):  # the application's own handler stays
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
        _guarded_pid = pid
    except (ValueError, OSError) as exc:  # not the main interpreter, or no signals here
        diagnostics.report("processes.guard_pool_worker", exc)


def leaving(stop: Callable[[float], Any], timeout: float) -> None:
    """The worker's own exit flush (multiprocessing's finalizer): a SIGTERM meanwhile must not cut it short."""
    global _exiting
    _exiting = True
    stop(timeout)


def _on_sigterm(signum: int, frame: Any) -> None:
    if os.getpid() != _guarded_pid or not in_pool_worker():  # inherited by a fork of the worker; not a worker
        _die(signum)
    mp_util = sys.modules.get("multiprocessing.util")
    if _exiting or getattr(mp_util, "_exiting", False):
        # Leaving already, flushing in this (interrupted) main thread: let it finish, within the bound.
        _watchdog(signum, TERMINATE_FLUSH_S + 2.0)
        return
    done = threading.Event()

    def flush() -> None:
        try:
            if _stop is not None:
                _stop(TERMINATE_FLUSH_S)
        except Exception as exc:
            diagnostics.report("processes.terminate_flush", exc)
        finally:
            done.set()

    # In a thread: this handler interrupts the main thread wherever it was, possibly holding a lock the
    # flush needs; the wait is bounded either way.
    threading.Thread(target=flush, name="agentkit-terminate-flush", daemon=True).start()
    if not done.wait(TERMINATE_FLUSH_S + 2.0):
        diagnostics.count_drop("pool_worker.terminated_before_written")
        _say(f"otel_agentkit: Pool worker {os.getpid()} terminated (Pool.terminate) before its exporters "
             f"finished (waited {TERMINATE_FLUSH_S + 2.0:.0f} s); telemetry they still held is lost")
    _die(signum)


def _watchdog(signum: int, after_s: float) -> None:
    def run() -> None:
        time.sleep(after_s)
        diagnostics.count_drop("pool_worker.terminated_before_written")
        _say(f"otel_agentkit: Pool worker {os.getpid()} still exiting {after_s:.0f} s after SIGTERM "
             "(Pool.terminate); ending it: telemetry its exporters still held is lost")
        _die(signum)

    threading.Thread(target=run, name="agentkit-terminate-watchdog", daemon=True).start()


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def _die(signum: int) -> None:
    """End the process as the signal's default action would (the parent sees the same exit status); from a
    thread other than the main one the handler cannot be reset, and the exit status says 128 + signal."""
    try:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    except Exception:
        pass
    os._exit(128 + signum)
