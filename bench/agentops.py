"""Heartbeats and events per second against SQLite and Redis, as ratios against raw baselines run in the
same process, on the same server, in the same run.

Baseline (the target): raw redis-py ``SET key value PX ttl`` for a heartbeat and ``XADD stream MAXLEN n``
for an event (the same exact cap the event stream keeps), on the same Redis server; both stores are compared
with it. For context, SQLite is also compared with sqlite3 by hand (``INSERT OR REPLACE`` / ``INSERT`` in
autocommit, same WAL pragmas), without a target: that baseline skips the TTL bookkeeping, stream caps and
transactions the store needs. Telemetry runs on real SDK providers (no exporters), as it would after
``agentkit.init()``. Target: at most 1.5x raw.

    python bench/agentops.py [--ops 2000] [--rounds 5] [--redis-server PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from otel_agentkit.agents import EventStream, Heartbeats, Telemetry, open_store

TARGET = 1.5
PAYLOAD = {"agent_id": "bench-agent", "status": "working", "progress": 0.5, "current_task": "step",
           "metadata": {"role": "bench"}, "started_at": 0.0, "last_beat": 0.0, "beats": 1, "host": "h", "pid": 1}


def timed(fn: Callable[[int], None], start: int, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(start, start + n):
        fn(i)
    return time.perf_counter() - t0


def compare(name: str, baseline: str, ours: Callable[[int], None], raw: Callable[[int], None], ops: int,
            rounds: int, target: bool) -> dict:
    """Time ours and raw in short alternating batches and take the median of the per-pair ratios: on a
    machine shared with other work, a slow stretch hits both sides of a pair alike and cancels out."""
    batch = 100
    timed(raw, 0, batch), timed(ours, 0, batch)  # warm up connections and caches
    ratios, total_ours, total_raw = [], 0.0, 0.0
    for k in range(max(1, ops * rounds // batch)):
        if k % 2:
            t_raw, t_ours = timed(raw, k * batch, batch), timed(ours, k * batch, batch)
        else:
            t_ours, t_raw = timed(ours, k * batch, batch), timed(raw, k * batch, batch)
        ratios.append(t_ours / t_raw)
        total_ours += t_ours
        total_raw += t_raw
    n = batch * len(ratios)
    ratio = statistics.median(ratios)  # time per op, ours over raw
    return {"bench": name, "baseline": baseline, "ours_per_s": round(n / total_ours),
            "baseline_per_s": round(n / total_raw), "ratio": round(ratio, 2),
            "target": TARGET if target else None, "within_target": (ratio <= TARGET) if target else None}


def telemetry() -> Telemetry:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    return Telemetry(TracerProvider(), MeterProvider(metric_readers=[InMemoryMetricReader()]), LoggerProvider())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_sqlite(path: str) -> tuple[sqlite3.Connection, Callable[[int], None], Callable[[int], None]]:
    """sqlite3 by hand, same pragmas: one INSERT OR REPLACE per heartbeat, one INSERT per event."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT, expires_at REAL) WITHOUT ROWID")
    db.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT, ms INTEGER, data TEXT)")
    text = json.dumps(PAYLOAD)
    return (db,
            lambda i: db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", ("hb", text, time.time() + 30)),
            lambda i: db.execute("INSERT INTO log(stream, ms, data) VALUES (?, ?, ?)",
                                 ("bench", int(time.time() * 1000), json.dumps({"i": i}))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis-server", default=shutil.which("redis-server"))
    args = parser.parse_args()
    if not args.redis_server:
        print("redis-server not found (scripts/provision/redis.sh installs it)", file=sys.stderr)
        return 2
    import redis

    results = []
    text = json.dumps(PAYLOAD)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = subprocess.Popen([args.redis_server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                 "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            raw = redis.Redis.from_url(url, decode_responses=True)
            deadline = time.monotonic() + 20
            while True:
                try:
                    raw.ping()
                    break
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            redis_set = lambda i: raw.set("raw:hb", text, px=30000)
            redis_xadd = lambda i: raw.xadd("raw:events", {"d": json.dumps({"i": i})},
                                            maxlen=10000, approximate=False)
            db, sqlite_set, sqlite_insert = raw_sqlite(os.path.join(tmp, "raw.db"))
            for label, store_url in (("sqlite", os.path.join(tmp, "agents.db")), ("redis", url)):
                store = open_store(store_url)
                tel = telemetry()
                agent = Heartbeats(store, telemetry=tel).start("bench-agent", {"role": "bench"})
                events = EventStream(store, source="bench", telemetry=tel)
                beat = lambda i, agent=agent: agent.beat(progress=0.5)
                publish = lambda i, events=events: events.publish("bench", {"i": i})
                results.append(compare(f"{label} heartbeat", "redis-py SET", beat, redis_set, args.ops,
                                       args.rounds, target=True))
                results.append(compare(f"{label} event", "redis-py XADD", publish, redis_xadd, args.ops,
                                       args.rounds, target=True))
                if label == "sqlite":  # for context: the same work done with sqlite3 by hand
                    results.append(compare("sqlite heartbeat", "sqlite3 INSERT OR REPLACE", beat, sqlite_set,
                                           args.ops, args.rounds, target=False))
                    results.append(compare("sqlite event", "sqlite3 INSERT", publish, sqlite_insert, args.ops,
                                           args.rounds, target=False))
                agent.stop("completed")
                store.close()
            db.close()
            raw.close()
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
    print(f"{'bench':<17} {'ours/s':>8}  {'baseline':<26} {'base/s':>8} {'ratio':>6}  target")
    for r in results:
        verdict = "-" if r["target"] is None else ("ok" if r["within_target"] else "OVER") + f" (<= {TARGET}x)"
        print(f"{r['bench']:<17} {r['ours_per_s']:>8}  {r['baseline']:<26} {r['baseline_per_s']:>8} "
              f"{r['ratio']:>6}  {verdict}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
