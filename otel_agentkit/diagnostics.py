"""Containment for the SDK's own failures: telemetry must never break the host application.

Every ``except`` inside the SDK that swallows an error calls :func:`report`, which logs the first
occurrence per (where, error type) and counts all of them. The counts are readable in-process
(:func:`error_counts`) and exported as the ``agentkit.sdk.errors`` self-metric.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Hashable

logger = logging.getLogger("otel_agentkit")

_lock = threading.Lock()
_errors: Counter[tuple[str, str]] = Counter()
_drops: Counter[str] = Counter()
_drops_untaken: Counter[str] = Counter()  # since the last take_drops(): what flush() reports


def report(where: str, exc: BaseException) -> None:
    """Record an SDK-internal failure at ``where``: logged once per (where, type), always counted."""
    key = (where, type(exc).__name__)
    with _lock:
        _errors[key] += 1
        first = _errors[key] == 1
    if first:  # with its stack: "invocation.end failed: TypeError" alone tells a maintainer nothing; an
        # OSError (a store or a file that does not answer) is the environment's, and its message says it all
        stack = None if isinstance(exc, OSError) else (type(exc), exc, exc.__traceback__)
        try:
            logger.warning("otel_agentkit: %s failed: %s: %s (further ones are counted, not logged)",
                           where, key[1], exc, exc_info=stack)
        except Exception:  # a broken logging handler must not break the caller either
            pass


_warned: set[Hashable] = set()


def warn_once(key: Hashable, message: str, *args: object) -> None:
    """Log a warning about a misconfiguration the first time ``key`` is seen: a setting that is wrong stays
    wrong for the life of the process, and one line says it."""
    _once(logging.WARNING, key, message, args)


def debug_once(key: Hashable, message: str, *args: object) -> None:
    """The same at debug level: for what the SDK left out on purpose (an unknown request keyword)."""
    _once(logging.DEBUG, key, message, args)


def seen(key: Hashable) -> bool:
    """Whether ``key`` was logged already (to skip building a message that would not be logged)."""
    return key in _warned


def _once(level: int, key: Hashable, message: str, args: tuple[object, ...]) -> None:
    if key in _warned:
        return
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    try:
        logger.log(level, message, *args)
    except Exception:  # a broken logging handler must not break the caller either
        pass


def count_drop(what: str, n: int = 1) -> None:
    """Count telemetry that was knowingly dropped (a full queue, a full spool)."""
    with _lock:
        _drops[what] += n
        _drops_untaken[what] += n


def take_drops() -> dict[str, int]:
    """Drops counted since the previous call, then forgotten: ``flush()`` asks whether anything was lost
    since the last flush (the totals in :func:`drop_counts` are kept)."""
    with _lock:
        taken = dict(_drops_untaken)
        _drops_untaken.clear()
    return taken


def error_counts() -> dict[tuple[str, str], int]:
    """A snapshot of contained SDK errors by (where, error type)."""
    with _lock:
        return dict(_errors)


def drop_counts() -> dict[str, int]:
    with _lock:
        return dict(_drops)


def reset() -> None:
    """Forget all counts and warnings given (tests)."""
    with _lock:
        _warned.clear()
        _errors.clear()
        _drops.clear()
        _drops_untaken.clear()
