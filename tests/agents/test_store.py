"""The state-store contract, identical for SQLite and Redis: keys with TTL and capped append-only streams."""

from __future__ import annotations

import threading
import time

import pytest

from otel_agentkit.agents.sqlite_store import SQLiteStore
from otel_agentkit.agents.store import StoreError, check_unit, encode, open_store
from tests.support.procs import free_port, wait_until


def test_set_get_delete_and_only_if_absent(store):
    assert store.get("k") is None
    assert store.set("k", "v1") is True
    assert store.get("k") == "v1"
    assert store.set("k", "v2", only_if_absent=True) is False
    assert store.get("k") == "v1"
    assert store.delete("k", "missing") == 1
    assert store.get("k") is None
    assert store.set("k", "v3", only_if_absent=True) is True
    assert store.get_many(["k", "nope"]) == ["v3", None]


def test_ttl_expires_and_frees_the_key_for_only_if_absent(store):
    store.set("short", "x", ttl=0.2)
    store.set("long", "y", ttl=60)
    assert store.get("short") == "x"
    wait_until(lambda: store.get("short") is None, 10, "the 0.2 s key to expire")
    assert store.get("long") == "y"
    assert "short" not in store.scan("")
    assert store.set("short", "again", ttl=60, only_if_absent=True) is True


def test_scan_by_prefix_is_exact_about_the_prefix(store):
    for key, value, ttl in [("a:1", "1", None), ("a:2", "2", 30.0), ("ab:3", "3", None), ("b:*", "4", None)]:
        store.set(key, value, ttl)
    assert store.scan("a:") == {"a:1": "1", "a:2": "2"}
    with_ttl = store.scan_ttl("a:")
    assert with_ttl["a:1"] == ("1", None)
    assert with_ttl["a:2"][0] == "2" and 0 < with_ttl["a:2"][1] <= 30
    value, left = store.get_ttl("a:2")
    assert value == "2" and 0 < left <= 30
    assert store.get_ttl("a:1") == ("1", None) and store.get_ttl("nope") == (None, None)
    assert store.scan("b:*") == {"b:*": "4"}  # glob characters are literal
    assert store.scan("zzz") == {}


def test_take_gives_the_value_to_exactly_one_taker(store):
    store.set("job", "payload", ttl=30)
    results: list[str | None] = []
    lock = threading.Lock()

    def taker():
        got = store.take("job")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=taker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [None, None, None, "payload"]
    assert store.get("job") is None


def test_stream_append_read_tail_range_info(store):
    assert store.info("s") is None
    assert store.last_id("s") == "0-0"
    ids = [store.append("s", f'{{"n":{i}}}') for i in range(5)]
    assert len(set(ids)) == 5
    assert [e.id for e in store.read({"s": "0"}, count=100)] == ids
    assert [e.id for e in store.read({"s": ids[2]}, count=100)] == ids[3:]
    assert [e.data for e in store.read({"s": "0"}, count=2)] == ['{"n":0}', '{"n":1}']
    assert [e.id for e in store.tail("s", 2)] == ids[3:]
    assert [e.id for e in store.range("s")] == ids
    info = store.info("s")
    assert (info.length, info.first_id, info.last_id) == (5, ids[0], ids[-1])
    assert store.last_id("s") == ids[-1]
    assert store.read({"s": "$"}, count=10) == []


def test_stream_is_capped_and_trimmed(store):
    for i in range(12):
        store.append("capped", str(i), max_len=5)
    assert [e.data for e in store.range("capped")] == [str(i) for i in range(7, 12)]
    assert store.info("capped").length == 5
    assert store.trim("capped", max_len=2) == 3
    assert [e.data for e in store.tail("capped", 10)] == ["10", "11"]
    assert store.delete_stream("capped") is True
    assert store.info("capped") is None
    assert store.delete_stream("capped") is False


def test_trim_by_age(store):
    old = store.append("aged", "old")
    cutoff = int(old.split("-")[0]) + 1
    wait_until(lambda: time.time() * 1000 > cutoff + 5, 5, "the clock to pass the first entry")
    store.append("aged", "new", min_ms=cutoff)
    assert [e.data for e in store.range("aged")] == ["new"]


def test_blocking_read_returns_when_an_entry_arrives(store):
    start = store.last_id("wake")
    timer = threading.Timer(0.3, lambda: store.append("wake", "hello"))
    timer.start()
    try:
        got = store.read({"wake": start}, count=10, block_ms=20_000)
    finally:
        timer.join()
    assert [e.data for e in got] == ["hello"]


def test_blocking_read_times_out_empty(store):
    assert store.read({"quiet": "$", "also-quiet": "0"}, count=10, block_ms=150) == []


def test_streams_listing_by_prefix(store):
    store.append("events:a", "1")
    store.append("events:b", "1")
    store.append("other", "1")
    store.set("events:not-a-stream", "x")
    assert store.streams("events:") == ["events:a", "events:b"]


def test_store_url_forms(tmp_path):
    s1 = open_store(f"sqlite://{tmp_path}/one.db")  # sqlite:///tmp/...: three slashes, absolute path
    s4 = open_store(f"sqlite:///{tmp_path}/four.db?timeout=0.5")  # four slashes, as SQLAlchemy writes it
    s2 = open_store(tmp_path / "two.db")
    s3 = open_store(None, home=tmp_path / "home")
    try:
        assert isinstance(s1, SQLiteStore) and s1.path == tmp_path / "one.db"
        assert isinstance(s2, SQLiteStore) and s2.path == tmp_path / "two.db"
        assert isinstance(s3, SQLiteStore) and s3.path == tmp_path / "home" / "agents.db"
        assert s4.path == tmp_path / "four.db" and s4.url == f"sqlite://{tmp_path}/four.db"
    finally:
        for s in (s1, s2, s3, s4):
            s.close()
    with pytest.raises(ValueError, match="unknown scheme"):
        open_store("mysql://x/y")
    with pytest.raises(ValueError, match="sqlite:///path"):
        open_store("sqlite:///")


def test_environment_names_the_default_store(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTKIT_AGENT_STORE", f"sqlite:///{tmp_path}/env.db")
    s = open_store()
    try:
        assert s.path == tmp_path / "env.db"
    finally:
        s.close()


def test_values_must_be_json_and_fit():
    assert encode("payload", {"a": [1, "x"]}) == '{"a":[1,"x"]}'
    with pytest.raises(ValueError, match=r"payload=.*not JSON-serializable"):
        encode("payload", {"when": object()})
    with pytest.raises(ValueError, match="payload=nan"):
        encode("payload", float("nan"))
    with pytest.raises(ValueError, match="metadata is too large: .* the limit is 100"):
        encode("metadata", {"blob": "x" * 200}, limit=100)
    with pytest.raises(ValueError, match=r"progress=1\.5: must be a number within 0\.\.1"):
        check_unit("progress", 1.5)


def test_unreachable_redis_raises_an_error_naming_the_store():
    port = free_port()  # nothing listens there
    s = open_store(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(StoreError, match=rf"redis://127.0.0.1:{port}/0: get failed: .*onnect"):
        s.get("x")
    s.close()


def test_sqlite_schema_version(tmp_path):
    """PRAGMA user_version: a new file gets the latest version, a file made before versions existed keeps its
    data and is stamped, and one written by a newer release is refused in one line naming the file."""
    import sqlite3

    from otel_agentkit.agents.sqlite_store import _SCHEMA, MIGRATIONS, SQLiteStore
    from otel_agentkit.agents.store import StoreError

    fresh = SQLiteStore(tmp_path / "new.db")
    fresh.close()
    with sqlite3.connect(tmp_path / "new.db") as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1][0]
    with sqlite3.connect(tmp_path / "old.db") as con:  # as releases before versions made it
        con.executescript(_SCHEMA)
        con.execute("INSERT INTO kv (key, value, expires_at) VALUES ('k', '\"v\"', NULL)")
    old = SQLiteStore(tmp_path / "old.db")
    assert old.get("k") == '"v"'
    old.close()
    with sqlite3.connect(tmp_path / "old.db") as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1][0]
        con.execute("PRAGMA user_version = 99")
    for read_only in (False, True):
        with pytest.raises(StoreError) as info:
            SQLiteStore(tmp_path / "old.db", read_only=read_only)
        assert "newer otel-agentkit" in str(info.value) and "\n" not in str(info.value)
