"""The SQLite store: rules, history, cooldown; WAL; cooldown across restarts and across processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_agentkit.alerts.db import AlertStore, UnknownRule
from otel_agentkit.alerts.netguard import Guard
from otel_agentkit.alerts.notify import Notifier
from otel_agentkit.alerts.rules import Channel, Rule, RuleError

from .conftest import NOW


def file_rule(tmp_path: Path, **kw: object) -> Rule:
    return Rule(**{"metric": "error_rate", "threshold": 5, "name": "errors",  # type: ignore[arg-type]
                   "channels": (Channel("file", path=str(tmp_path / "out.jsonl")),), **kw})


def test_wal_and_schema(store: AlertStore) -> None:
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"rules", "history", "cooldown", "meta"} <= tables


def test_add_list_get_enable_disable_delete(store: AlertStore, tmp_path: Path) -> None:
    v0 = store.rules_version()
    a = store.add(file_rule(tmp_path))
    b = store.add(Rule(metric="daily_cost", threshold=10, name="spend"))
    assert (a.id, b.id) == (1, 2) and store.rules_version() > v0
    assert [r.name for r in store.rules()] == ["errors", "spend"]
    assert store.get(1) == a
    with pytest.raises(RuleError, match="name='errors': a rule with this name already exists"):
        store.add(file_rule(tmp_path))
    assert store.set_enabled(1, False).enabled is False
    assert [r.name for r in store.rules(enabled_only=True)] == ["spend"]
    assert store.set_enabled(1, True).enabled is True
    store.delete(2)
    assert [r.id for r in store.rules()] == [1]
    for call in (lambda: store.get(9), lambda: store.set_enabled(9, True), lambda: store.delete(9)):
        with pytest.raises(UnknownRule, match="no alert rule with id 9"):
            call()


def test_upsert_by_name_keeps_id(store: AlertStore, tmp_path: Path) -> None:
    first = store.upsert(file_rule(tmp_path))
    v = store.rules_version()
    same = store.upsert(file_rule(tmp_path))
    assert same.id == first.id and store.rules_version() == v  # unchanged: no version bump
    changed = store.upsert(file_rule(tmp_path, threshold=9))
    assert changed.id == first.id and store.get(first.id).threshold == 9 and store.rules_version() > v


def test_claim_firing_respects_cooldown_and_writes_history(store: AlertStore, tmp_path: Path) -> None:
    rule = store.add(file_rule(tmp_path, cooldown="10m"))
    hid, until = store.claim_firing(rule, 12.5, NOW)
    assert hid is not None and until == NOW + 600
    assert store.claim_firing(rule, 13.0, NOW + 599) == (None, NOW + 600)
    hid2, _ = store.claim_firing(rule, 14.0, NOW + 600)
    assert hid2 is not None
    entries = store.history()
    assert [(e.value, e.fired_at) for e in entries] == [(14.0, NOW + 600), (12.5, NOW)]
    e = entries[-1]
    assert (e.rule_id, e.rule_name, e.metric, e.threshold, e.comparison, e.severity) == (
        rule.id, "errors", "error_rate", 5.0, ">", "warning")
    store.set_deliveries(hid, [{"channel": "file", "delivered": True}])
    assert store.history(rule.id, limit=1)[0].id == hid2
    assert store.history(rule.id)[1].deliveries == [{"channel": "file", "delivered": True}]
    assert store.cooldown_until(rule) == NOW + 1200


def test_cooldown_survives_a_restart(tmp_path: Path) -> None:
    store = AlertStore(tmp_path)
    rule = store.add(file_rule(tmp_path))  # default cooldown: 1 h
    first = Notifier(store, Guard(), background=False)
    assert first.fire(rule, 10.0, NOW) is not None
    # "restart": new store object, new notifier, nothing in memory
    again = AlertStore(tmp_path)
    second = Notifier(again, Guard(), background=False)
    assert second.fire(again.get(rule.id), 11.0, NOW + 1800) is None
    assert second.fire(again.get(rule.id), 11.0, NOW + 3600) is not None
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert [e.delivered for e in again.history()] == [True, True]


def test_deleting_a_rule_keeps_its_history(store: AlertStore, tmp_path: Path) -> None:
    rule = store.add(file_rule(tmp_path))
    store.claim_firing(rule, 7.0, NOW)
    store.delete(rule.id)
    assert store.history()[0].rule_name == "errors"


def test_several_processes_fire_a_breach_once(tmp_path: Path) -> None:
    store = AlertStore(tmp_path)
    rule = store.add(file_rule(tmp_path))
    script = textwrap.dedent(f"""
        import sys
        from otel_agentkit.alerts.db import AlertStore
        store = AlertStore({str(tmp_path)!r})
        rule = store.get({rule.id})
        fired = sum(1 for i in range(20) if store.claim_firing(rule, 1.0, {NOW} + i)[0] is not None)
        print(fired)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    fired = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(fired) == 1
    assert len(store.history()) == 1


def test_schema_version_migrations(tmp_path):
    """PRAGMA user_version: a new file gets the latest version; a file made before versions existed keeps
    its rules and is stamped; a file from a newer release is refused with one line naming it."""
    import sqlite3

    from otel_agentkit.alerts.db import _SCHEMA, SCHEMA_VERSION
    from otel_agentkit.sqlitefiles import SchemaTooNew

    fresh = AlertStore(tmp_path / "new")
    with sqlite3.connect(fresh.path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    with sqlite3.connect(old_dir / "alerts.db") as con:  # the file as releases before versions made it
        con.executescript(_SCHEMA)
        con.execute("INSERT INTO rules (name, spec, enabled, origin, created_at, updated_at) VALUES (?, ?, 1, 'cli', 0, 0)",
                    ("old-rule", '{"name": "old-rule", "metric": "error_rate", "threshold": 0.5}'))
    store = AlertStore(old_dir)
    assert [r.name for r in store.rules()] == ["old-rule"]
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        con.execute("PRAGMA user_version = 999")
    with pytest.raises(SchemaTooNew) as info:
        AlertStore(old_dir)
    assert "newer otel-agentkit" in str(info.value) and "\n" not in str(info.value)
