"""Deadlines under a store that stops answering, with real parts: a redis-server frozen with SIGSTOP (what a
frozen host or a network split looks like) and thawed with SIGCONT, a SQLite file locked by another process,
made read-only (for a process without root's override), on a read-only filesystem, and on a full one.

Every timing is checked against the promise the API makes (store.py): a call given a timeout T returns within
T + DEADLINE_MARGIN; a beat, publish or signal send within HOT_PATH_BUDGET; an operation with no deadline of
its own within the store's timeout. Before these deadlines a frozen Redis cost every call about 10 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from otel_agentkit import diagnostics, semconv
from otel_agentkit.agents import Approvals, EventStream, Feedback, Heartbeats, Signals, StoreError, open_store
from otel_agentkit.agents.store import DEADLINE_MARGIN, HOT_PATH_BUDGET, within
from tests.agents.conftest import ROOT, start_redis
from tests.support.procs import Server, free_port, require_binary, wait_until

BIG = "x" * 20_000  # a value that needs new pages: on a full disk the write cannot fit


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """How long ``call`` took, and what it returned or raised."""
    start = time.monotonic()
    try:
        result = call()
    except Exception as exc:  # the result under test; asserted by the caller
        result = exc
    return time.monotonic() - start, result


def timed_async(make: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """``timed`` for a coroutine, timed inside its event loop (not the loop's own start and shutdown)."""
    async def run() -> tuple[float, Any]:
        start = time.monotonic()
        try:
            result = await make()
        except Exception as exc:
            result = exc
        return time.monotonic() - start, result
    return asyncio.run(run())


def check_store_error(result: Any, url: str, pattern: str) -> None:
    """A StoreError on one line naming the store, with ``pattern`` in what it says."""
    assert isinstance(result, StoreError), result
    text = str(result)
    assert "\n" not in text and text.startswith(f"agent state store {url}: "), text
    assert re.search(pattern, text), text


def store_errors(captured) -> dict[str, int]:
    return {dict(p.attributes)[semconv.AGENTKIT_OPERATION]: p.value
            for p in captured.points(semconv.METRIC_AGENT_STORE_ERRORS)}


# --- a redis-server of its own, frozen and thawed ---------------------------------------------------------------

def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    port = free_port()
    server = start_redis(port, tmp_path_factory.mktemp("redis-frozen"))
    try:
        yield server, f"redis://127.0.0.1:{port}/0"
    finally:
        if server.proc.poll() is None:
            os.kill(server.pid, signal.SIGCONT)  # a stopped process would not act on SIGTERM
        server.stop()


@pytest.fixture
def frozen_redis(redis_proc: tuple[Server, str]) -> tuple[Server, str]:
    server, url = redis_proc
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return server, url


@contextmanager
def stopped(server: Server) -> Iterator[None]:
    """redis-server SIGSTOPped: connections are accepted by the kernel, nothing answers. SIGCONT on the way
    out, whatever happened."""
    os.kill(server.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: _state(server.pid) == "T", 5, "redis-server to stop")
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


def test_a_frozen_redis_costs_each_call_its_own_deadline(frozen_redis, captured, caplog):
    diagnostics.reset()
    server, url = frozen_redis
    store = open_store(url)
    t = captured.telemetry
    hb = Heartbeats(store, telemetry=t)
    agent = hb.start("iceberg")
    events = EventStream(store, telemetry=t)
    assert events.consume("work", block_ms=0) == []  # from now on
    signals = Signals(store, "iceberg", telemetry=t)
    gate = Approvals(store, poll=0.05, telemetry=t)
    admin = Heartbeats(open_store(url, socket_timeout=1.0))  # no deadline of its own: the store's timeout
    caplog.set_level("WARNING", logger="otel_agentkit")
    with stopped(server):
        hot = {"beat": agent.beat, "beat again": lambda: agent.beat(progress=0.5),
               "publish": lambda: events.publish("work", {"n": 1}), "signal": lambda: signals.signal("go", "peer")}
        got = {name: timed(call) for name, call in hot.items()}
        waits = {"wait_for": (1.0, lambda: signals.wait_for("go", timeout=1.0)),
                 "request": (1.0, lambda: gate.request("deploy", timeout=1.0)),
                 "consume": (1.0, lambda: events.consume("work", block_ms=1000)),
                 "consume raising": (0.5, lambda: events.consume("work", block_ms=500, raise_errors=True)),
                 "agents (store timeout 1 s)": (1.0, admin.agents)}
        waited = {name: (limit, *timed(call)) for name, (limit, call) in waits.items()}
    for name, (took, _) in got.items():
        assert took <= HOT_PATH_BUDGET, f"{name} took {took:.2f}s"
    for name, (limit, took, _) in waited.items():
        assert took <= limit + DEADLINE_MARGIN, f"{name} took {took:.2f}s for a {limit}s timeout"

    # hot paths: beats and publishes go on (counted, logged once); a signal send raises
    assert [got[n][1] for n in ("beat", "beat again", "publish")] == [False, False, None]
    check_store_error(got["signal"][1], url, r"set failed: no answer within 0\.\d\ds$")
    assert diagnostics.error_counts()[("heartbeat.beat", "StoreError")] == 2
    assert len([r for r in caplog.records if "heartbeat.beat failed" in r.getMessage()]) == 1
    assert store_errors(captured) == {"heartbeat.beat": 2, "events.publish": 1, "signals.send": 1,
                                      "events.consume": 1}
    # calls with a timeout: a StoreError saying so, or (consume) nothing, in time
    check_store_error(waited["wait_for"][2], url, r"scan failed: no answer within 1\.\d\ds$")
    check_store_error(waited["request"][2], url, r"set failed: no answer within 1\.\d\ds$")
    assert waited["consume"][2] == []
    check_store_error(waited["consume raising"][2], url, r"failed: no answer within 0\.\d\ds$")
    check_store_error(waited["agents (store timeout 1 s)"][2], url, r"scan failed: no answer within 1\.00s$")

    # thawed: the same objects work again at once
    assert agent.beat(progress=0.75) is True and hb.status("iceberg").progress == 0.75
    event_id = events.publish("work", {"n": 2})
    # (the event given up on may land too: a write that reached the frozen server's socket runs on SIGCONT)
    assert event_id in [e.id for e in events.consume("work", block_ms=1000)]
    Signals(store, "peer").signal("go", "iceberg")
    assert signals.wait_for("go", timeout=1.0).sender == "peer"
    store.close()
    admin.store.close()


def test_request_async_under_a_frozen_redis_keeps_its_deadline_and_the_loop(frozen_redis, captured):
    server, url = frozen_redis
    gate = Approvals(url, poll=0.05, telemetry=captured.telemetry)

    def freeze(req) -> None:  # the store stops answering once the request is posted: mid-wait
        os.kill(server.pid, signal.SIGSTOP)

    async def run(**kw: Any) -> tuple[float, Any, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        start = time.monotonic()
        try:
            result: Any = await gate.request_async("spend", timeout=1.0, **kw)
        except StoreError as exc:
            result = exc
        took = time.monotonic() - start
        task.cancel()
        return took, result, ticks

    try:
        with stopped(server):
            from_start = asyncio.run(run())
        mid_wait = asyncio.run(run(on_request=freeze))
        os.kill(server.pid, signal.SIGCONT)
        sync_mid_wait = timed(lambda: gate.request("deploy", timeout=1.0, on_request=freeze))
    finally:
        os.kill(server.pid, signal.SIGCONT)
    for took, result, ticks in (from_start, mid_wait):
        assert took <= 1.0 + DEADLINE_MARGIN, f"request_async took {took:.2f}s for a 1 s timeout"
        assert ticks >= 20, f"the event loop ran only {ticks} times in {took:.2f}s: it was blocked"
    check_store_error(from_start[1], url, r"set failed: no answer within 1\.\d\ds$")
    check_store_error(mid_wait[1], url, r"get failed: no answer within \d\.\d\ds$")
    took, result = sync_mid_wait
    assert took <= 1.0 + DEADLINE_MARGIN, f"request took {took:.2f}s for a 1 s timeout"
    check_store_error(result, url, r"get failed: no answer within \d\.\d\ds$")
    assert gate.pending() == []  # the requests expired: nothing is left waiting for an answer


AGENT = r"""
import json, sys, time
from otel_agentkit.agents import Heartbeats, open_store
agent = Heartbeats(open_store(sys.argv[1])).start(sys.argv[2])
print("started", flush=True)
beats, end = [], time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    start = time.monotonic()
    ok = agent.beat()
    beats.append([ok, time.monotonic() - start])
    time.sleep(0.05)
print(json.dumps(beats), flush=True)
"""


def test_an_agent_process_keeps_beating_through_a_frozen_redis(frozen_redis):
    server, url = frozen_redis
    proc = subprocess.Popen([sys.executable, "-c", AGENT, url, "steady", "3.5"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(0.4)
        with stopped(server):
            time.sleep(1.8)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    beats = json.loads(out)
    slowest = max(took for _, took in beats)
    assert slowest <= HOT_PATH_BUDGET, f"a beat held the agent {slowest:.2f}s"
    missed = [ok for ok, _ in beats if not ok]
    assert len(missed) >= 3, beats  # it kept beating (and failing) while the store was frozen
    assert all(ok for ok, _ in beats[-3:]), beats  # and beats land again once it answers
    assert len([line for line in err.splitlines() if "heartbeat.beat failed" in line]) == 1, err  # logged once


# --- SQLite: locked by another process, read-only, full ---------------------------------------------------------

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another process holds the database's write lock until the block ends."""
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield
    finally:
        locker.stdin.close()
        try:
            locker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            locker.kill()
            locker.wait()


def test_a_sqlite_file_locked_by_another_process_costs_each_call_its_own_deadline(tmp_path: Path, captured):
    diagnostics.reset()
    db = tmp_path / "agents.db"
    store = open_store(db)  # the default 5 s lock wait: only the calls' deadlines make it shorter
    url = store.url
    t = captured.telemetry
    agent = Heartbeats(store, telemetry=t).start("waiter")
    events = EventStream(store, telemetry=t)
    signals = Signals(store, "waiter", telemetry=t)
    gate = Approvals(store, poll=0.05, telemetry=t)
    Signals(store, "boss").signal("go", "waiter")  # pending: taking it needs the write lock
    with locked(db):
        got = {"beat": timed(agent.beat), "publish": timed(lambda: events.publish("work", 1)),
               "signal": timed(lambda: signals.signal("done", "boss"))}
        waits = {"wait_for": lambda: signals.wait_for("go", timeout=1.0),
                 "request": lambda: gate.request("deploy", timeout=1.0),
                 "consume": lambda: events.consume("work", block_ms=1000, start_id="0")}  # reads go on (WAL)
        waited = {name: timed(call) for name, call in waits.items()}
        waited["request_async"] = timed_async(lambda: gate.request_async("deploy", timeout=1.0))
        # another thread of this process holds the store, waiting out its 5 s for the lock: a send still
        # gives up within its own budget
        recorder = threading.Thread(target=lambda: timed(lambda: Feedback(store).record("w", "s", "small", 1.0)))
        recorder.start()
        time.sleep(0.2)
        behind_a_thread = timed(lambda: signals.signal("done", "boss"))
    recorder.join(timeout=10)
    for name, (took, _) in {**got, "signal behind a thread": behind_a_thread}.items():
        assert took <= HOT_PATH_BUDGET, f"{name} took {took:.2f}s"
    for name, (took, _) in waited.items():
        assert took <= 1.0 + DEADLINE_MARGIN, f"{name} took {took:.2f}s for a 1 s timeout"
    assert (got["beat"][1], got["publish"][1]) == (False, None)
    locked_msg = r"OperationalError: database is locked \(gave up within 0\.\d\ds\)$"
    check_store_error(got["signal"][1], url, "set failed: " + locked_msg)
    check_store_error(behind_a_thread[1], url, r"set failed: busy: another thread of this process held the store")
    check_store_error(waited["wait_for"][1], url, r"take failed: OperationalError: database is locked")
    check_store_error(waited["request"][1], url, r"set failed: OperationalError: database is locked")
    check_store_error(waited["request_async"][1], url, r"set failed: OperationalError: database is locked")
    assert waited["consume"][1] == []
    assert store_errors(captured) == {"heartbeat.beat": 1, "events.publish": 1, "signals.send": 2}

    assert agent.beat() is True  # unlocked: everything works again
    assert signals.wait_for("go", timeout=1.0).sender == "boss"
    store.close()


RO_AGENT = r"""
import asyncio, json, sys, time
from otel_agentkit.agents import Approvals, EventStream, Heartbeats, Signals, StoreError, open_store

db, out = sys.argv[1], {}
try:
    open(db, "r+b").close()
    out["file"] = "writable"
except PermissionError:
    out["file"] = "read-only"

def timed(name, call):
    start = time.monotonic()
    try:
        result = call()
    except StoreError as exc:
        result = "StoreError: " + str(exc)
    out[name] = [time.monotonic() - start, result if isinstance(result, (bool, str, type(None))) else repr(result)]

store = open_store(db)
hb = Heartbeats(store)
timed("status", lambda: hb.status("writer").status)
agent = hb.start("reader")
timed("beat", agent.beat)
timed("publish", lambda: EventStream(store).publish("work", 1))
timed("signal", lambda: Signals(store, "reader").signal("done", "writer"))
timed("wait_for", lambda: Signals(store, "reader").wait_for("go", timeout=1.0))
timed("request", lambda: Approvals(store).request("deploy", timeout=1.0))
async def request_async():
    start = time.monotonic()
    try:
        result = await Approvals(store).request_async("deploy", timeout=1.0)
    except StoreError as exc:
        result = "StoreError: " + str(exc)
    out["request_async"] = [time.monotonic() - start, repr(result) if not isinstance(result, str) else result]
asyncio.run(request_async())
print(json.dumps(out))
"""


def test_a_read_only_sqlite_file_fails_fast_for_a_process_without_root_override(tmp_path: Path):
    """chmod 0444 binds every process but root's: the agent runs as root without CAP_DAC_OVERRIDE (setpriv), as
    an unprivileged agent would meet the file."""
    db = tmp_path / "agents.db"
    store = open_store(db)
    Heartbeats(store).start("writer")
    Signals(store, "writer").signal("go", "reader")
    store.close()
    db.chmod(0o444)
    setpriv = require_binary("setpriv")
    run = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all",
                          sys.executable, "-c", RO_AGENT, str(db)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out.pop("file") == "read-only"
    assert out.pop("status")[1] == "running"  # reading works
    readonly = (f"StoreError: agent state store sqlite://{db}: set failed: "
                "OperationalError: attempt to write a readonly database")
    assert out["beat"][1] is False and out["publish"][1] is None
    assert out["signal"][1] == readonly
    assert out["wait_for"][1].startswith(f"StoreError: agent state store sqlite://{db}: take failed: ")
    assert out["request"][1] == readonly and out["request_async"][1] == readonly
    for name in ("beat", "publish", "signal"):
        assert out[name][0] <= HOT_PATH_BUDGET, (name, out[name])
    for name in ("wait_for", "request", "request_async"):
        assert out[name][0] <= 1.0 + DEADLINE_MARGIN, (name, out[name])
    assert "Traceback" not in run.stdout


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small filesystem of its own (root only), unmounted on the way out."""
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=True,
                   capture_output=True, text=True)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_sqlite_on_a_read_only_filesystem_is_one_line_at_once(tmp_path: Path):
    with tmpfs(tmp_path / "fs", "1m") as fs:
        db = fs / "agents.db"
        store = open_store(db)
        Heartbeats(store).start("writer")
        store.close()
        subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True, capture_output=True)
        took, result = timed(lambda: open_store(db))
        assert took <= HOT_PATH_BUDGET
        check_store_error(result, f"sqlite://{db}", r"open failed: OperationalError: unable to open database file$")
        ro = open_store(f"sqlite://{db}?mode=ro")  # opens lazily: the first call says it
        url = ro.url
        agent = Heartbeats(ro).start("reader")
        calls = {"beat": agent.beat, "status": lambda: Heartbeats(ro).status("writer"),
                 "wait_for": lambda: Signals(ro, "reader").wait_for("go", timeout=1.0)}
        got = {name: timed(call) for name, call in calls.items()}
        got["request_async"] = timed_async(lambda: Approvals(ro).request_async("deploy", timeout=1.0))
        ro.close()
    assert got["beat"][1] is False and got["beat"][0] <= HOT_PATH_BUDGET
    for name in ("status", "wait_for", "request_async"):
        took, result = got[name]
        assert took <= 1.0 + DEADLINE_MARGIN, (name, took)
        check_store_error(result, url, r"failed: OperationalError: unable to open database file$")


def test_sqlite_on_a_full_disk_is_one_line_at_once_and_recovers(tmp_path: Path, captured):
    diagnostics.reset()
    with tmpfs(tmp_path / "fs", "1m") as fs:
        store = open_store(fs / "agents.db")
        url = store.url
        t = captured.telemetry
        agent = Heartbeats(store, telemetry=t).start("hoarder")
        events = EventStream(store, telemetry=t)
        gate = Approvals(store, telemetry=t)
        filler = fs / "filler"
        with open(filler, "wb", buffering=0) as f:
            with pytest.raises(OSError, match="No space left on device"):
                while True:
                    f.write(b"\0" * 65536)
        got = {"beat": timed(lambda: agent.beat(current_task=BIG)),
               "publish": timed(lambda: events.publish("work", BIG)),
               "signal": timed(lambda: Signals(store, "hoarder").signal("go", "peer", BIG))}
        waited = {"request": timed(lambda: gate.request("deploy", {"blob": BIG}, timeout=1.0)),
                  "request_async": timed_async(lambda: gate.request_async("deploy", {"blob": BIG}, timeout=1.0))}
        filler.unlink()
        assert agent.beat(current_task=BIG) is True and events.publish("work", BIG) is not None
        store.close()
    assert (got["beat"][1], got["publish"][1]) == (False, None)
    for name, (took, result) in got.items():
        assert took <= HOT_PATH_BUDGET, (name, took)
    for name, (took, result) in {**waited, "signal": got["signal"]}.items():
        check_store_error(result, url, r"set failed: OperationalError: database or disk is full$")
    for name, (took, _) in waited.items():
        assert took <= 1.0 + DEADLINE_MARGIN, (name, took)
    assert diagnostics.error_counts()[("heartbeat.beat", "StoreError")] == 1


# --- deadlines nest ---------------------------------------------------------------------------------------------

def test_an_enclosing_deadline_caps_a_longer_wait(store):
    """``within`` around a call with a longer timeout: the earlier deadline holds (a healthy store here)."""
    events = EventStream(store)
    events.consume("quiet", block_ms=0)
    with within(0.5):
        took, result = timed(lambda: events.consume("quiet", block_ms=5000))
    assert result == [] and took <= 0.5
    took, result = timed(lambda: events.consume("quiet", block_ms=300))
    assert result == [] and 0.25 <= took <= 0.3 + DEADLINE_MARGIN  # without one, the block is what was asked
