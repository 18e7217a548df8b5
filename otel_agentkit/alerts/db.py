"""SQLite store for alert rules, alert history and cooldown state, in the data directory.

WAL mode with a busy timeout, and one short-lived connection per operation, so the CLI, a ``watch`` loop
and any number of instrumented processes can share the file. The cooldown check and the history row of a
firing are one ``BEGIN IMMEDIATE`` transaction: when two processes see the same breach, exactly one fires.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..config import private_file
from ..sqlitefiles import migrate
from .rules import Rule, RuleError

DB_NAME = "alerts.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    origin TEXT NOT NULL DEFAULT 'cli',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id INTEGER NOT NULL,
    rule_name TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    threshold REAL NOT NULL,
    comparison TEXT NOT NULL,
    severity TEXT NOT NULL,
    fired_at REAL NOT NULL,
    deliveries TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS history_rule ON history (rule_id, fired_at);
CREATE TABLE IF NOT EXISTS cooldown (
    rule_id INTEGER PRIMARY KEY,
    last_fired_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('rules_version', 0);
"""
# PRAGMA user_version migrations (sqlitefiles.migrate): a schema change is a new entry, never an edit.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _SCHEMA),)
SCHEMA_VERSION = MIGRATIONS[-1][0]




@dataclass(frozen=True)
class HistoryEntry:
    id: int
    rule_id: int
    rule_name: str
    metric: str
    value: float
    threshold: float
    comparison: str
    severity: str
    fired_at: float
    deliveries: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "rule_id": self.rule_id, "rule_name": self.rule_name, "metric": self.metric,
            "value": self.value, "threshold": self.threshold, "comparison": self.comparison,
            "severity": self.severity, "fired_at": self.fired_at, "deliveries": self.deliveries,
        }

    @property
    def delivered(self) -> bool:
        return bool(self.deliveries) and all(d.get("delivered") for d in self.deliveries)


class UnknownRule(LookupError):
    """No rule with that id."""

    def __init__(self, rule_id: object) -> None:
        super().__init__(f"no alert rule with id {rule_id}")
        self.rule_id = rule_id


class AlertStore:
    """Rules, history and cooldown in ``<home>/alerts.db``."""

    def __init__(self, path: str | Path) -> None:
        p = Path(path).expanduser()
        self.path = p / DB_NAME if p.is_dir() or p.suffix != ".db" else p
        private_file(self.path)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            migrate(con, f"{DB_NAME} in {self.path.parent}", MIGRATIONS)

    @contextmanager
    def _connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout = 10000")
            con.execute("PRAGMA synchronous = NORMAL")
            if immediate:
                con.execute("BEGIN IMMEDIATE")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            else:
                yield con
        finally:
            con.close()

    # -- rules ------------------------------------------------------------------------------------------
    @staticmethod
    def _rule(row: sqlite3.Row | tuple) -> Rule:
        rule_id, spec, enabled = row[0], json.loads(row[1]), bool(row[2])
        spec["enabled"] = enabled
        return Rule.from_dict(spec).with_id(rule_id)

    def rules(self, *, enabled_only: bool = False) -> list[Rule]:
        """All stored rules (oldest first); a row that no longer validates is skipped, not fatal."""
        sql = "SELECT id, spec, enabled FROM rules" + (" WHERE enabled = 1" if enabled_only else "") + " ORDER BY id"
        with self._connect() as con:
            rows = con.execute(sql).fetchall()
        out = []
        for row in rows:
            try:
                out.append(self._rule(row))
            except (RuleError, ValueError):
                continue
        return out

    def get(self, rule_id: int) -> Rule:
        with self._connect() as con:
            row = con.execute("SELECT id, spec, enabled FROM rules WHERE id = ?", (rule_id,)).fetchone()
        if row is None:
            raise UnknownRule(rule_id)
        return self._rule(row)

    def add(self, rule: Rule, origin: str = "cli") -> Rule:
        """Insert a new rule; a rule with the same name is refused (names are how files and code update)."""
        now = time.time()
        spec = json.dumps(rule.to_dict())
        with self._connect(immediate=True) as con:
            if con.execute("SELECT 1 FROM rules WHERE name = ?", (rule.name,)).fetchone():
                raise RuleError("name", rule.name, "a rule with this name already exists")
            cur = con.execute(
                "INSERT INTO rules (name, spec, enabled, origin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (rule.name, spec, int(rule.enabled), origin, now, now))
            self._bump(con)
            return rule.with_id(int(cur.lastrowid))  # type: ignore[arg-type]

    def upsert(self, rule: Rule, origin: str = "code") -> Rule:
        """Insert or update by name, keeping the id (and so the cooldown) of an existing rule."""
        now = time.time()
        spec = json.dumps(rule.to_dict())
        with self._connect(immediate=True) as con:
            row = con.execute("SELECT id, spec, enabled FROM rules WHERE name = ?", (rule.name,)).fetchone()
            if row is None:
                cur = con.execute(
                    "INSERT INTO rules (name, spec, enabled, origin, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (rule.name, spec, int(rule.enabled), origin, now, now))
                self._bump(con)
                return rule.with_id(int(cur.lastrowid))  # type: ignore[arg-type]
            if row[1] != spec or bool(row[2]) != rule.enabled:
                con.execute("UPDATE rules SET spec = ?, enabled = ?, origin = ?, updated_at = ? WHERE id = ?",
                            (spec, int(rule.enabled), origin, now, row[0]))
                self._bump(con)
            return rule.with_id(int(row[0]))

    def set_enabled(self, rule_id: int, enabled: bool) -> Rule:
        with self._connect(immediate=True) as con:
            cur = con.execute("UPDATE rules SET enabled = ?, updated_at = ? WHERE id = ?",
                              (int(enabled), time.time(), rule_id))
            if cur.rowcount == 0:
                raise UnknownRule(rule_id)
            self._bump(con)
        return self.get(rule_id)

    def delete(self, rule_id: int) -> None:
        """Remove a rule and its cooldown; its history stays (it names the rule)."""
        with self._connect(immediate=True) as con:
            cur = con.execute("DELETE FROM rules WHERE id = ?", (rule_id,))
            if cur.rowcount == 0:
                raise UnknownRule(rule_id)
            con.execute("DELETE FROM cooldown WHERE rule_id = ?", (rule_id,))
            self._bump(con)

    @staticmethod
    def _bump(con: sqlite3.Connection) -> None:
        con.execute("UPDATE meta SET value = value + 1 WHERE key = 'rules_version'")

    def rules_version(self) -> int:
        """A number that changes whenever any rule changes (cheap to poll from a running process)."""
        with self._connect() as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'rules_version'").fetchone()
        return int(row[0]) if row else 0

    # -- cooldown and history ---------------------------------------------------------------------------
    def claim_firing(self, rule: Rule, value: float, now: float) -> tuple[int | None, float]:
        """Atomically: if ``rule`` is out of its cooldown, start a new one and write a history row.

        Returns (history id, end of the cooldown); the id is None while a cooldown started earlier (by this
        process or any other, before or after a restart) still runs."""
        if rule.id is None:
            raise ValueError("only a stored rule (with an id) can fire")
        cooldown = float(rule.cooldown)  # type: ignore[arg-type]
        with self._connect(immediate=True) as con:
            row = con.execute("SELECT last_fired_at FROM cooldown WHERE rule_id = ?", (rule.id,)).fetchone()
            if row is not None and now < row[0] + cooldown:
                return None, row[0] + cooldown
            con.execute("INSERT INTO cooldown (rule_id, last_fired_at) VALUES (?, ?) ON CONFLICT(rule_id) "
                        "DO UPDATE SET last_fired_at = excluded.last_fired_at", (rule.id, now))
            cur = con.execute(
                "INSERT INTO history (rule_id, rule_name, metric, value, threshold, comparison, severity, fired_at,"
                " deliveries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]')",
                (rule.id, rule.name, rule.metric, value, rule.threshold, rule.comparison, rule.severity, now))
            return int(cur.lastrowid), now + cooldown  # type: ignore[arg-type]

    def cooldown_until(self, rule: Rule) -> float | None:
        """When the cooldown of ``rule`` ends (epoch seconds), None if it never fired."""
        with self._connect() as con:
            row = con.execute("SELECT last_fired_at FROM cooldown WHERE rule_id = ?", (rule.id,)).fetchone()
        return None if row is None else row[0] + float(rule.cooldown)  # type: ignore[arg-type]

    def set_deliveries(self, history_id: int, deliveries: list[dict[str, Any]]) -> None:
        with self._connect() as con:
            con.execute("UPDATE history SET deliveries = ? WHERE id = ?", (json.dumps(deliveries), history_id))

    def history(self, rule_id: int | None = None, limit: int = 50) -> list[HistoryEntry]:
        """Newest first."""
        sql = "SELECT id, rule_id, rule_name, metric, value, threshold, comparison, severity, fired_at, deliveries" \
              " FROM history"
        args: tuple[Any, ...] = ()
        if rule_id is not None:
            sql += " WHERE rule_id = ?"
            args = (rule_id,)
        sql += " ORDER BY fired_at DESC, id DESC LIMIT ?"
        with self._connect() as con:
            rows = con.execute(sql, (*args, limit)).fetchall()
        return [HistoryEntry(id=r[0], rule_id=r[1], rule_name=r[2], metric=r[3], value=r[4], threshold=r[5],
                             comparison=r[6], severity=r[7], fired_at=r[8], deliveries=json.loads(r[9]))
                for r in rows]
