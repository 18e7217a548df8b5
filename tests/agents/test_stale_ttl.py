"""An agent is dead (stale) the moment its own heartbeat TTL lapses (issue 21, part 1).

Agents are real processes (this module run as ``python -m tests.agents.test_stale_ttl beat ...``) killed with
SIGKILL, so nothing marks them finished; the same tests run on SQLite and a real redis-server. The reader's
own ``ttl`` (the CLI's is the 30 s default) must not matter: each record carries its agent's TTL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from otel_agentkit.agents import Heartbeats, open_store
from tests.agents.conftest import run_cli
from tests.support.procs import wait_until

ROOT = Path(__file__).resolve().parents[2]
SHORT_TTL = 1.5
LONG_TTL = 600.0
BEAT_EVERY = 0.05
EARLY = 0.02  # store clocks keep milliseconds: never dead more than this before the TTL lapsed
LATE = 0.5  # a poll every 10 ms sees it dead within this after the TTL lapsed, even on a busy machine


def spawn_beater(url: str, agent_id: str, ttl: float) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "AGENTKIT_AGENT_STORE"}
    return subprocess.Popen([sys.executable, "-m", "tests.agents.test_stale_ttl", "beat", url, agent_id, str(ttl)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def crash(proc: subprocess.Popen) -> None:
    """SIGKILL: no stop(), no last words; the record stays as the last beat left it."""
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -9, proc.returncode


def beating(hb: Heartbeats, agent_id: str) -> bool:
    st = hb.status(agent_id)
    return st is not None and st.alive and st.beats >= 3


def ids(agents) -> list[str]:
    return [a.agent_id for a in agents]


def test_a_killed_agent_is_dead_the_moment_its_own_ttl_lapses(store_url, store):
    hb = Heartbeats(store)  # the reader keeps the 30 s default; the agent's record says 1.5 s
    proc = spawn_beater(store_url, "crashy", SHORT_TTL)
    try:
        wait_until(lambda: beating(hb, "crashy"), 60, "the worker to beat")
        assert ids(hb.active_agents()) == ["crashy"] and hb.stale_agents() == []
    finally:
        crash(proc)
    last = hb.status("crashy")
    assert last.ttl == SHORT_TTL and last.pid == proc.pid
    lapses = last.last_beat + SHORT_TTL  # the record's beat time is taken just before the store write

    alive_seen = []
    while True:
        before = time.time()
        st = hb.status("crashy")
        after = time.time()
        assert before < lapses + LATE, f"still alive {before - last.last_beat:.3f}s after the last beat"
        if not st.alive:
            break
        assert not st.stale and st.state == "alive" and st.age < SHORT_TTL
        alive_seen.append(before)
        time.sleep(0.01)
    assert after >= lapses - EARLY, f"dead {lapses - after:.3f}s before its TTL lapsed"
    assert alive_seen and alive_seen[-1] >= lapses - LATE  # alive right up to the moment, not dead early
    assert st.stale and st.state == "dead" and SHORT_TTL <= st.age < SHORT_TTL + LATE

    # every view agrees with status(), whatever the reader's own ttl
    for reader in (hb, Heartbeats(store, ttl=0.1), Heartbeats(store, ttl=3600)):
        assert not reader.is_alive("crashy")
        assert reader.active_agents() == []
        assert ids(reader.stale_agents()) == ["crashy"]
        assert [(a.agent_id, a.state) for a in reader.agents()] == [("crashy", "dead")]
    # an explicit threshold is the caller's own rule: older than it, whatever the TTL
    assert hb.stale_agents(threshold_s=3600) == []
    assert ids(hb.stale_agents(0.5)) == ["crashy"]


def test_agents_with_different_ttls_die_by_their_own_and_the_cli_lists_both(store_url, store):
    hb = Heartbeats(store)
    short, long_ = spawn_beater(store_url, "short", SHORT_TTL), spawn_beater(store_url, "long", LONG_TTL)
    try:
        wait_until(lambda: beating(hb, "short") and beating(hb, "long"), 60, "both workers to beat")
        Heartbeats(store, ttl=SHORT_TTL).start("finisher").stop("completed")
        proc = run_cli("agents", "list", "--json", "--store", store_url)
        assert proc.returncode == 0, proc.stderr
        rows = {r["agent_id"]: r for r in map(json.loads, proc.stdout.splitlines())}
        assert {k: (r["state"], r["alive"], r["stale"]) for k, r in rows.items()} == {
            "finisher": ("finished", False, False), "long": ("alive", True, False),
            "short": ("alive", True, False)}
    finally:
        crash(short)
        crash(long_)
    wait_until(lambda: hb.stale_agents() != [], SHORT_TTL + 10, "the short-TTL agent to die")
    assert ids(hb.stale_agents()) == ["short"]
    assert ids(hb.active_agents()) == ["long"]  # killed too, but its own TTL has not lapsed

    proc = run_cli("agents", "list", "--json", "--store", store_url)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["agent_id"], r["state"], r["ttl"]) for r in rows] == [
        ("finisher", "finished", SHORT_TTL), ("long", "alive", LONG_TTL), ("short", "dead", SHORT_TTL)]
    proc = run_cli("agents", "list", "--stale", "--json", "--store", store_url)
    assert [json.loads(line)["agent_id"] for line in proc.stdout.splitlines()] == ["short"]
    proc = run_cli("agents", "list", "--alive", "--json", "--store", store_url)
    assert [json.loads(line)["agent_id"] for line in proc.stdout.splitlines()] == ["long"]
    proc = run_cli("agents", "list", "--store", store_url)
    table = {line.split()[0]: line.split()[4] for line in proc.stdout.strip().splitlines()[1:]}
    assert table == {"finisher": "finished", "long": "alive", "short": "dead"}
    quiet = hb.status("long")  # quiet longer than the short TTL, and alive: judged by its own TTL
    assert quiet.alive and quiet.age >= SHORT_TTL


def beat_until_killed(url: str, agent_id: str, ttl: str) -> int:
    agent = Heartbeats(open_store(url), ttl=float(ttl)).start(agent_id, {"pid": os.getpid()})
    while True:
        agent.beat()
        time.sleep(BEAT_EVERY)


if __name__ == "__main__":
    role, *rest = sys.argv[1:]
    sys.exit({"beat": beat_until_killed}[role](*rest))
