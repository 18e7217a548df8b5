"""Auto-instrumentation of LLM client libraries and agent frameworks (LIBRARIES), traced without code changes.

    from otel_agentkit import auto
    auto.instrument("openai")          # or auto.instrument_all()

The instrumentors are standard OpenTelemetry ``BaseInstrumentor`` s, registered under the
``opentelemetry_instrumentor`` entry-point group (``agentkit_openai``, ``agentkit_anthropic``), so
``opentelemetry-instrument python app.py`` switches them on too. Their spans are made by the same recorder
as ``agentkit.llm``; a call inside a user's ``agentkit.llm`` span feeds that span instead of adding one.
"""

from __future__ import annotations

import importlib.util
from typing import Any

LIBRARIES: dict[str, str] = {
    "openai": "otel_agentkit.auto.openai:OpenAIInstrumentor",
    "anthropic": "otel_agentkit.auto.anthropic:AnthropicInstrumentor",
    "mistralai": "otel_agentkit.auto.mistral:MistralInstrumentor",
    "cohere": "otel_agentkit.auto.cohere:CohereInstrumentor",
    "google-genai": "otel_agentkit.auto.google_genai:GoogleGenAIInstrumentor",
    "bedrock": "otel_agentkit.auto.bedrock:BedrockInstrumentor",
    "openai-agents": "otel_agentkit.auto.openai_agents:OpenAIAgentsInstrumentor",
    "langchain": "otel_agentkit.auto.langchain:LangChainInstrumentor",
    "mcp": "otel_agentkit.auto.mcp:MCPInstrumentor",
}


def instrumentor(name: str) -> Any:
    """The instrumentor (one per library, as BaseInstrumentor keeps it) for ``name`` (a key of LIBRARIES)."""
    path = LIBRARIES.get(name)
    if path is None:
        raise ValueError(f"agentkit.instrument: unknown library {name!r}; known: {', '.join(sorted(LIBRARIES))}")
    module_name, _, cls_name = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)()


# The module each library is imported as, where it differs from the name used here.
MODULES: dict[str, str] = {"google-genai": "google.genai", "bedrock": "boto3", "openai-agents": "agents",
                           "langchain": "langchain_core"}


def is_installed(name: str) -> bool:
    """Whether the client library ``name`` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec(MODULES.get(name, name)) is not None
    except (ImportError, ValueError):
        return False


def instrument(name: str, **kwargs: Any) -> bool:
    """Trace the client library ``name``. Keywords go to the instrumentor (``tracer_provider``,
    ``meter_provider``; openai: ``include_usage``; anthropic: ``suppress_native_spans``).

    Returns True when the library is instrumented afterwards; False when it is not installed, or its
    version is not supported (warned, nothing patched). Raises ValueError for an unknown name.
    """
    inst = instrumentor(name)
    if not is_installed(name):
        return False
    if not inst.is_instrumented_by_opentelemetry:
        inst.instrument(**kwargs)
    return bool(inst.is_instrumented_by_opentelemetry and inst._patches)


def uninstrument(name: str) -> bool:
    """Undo :func:`instrument`: the original methods are put back exactly. True if something was undone."""
    inst = instrumentor(name)
    if not inst.is_instrumented_by_opentelemetry:
        return False
    inst.uninstrument()
    return True


def instrument_all(**kwargs: Any) -> list[str]:
    """Instrument every supported library that is installed; returns the names instrumented."""
    return [name for name in LIBRARIES if is_installed(name) and instrument(name, **kwargs)]


def uninstrument_all() -> list[str]:
    """Undo :func:`instrument_all`; returns the names that were undone."""
    return [name for name in LIBRARIES if uninstrument(name)]


__all__ = ["LIBRARIES", "instrument", "instrument_all", "instrumentor", "is_installed", "uninstrument",
           "uninstrument_all"]
