"""otel_agentkit: OpenTelemetry-native instrumentation for LLM applications and agents.

    import otel_agentkit as agentkit
    agentkit.init()

    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask(messages): ...

Spans and metrics follow the GenAI semantic conventions (see ``otel_agentkit.semconv``).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as _otel_context

from .config import ConfigError, ContentCapture
from .diagnostics import drop_counts as sdk_drop_counts, error_counts as sdk_error_counts
from .instrument.context import ContextThreadPoolExecutor, attributes, bind_context, CURRENT_KEY as _CURRENT_KEY
from .instrument.decorators import Operation, agent, embedding, llm, retrieval, tool, workflow
from .instrument.invocation import NOOP_CALL as _NOOP_CALL, Invocation, NoOpCall
from .instrument.record import record_llm_call
from .runtime import flush, init, is_active, shutdown
from .version import __version__


def instrument(*libraries: str, **kwargs: Any) -> list[str]:
    """Trace LLM client libraries without code changes: ``instrument("openai", "anthropic")``, or every
    supported one installed when none is named. Returns the names now instrumented; a library that is
    not installed, or whose version is not supported (warned), is left out. ValueError for unknown names."""
    from . import auto

    if not libraries:
        return auto.instrument_all(**kwargs)
    return [name for name in libraries if auto.instrument(name, **kwargs)]


def current_call() -> Invocation | NoOpCall:
    """The handle of the innermost agentkit span in this context (an llm call inside ``@agentkit.llm``).

    Outside any agentkit span, or with the SDK off, a handle whose methods do nothing, so code can call
    ``current_call().record(...)`` without checking.
    """
    inv: Any = _otel_context.get_value(_CURRENT_KEY)
    return inv if inv is not None else _NOOP_CALL


__all__ = [
    "ConfigError", "ContentCapture", "ContextThreadPoolExecutor", "Invocation", "NoOpCall", "Operation",
    "__version__", "agent", "attributes", "bind_context", "current_call", "embedding", "flush", "init",
    "instrument", "is_active", "llm", "record_llm_call", "retrieval", "sdk_drop_counts", "sdk_error_counts", "shutdown",
    "tool", "workflow",
]
