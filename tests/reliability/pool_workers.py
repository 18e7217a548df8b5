"""Programs the Pool tests run in fresh interpreters: ``python -m tests.reliability.pool_workers METHOD KIND``.

Each runs LLM calls in multiprocessing Pool workers, leaving the Pool the way applications do (a ``with``
block, which ends through ``Pool.terminate()``), and prints one JSON line: the calls it made. The SDK starts
where an application starts it: at import of the main module (``POOL_INIT=main``: spawned workers import it
again), or in the Pool's initializer (``initializer`` kind: the parent records nothing and never calls init).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import threading

import otel_agentkit as agentkit

CALLS = 8
WORKERS = 2


def _start() -> None:
    if os.environ.get("POOL_ZERO_CODE_FIRST"):  # what opentelemetry-instrument's hook does before the app runs
        from otel_agentkit import runtime

        # In the parent, multiprocessing.util is not imported yet (as in a plain app): its workers are hooked
        # only through the fork hook. A spawned worker (this module as __mp_main__) runs the hook again, as the
        # command's children do.
        assert __name__ != "__main__" or "multiprocessing.util" not in sys.modules
        assert runtime.configure_from_environment()
    agentkit.init(service_name="pool-workers", exporters=["jsonl"], home=os.environ["AGENTKIT_HOME"])


if os.environ.get("POOL_INIT") == "main":  # the application's own start-up, run again in spawned workers
    _start()


class StuckExporter:
    """A backend that never answers (a hung network call): what it holds cannot be saved, only counted."""

    def export(self, batch: object) -> None:
        threading.Event().wait()

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: float = 0) -> bool:
        return False


def _start_with_a_stuck_backend() -> None:
    agentkit.init(service_name="pool-workers", exporters=["jsonl", StuckExporter()], metric_exporters="none",
                  home=os.environ["AGENTKIT_HOME"])


def call(i: int) -> int:
    """One LLM call, recorded with its usage."""
    with agentkit.llm(provider="openai", model="gpt-4o-mini") as record:
        record.record(input_tokens=10, output_tokens=5)
    return i


def run(method: str, kind: str) -> int:
    ctx = mp.get_context(method)
    items = list(range(CALLS))
    if kind == "map":
        with ctx.Pool(WORKERS) as pool:
            assert pool.map(call, items) == items
    elif kind == "imap":
        with ctx.Pool(WORKERS) as pool:
            assert sorted(pool.imap_unordered(call, items)) == items
    elif kind == "apply_async":
        with ctx.Pool(WORKERS) as pool:
            results = [pool.apply_async(call, (i,)) for i in items]
            assert [r.get(60) for r in results] == items
    elif kind == "maxtasksperchild":
        with ctx.Pool(WORKERS, maxtasksperchild=1) as pool:
            assert pool.map(call, items, chunksize=1) == items
    elif kind == "initializer":
        with ctx.Pool(WORKERS, initializer=_start) as pool:
            assert pool.map(call, items) == items
    elif kind == "stuck_backend":
        with ctx.Pool(WORKERS, initializer=_start_with_a_stuck_backend) as pool:
            assert pool.map(call, items) == items
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    return CALLS


if __name__ == "__main__":
    print(json.dumps({"calls": run(sys.argv[1], sys.argv[2])}))
