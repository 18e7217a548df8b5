"""Fixtures: the CALLS data set written once per module by the real SDK (see telemetry.py)."""

from __future__ import annotations

from typing import Any

import pytest

from .telemetry import CALLS, PRICES, now_hour, write_calls, write_pricing


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict[str, Any]:
    """CALLS written once per test module: home, telemetry dir, NOW, and a pricing file for the CLI."""
    home = tmp_path_factory.mktemp("home")
    now = now_hour()
    write_calls(home, CALLS, now)
    return {"home": home, "dir": home / "telemetry", "now": now,
            "pricing": write_pricing(tmp_path_factory.mktemp("pricing") / "prices.json")}


@pytest.fixture
def pricing():
    from otel_agentkit.analytics import load_pricing

    return load_pricing(PRICES)
