"""The package's floors: a folder imports only from folders below it (docs in README, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "otel_agentkit"
FLOORS = {
    "semconv": 0, "config": 0, "diagnostics": 0, "version": 0, "timeunits": 0, "sqlitefiles": 0,
    "instrument": 1, "export": 1, "alerts": 1,
    "auto": 2, "agents": 2, "processes": 2,
    "runtime": 3, "analytics": 3,
    "compat": 4,
    "cli": 4, "zerocode": 4,
    "__init__": 5,
}


def _imports(path: Path, package: list[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
                if node.module is None:
                    found.update(".".join(target + [a.name]) for a in node.names)
                    continue
            else:
                target = (node.module or "").split(".")
            found.add(".".join(target))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {f for f in found if f.startswith("otel_agentkit.")}


def test_no_import_runs_up_a_floor():
    wrong = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("").parts
        room = rel[1] if len(rel) > 1 else "__init__"
        package = list(rel[:-1])
        if room not in FLOORS:
            wrong.append(f"{path}: {room} has no floor in this test")
            continue
        for target in _imports(path, package):
            other = target.split(".")[1]
            if other != room and FLOORS.get(other, 99) >= FLOORS[room]:
                wrong.append(f"{'/'.join(rel)} imports {target} ({other} is not below {room})")
    assert wrong == []


def test_the_architecture_page_states_these_floors():
    """docs/ARCHITECTURE.md's floors table is the rule this file enforces: the two must not drift."""
    import re

    page = (ROOT.parent / "docs" / "ARCHITECTURE.md").read_text()
    stated = {}
    for floor, rooms in re.findall(r"^\| (\d) \| ([^|]+) \|", page, flags=re.M):
        for room in re.findall(r"`([a-z_]+)`", rooms):
            stated[room] = int(floor)
    assert stated == FLOORS


def test_every_room_is_described_on_the_architecture_page():
    page = (ROOT.parent / "docs" / "ARCHITECTURE.md").read_text()
    folders = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert [f for f in folders if f"**{f}/**" not in page] == []


def test_the_public_face_resolves():
    """Every name the public packages export (docs/ARCHITECTURE.md, The public face) is importable from them:
    internals may move, these names may not."""
    import importlib

    for package in ("otel_agentkit", "otel_agentkit.agents", "otel_agentkit.analytics", "otel_agentkit.alerts",
                    "otel_agentkit.auto"):
        module = importlib.import_module(package)
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], (package, missing)
