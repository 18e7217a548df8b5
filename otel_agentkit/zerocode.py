"""The zero-code path: ``opentelemetry-instrument python app.py`` with otel-agentkit installed.

opentelemetry-instrument (from opentelemetry-instrumentation, a dependency) runs a distro, a configurator,
then every ``opentelemetry_pre_instrument`` hook, then every instrumentor. This package registers
:func:`start` as a pre-instrument hook rather than a distro or configurator, so it works alone (no
opentelemetry-distro needed) and beside opentelemetry-distro without either one pushing the other out.
When no configurator has set up providers, it creates them from the environment with this package's
exporters (AGENTKIT_EXPORTERS / OTEL_*_EXPORTER, default the local files), as a configurator would, and
starts the recorder over them. An application that also calls ``agentkit.init()`` keeps its arguments:
init() attaches to those providers and adds no second writer where they already write.
"""

from __future__ import annotations

import logging
import os

from . import diagnostics
from .config import ENV_DISABLED_INSTRUMENTATIONS

NAME = "agentkit"  # listed in OTEL_PYTHON_DISABLED_INSTRUMENTATIONS: the hook does nothing


def start() -> None:
    """Start recording from the environment; never raises (the application must start regardless)."""
    disabled = {n.strip() for n in os.environ.get(ENV_DISABLED_INSTRUMENTATIONS, "").split(",")}
    if NAME in disabled or "*" in disabled:
        return
    try:
        from .instrument.telemetry import ensure_telemetry
        from .runtime import configure_from_environment

        configure_from_environment()
        ensure_telemetry()  # the decorators record too, even in an application that never calls init()
    except Exception as exc:  # a bad keyword cannot come from here; anything else is reported, not raised
        logging.getLogger("otel_agentkit").warning("otel_agentkit: not started by opentelemetry-instrument: %s",
                                                   exc)
        diagnostics.report("zerocode.start", exc)
