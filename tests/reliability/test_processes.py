"""Processes: spans made after ``os.fork()`` and in multiprocessing workers reach the JSONL files; the data
directory and what the SDK writes into it are owner-only; files written by several processes at once, across
rotations, always parse.

Every scenario runs in a fresh interpreter (``tests/reliability/workers.py``), never by forking pytest.
"""

from __future__ import annotations

import collections
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from otel_agentkit import semconv as sc
from otel_agentkit.export.reader import ReadStats, iter_spans
from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=full_env, cwd=ROOT,
                          timeout=timeout)


def _spans_by_task(directory: Path) -> tuple[collections.Counter[str], ReadStats]:
    stats = ReadStats()
    key = sc.AGENTKIT_PREFIX + "task"  # what agentkit.attributes(task=...) sets
    counts = collections.Counter(str(s.attributes.get(key)) for s in iter_spans(directory, stats=stats))
    return counts, stats


@pytest.mark.parametrize("scenario", ["fork", "mp-fork-pool", "mp-fork-process", "mp-spawn-pool",
                                      "mp-spawn-process"])
def test_spans_made_in_child_processes_are_exported(scenario: str, tmp_path: Path, figures: Any) -> None:
    home = tmp_path / "home"
    proc = _run(["-m", "tests.reliability.workers", scenario], {"RELIABILITY_INIT": "1", "AGENTKIT_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = json.loads(proc.stdout.strip().splitlines()[-1])["made"]
    counts, stats = _spans_by_task(home / "telemetry")
    produced = sum(expected.values())
    exported = sum(counts[label] for label in expected)
    figures.record(spans_produced=produced, spans_exported=exported, corrupt_lines=stats.corrupt,
                   lost_by_task={k: v - counts[k] for k, v in expected.items() if counts[k] != v})
    assert stats.corrupt == 0
    assert {k: counts[k] for k in expected} == expected, f"made {expected}, read back {dict(counts)}"


def test_a_decorated_function_can_be_a_multiprocessing_target(tmp_path: Path, figures: Any) -> None:
    """multiprocessing pickles the target (spawn) or the task function (every Pool): a decorated function
    must pickle by name like the plain function it wraps."""
    code = textwrap.dedent("""
        import multiprocessing as mp, pickle, sys
        from tests.reliability import workers
        pickle.loads(pickle.dumps(workers.agent_step))
        p = mp.get_context("spawn").Process(target=workers.agent_step)
        p.start(); p.join(60)
        sys.exit(p.exitcode)
    """)
    proc = _run(["-c", code], {"RELIABILITY_INIT": "1", "AGENTKIT_HOME": str(tmp_path / "home")})
    figures.record(exit_code=proc.returncode)
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    assert proc.returncode == 0, f"a decorated function as a multiprocessing target: {last}\n{proc.stderr[-2000:]}"


# --- permissions ------------------------------------------------------------------------------------------------
PERMISSION_PROGRAM = """
import os, sys
os.umask(0o022)
home = sys.argv[2]
import otel_agentkit as agentkit
first = sys.argv[1]
if first == "agent store":
    from otel_agentkit.agents import open_store
    store = open_store(None, home=home)
    store.ping()
    store.close()
    sys.exit(0)
kwargs = {"jsonl": dict(exporters=["jsonl"], capture_content="SPAN_AND_EVENT"),
          "otlp spool": dict(exporters=["otlp"]),
          "user id salt": dict(exporters="none", metric_exporters="none"),
          "alert history": dict(exporters=["jsonl"], alerts=True)}[first]
agentkit.init(service_name="perms", home=home, **kwargs)
with agentkit.attributes(user_id="user-1"):
    with agentkit.llm(provider="openai", model="gpt-4o-mini") as call:
        call.record(input_tokens=3, output_tokens=1, input_messages=[{"role": "user", "content": "hi"}])
agentkit.flush(5)
agentkit.shutdown()
"""


@pytest.mark.parametrize("first", ["jsonl", "otlp spool", "user id salt", "agent store", "alert history"])
def test_the_data_directory_is_owner_only_whoever_creates_it(first: str, tmp_path: Path, figures: Any) -> None:
    """Under the usual umask (022), whichever part of the SDK writes first: the data directory and every directory
    in it 0700, every file 0600."""
    home = tmp_path / "data" / "agentkit"  # its parent exists; the data directory itself does not yet
    (tmp_path / "data").mkdir()
    proc = _run(["-c", PERMISSION_PROGRAM, first, str(home)],
                {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}", "OTEL_EXPORTER_OTLP_TIMEOUT": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    modes = {".": stat.S_IMODE(home.stat().st_mode)}
    for path in home.rglob("*"):
        modes[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    wrong = {name: oct(mode) for name, mode in modes.items()
             if mode != (0o700 if (home / name).is_dir() else 0o600)}
    figures.record(paths_checked=len(modes), wrong_modes=wrong)
    assert len(modes) > 1, "nothing was written"
    assert wrong == {}, f"not owner-only: {wrong}"


# --- concurrent writers -------------------------------------------------------------------------------------------
WRITERS = 4
BATCHES = 400
ROTATE_BYTES = 64 * 1024


def test_files_written_by_several_processes_at_once_always_parse(tmp_path: Path, figures: Any) -> None:
    directory = tmp_path / "telemetry"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.reliability.workers", "write", str(directory), str(w),
                               str(BATCHES), str(ROTATE_BYTES)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT) for w in range(WRITERS)]
    written: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        written += json.loads(out.strip().splitlines()[-1])["ids"]
    stats = ReadStats()
    read = [s.span_id for s in iter_spans(directory, stats=stats)]
    files = sorted(p.name for p in directory.iterdir())
    figures.record(writer_processes=WRITERS, spans_produced=len(written), spans_exported=len(set(read)),
                   files_after_rotation=len(files), corrupt_lines=stats.corrupt)
    assert stats.corrupt == 0 and stats.unreadable_files == 0
    assert len(files) > WRITERS  # the writers did rotate the file under each other
    assert sorted(read) == sorted(written)  # every span exactly once
