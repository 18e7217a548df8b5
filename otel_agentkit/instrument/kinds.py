"""One object per kind of operation (inference, embeddings, retrieval, tool, agent, workflow): its span,
what it records when it ends, how it is measured and how an enclosing agent run counts it.

The recorder (invocation.py), the metrics (metrics.py) and the decorators (decorators.py) ask the kind
instead of branching on its name, so that adding a kind is one entry here, plus a ``GenAIMetrics`` method
if it is measured in a new way. The objects are plain and frozen: asking one costs an attribute read on
the caller's thread, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.trace import SpanKind

from .. import semconv as sc

_CLIENT_KEYS = (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL, sc.SERVER_ADDRESS,
                sc.SERVER_PORT)
_RUN_KEYS = (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_AGENT_NAME)
_PRE_RUN_KEYS = (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_AGENT_NAME, sc.GEN_AI_WORKFLOW_NAME)


@dataclass(frozen=True, eq=False)
class Kind:
    """A kind of operation. ``eq=False``: kinds compare (and hash) by identity, fast on the hot path."""

    name: str
    span_kind: SpanKind
    measure: str  # the GenAIMetrics method that records one ended operation of this kind
    metric_keys: tuple[str, ...]  # v0.1.0 metric attributes, picked from the span's start attributes
    pre_metric_keys: tuple[str, ...]  # the pre-release set's
    reports_usage: bool = False  # response model, id, finish reasons, token usage, cost, content capture
    streams: bool = False  # a decorated generator's items are response chunks (time to first chunk)
    run: bool = False  # an agent or workflow run: counts the inference and tool calls made below it
    counted_as: int | None = None  # its slot in the enclosing run's counts: 0 inference calls, 1 tool calls
    released_name: str | None = None  # v0.1.0 span name: this operation name (+ target unless bare)
    released_bare: bool = False  # v0.1.0 span name is the operation name alone (no target)
    released_span_kind: SpanKind | None = None  # v0.1.0 span kind when it differs

    def __str__(self) -> str:
        return self.name

    def span(self, operation: str, target: str | None, released: bool) -> tuple[str, SpanKind]:
        """The span's name and kind, under v0.1.0 (``released``) or the pre-release set."""
        if released:
            name = self.released_name or operation
            return (name if self.released_bare else sc.span_name(name, target),
                    self.released_span_kind or self.span_kind)
        return sc.span_name(operation, target), self.span_kind


INFERENCE = Kind("inference", SpanKind.CLIENT, "_inference", _CLIENT_KEYS, _CLIENT_KEYS, reports_usage=True,
                 streams=True, counted_as=0)
EMBEDDINGS = Kind("embeddings", SpanKind.CLIENT, "_embeddings", _CLIENT_KEYS, _CLIENT_KEYS, reports_usage=True)
# v0.1.0 (retrieval.md, linked from the tag's metrics page): span "retrieval", INTERNAL, own duration metric
RETRIEVAL = Kind("retrieval", SpanKind.CLIENT, "_retrieval",
                 (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_DATA_SOURCE_ID, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL),
                 _CLIENT_KEYS, released_bare=True, released_span_kind=SpanKind.INTERNAL)
TOOL = Kind("tool", SpanKind.INTERNAL, "_tool", (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_TOOL_NAME, sc.GEN_AI_TOOL_TYPE),
            (sc.GEN_AI_TOOL_NAME, sc.GEN_AI_TOOL_TYPE, sc.GEN_AI_AGENT_NAME), counted_as=1)
AGENT = Kind("agent", SpanKind.INTERNAL, "_agent_run", _RUN_KEYS, _PRE_RUN_KEYS, run=True)
# v0.1.0: a workflow is an invoke_agent span whose operation name stays invoke_workflow
WORKFLOW = Kind("workflow", SpanKind.INTERNAL, "_agent_run", _RUN_KEYS, _PRE_RUN_KEYS, run=True,
                released_name=sc.OP_INVOKE_AGENT)
KINDS: tuple[Kind, ...] = (INFERENCE, EMBEDDINGS, RETRIEVAL, TOOL, AGENT, WORKFLOW)
