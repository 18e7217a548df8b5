"""A circuit breaker per export backend: stop calling a failing backend, probe it again after a back-off.

A backend that keeps failing would otherwise cost a full export timeout per batch; dropping it forever would
lose it for the rest of the process. The breaker does neither: after ``threshold`` consecutive failures it
opens, callers skip the backend (and spool or count what it would have got), and once the back-off has
passed one call is let through as a probe (half-open). A success closes the breaker; a failed probe opens
it again with the back-off doubled, up to ``max_backoff_s``.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import Callable


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Thread-safe consecutive-failure breaker with exponential back-off and a single half-open probe."""

    def __init__(self, threshold: int = 3, base_backoff_s: float = 1.0, max_backoff_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if threshold < 1:
            raise ValueError(f"invalid threshold={threshold!r}: expected 1 or more")
        if base_backoff_s <= 0 or max_backoff_s < base_backoff_s:
            raise ValueError(f"invalid back-off base={base_backoff_s!r} max={max_backoff_s!r}")
        self.threshold = threshold
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._failures = 0
        self._opens = 0  # consecutive openings without a success in between: sets the back-off
        self._retry_at = 0.0
        self.times_opened = 0  # lifetime count, for diagnostics and tests

    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    def allow(self) -> bool:
        """Whether a call may go to the backend now; in OPEN past the back-off, the one caller let through
        is the half-open probe and must report its outcome."""
        with self._lock:
            if self._state is State.CLOSED:
                return True
            if self._state is State.OPEN and self._clock() >= self._retry_at:
                self._state = State.HALF_OPEN
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = State.CLOSED
            self._failures = 0
            self._opens = 0

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state is State.HALF_OPEN or self._failures >= self.threshold:
                self._open()

    def _open(self) -> None:
        self._opens += 1
        self.times_opened += 1
        backoff = min(self.max_backoff_s, self.base_backoff_s * (2 ** (self._opens - 1)))
        self._state = State.OPEN
        self._retry_at = self._clock() + backoff

    def seconds_until_probe(self) -> float:
        """0 when a call would be allowed now; otherwise how long until the next probe."""
        with self._lock:
            if self._state is State.OPEN:
                return max(0.0, self._retry_at - self._clock())
            return 0.0
