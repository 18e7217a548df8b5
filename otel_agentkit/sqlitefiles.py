"""Schema versions of the package's SQLite files (alert store, agent store): ``PRAGMA user_version``
migrations, so that a file written by one release is read by the next, and one written by a newer release is
refused with one line instead of misread."""

from __future__ import annotations

import sqlite3


class SchemaTooNew(ValueError):
    """The file was written by a newer otel-agentkit, whose schema this one does not know."""


def check_version(con: sqlite3.Connection, name: str, migrations: tuple[tuple[int, str], ...]) -> int:
    """The file's schema version, for a reader that must not write: SchemaTooNew if a newer release wrote it."""
    latest = migrations[-1][0]
    current = con.execute("PRAGMA user_version").fetchone()[0]
    if current > latest:
        raise SchemaTooNew(f"{name} has schema version {current}, written by a newer otel-agentkit (this one "
                           f"knows versions up to {latest}): upgrade otel-agentkit to read it")
    return current


def migrate(con: sqlite3.Connection, name: str, migrations: tuple[tuple[int, str], ...]) -> int:
    """Bring the database of ``con`` (autocommit) to the last version of ``migrations`` (version, script),
    in one ``BEGIN IMMEDIATE`` transaction (two processes opening a new file do it once); returns the
    version. Version 1 is a store's first schema, written with IF NOT EXISTS, so that a file made before
    versions existed takes it as it is; a schema change is a new entry, never an edit of an old one."""
    latest = migrations[-1][0]
    current = check_version(con, name, migrations)
    if current == latest:
        return current
    con.execute("BEGIN IMMEDIATE")
    try:
        current = con.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
        for version, script in migrations:
            if version > current:
                for statement in (s.strip() for s in script.split(";")):
                    if statement:
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {int(version)}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return latest
