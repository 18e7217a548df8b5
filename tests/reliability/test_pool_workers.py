"""multiprocessing Pool workers: every call they record reaches the files, however the Pool is left.

``with Pool() as pool:`` ends through ``Pool.terminate()`` (SIGTERM to every worker), which used to kill the
workers before anything they recorded was written: 0 calls in ``agentkit usage``. Each scenario runs in a
fresh interpreter (``tests/reliability/pool_workers.py``) with real worker processes, under fork and spawn;
the files are read back by the ``agentkit`` CLI in a subprocess and the call count must be exact.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import require_binary

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["map", "imap", "apply_async", "maxtasksperchild", "initializer"]


def _usage(home: Path) -> dict[str, Any]:
    proc = subprocess.run([require_binary("agentkit"), "usage", "stats", "--json", "--home", str(home)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)["total"]


def _raw_spans(home: Path) -> int:
    """Spans in the traces files as written (line by line), before any reader de-duplicates."""
    total = 0
    for path in (home / "telemetry").glob("traces-*.jsonl"):
        for line in path.read_text().splitlines():
            total += sum(len(ss.get("spans", [])) for rs in json.loads(line).get("resourceSpans", [])
                         for ss in rs.get("scopeSpans", []))
    return total


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_calls_made_in_pool_workers_reach_the_files_when_the_with_block_terminates_them(
        method: str, kind: str, tmp_path: Path, figures: Any) -> None:
    _every_call_reaches_the_files(method, kind, tmp_path, figures)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_when_opentelemetry_instrument_started_first_and_init_follows(
        method: str, tmp_path: Path, figures: Any) -> None:
    """Zero-code and init() combined (the README's two starts): the providers opentelemetry-instrument's hook
    makes come first, then the app's init(). Its workers' calls were lost: the zero-code start took the exit
    registration that init() also armed the fork hook with. The hook's own call stands in for the command, so
    that no other package imports multiprocessing.util first (which hooks the workers another way)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTKIT_"))}
    _every_call_reaches_the_files(method, "map", tmp_path, figures, {**env, "POOL_ZERO_CODE_FIRST": "1"})


def _every_call_reaches_the_files(method: str, kind: str, tmp_path: Path, figures: Any,
                                  base_env: dict[str, str] | None = None) -> None:
    home = tmp_path / "home"
    env = {**(os.environ if base_env is None else base_env), "PYTHONPATH": str(ROOT), "AGENTKIT_HOME": str(home),
           "POOL_INIT": "" if kind == "initializer" else "main"}
    proc = subprocess.run([sys.executable, "-m", "tests.reliability.pool_workers", method, kind], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    made = json.loads(proc.stdout.strip().splitlines()[-1])["calls"]
    assert (home / "telemetry").is_dir(), f"nothing written by the Pool workers; stderr: {proc.stderr[-2000:]}"
    total = _usage(home)
    figures.record(calls_made=made, calls_read=total["calls"], spans_written=_raw_spans(home))
    assert total["calls"] == made
    assert total["input_tokens"] == 10 * made and total["output_tokens"] == 5 * made
    assert _raw_spans(home) == made  # written once each, not only counted once


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_stuck_backend_in_a_pool_worker_neither_hangs_the_pool_nor_costs_the_files(
        method: str, tmp_path: Path, figures: Any) -> None:
    """A user exporter that never returns, next to the JSONL files: leaving the with-block still ends (the
    worker's flush on SIGTERM is bounded), the files still get every call, and the loss is said on stderr."""
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AGENTKIT_HOME": str(home), "POOL_INIT": ""}
    proc = subprocess.run([sys.executable, "-m", "tests.reliability.pool_workers", method, "stuck_backend"],
                          env=env, capture_output=True, text=True, timeout=90, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    made = json.loads(proc.stdout.strip().splitlines()[-1])["calls"]
    total = _usage(home)
    figures.record(calls_made=made, calls_read=total["calls"])
    assert total["calls"] == made
    assert re.search(r"otel_agentkit: .*lost", proc.stderr), proc.stderr[-2000:]
