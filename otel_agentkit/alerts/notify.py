"""Firing: claim the cooldown, write history, deliver to the channels (in the background in-process).

The cooldown claim is the store's atomic transaction, so the same breach seen by several processes fires
once. The end of a cooldown is cached per rule, so a rule that stays breached costs no database write per
evaluation tick. Deliveries run on a few daemon threads: a slow webhook (10 s timeout, retries) delays
neither evaluation nor the other rules, and never keeps the host process from exiting.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TextIO

from .. import diagnostics
from .channels import Alert, deliver
from .db import AlertStore
from .netguard import Guard
from .rules import Rule


class Notifier:
    def __init__(self, store: AlertStore, guard: Guard, *, background: bool = True, workers: int = 2,
                 stream: TextIO | None = None) -> None:
        self.store = store
        self.guard = guard
        self.stream = stream
        self._background = background
        self._workers = workers
        self._jobs: queue.SimpleQueue[Alert | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._pending = 0
        self._idle = threading.Condition()
        self._cooldown_until: dict[int, float] = {}
        self.fired: list[Alert] = []  # this process's firings, newest last (bounded)

    def fire(self, rule: Rule, value: float, now: float | None = None) -> Alert | None:
        """Fire ``rule`` unless it is in its cooldown; returns the Alert when it fired."""
        now = time.time() if now is None else now
        cached = self._cooldown_until.get(rule.id)  # type: ignore[arg-type]
        if cached is not None and now < cached:
            return None
        history_id, until = self.store.claim_firing(rule, value, now)
        self._cooldown_until[rule.id] = until  # type: ignore[index]
        if history_id is None:
            return None
        alert = Alert(rule, value, now, history_id)
        self.fired.append(alert)
        del self.fired[:-100]
        if self._background:
            with self._idle:
                self._pending += 1
            self._start_workers()
            self._jobs.put(alert)
        else:
            self._deliver(alert)
        return alert

    def forget_cooldowns(self) -> None:
        """Drop cached cooldown ends (rules changed, or a cooldown was reset elsewhere)."""
        self._cooldown_until.clear()

    def _deliver(self, alert: Alert) -> None:
        try:
            results = deliver(alert, self.guard, self.stream)
            self.store.set_deliveries(alert.history_id, results)  # type: ignore[arg-type]
        except Exception as exc:
            diagnostics.report("alerts.deliver", exc)

    def _start_workers(self) -> None:
        if len(self._threads) >= self._workers:
            return
        with self._idle:
            while len(self._threads) < self._workers:
                t = threading.Thread(target=self._run, name=f"agentkit-alerts-deliver-{len(self._threads)}",
                                     daemon=True)
                t.start()
                self._threads.append(t)

    def _run(self) -> None:
        while True:
            alert = self._jobs.get()
            if alert is None:
                return
            try:
                self._deliver(alert)
            finally:
                with self._idle:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every delivery started so far has finished; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def shutdown(self, timeout: float | None = 10.0) -> bool:
        done = self.wait_idle(timeout)
        for _ in self._threads:
            self._jobs.put(None)
        self._threads = []
        return done

