"""The OpenAI Agents SDK (``openai-agents``, imported as ``agents``): its agent steps as agentkit spans.

The SDK reports each step of a run (agent, function tool, handoff, model call) to the tracing processors
registered with its trace provider. :class:`AgentsBridge` is one more such processor, added next to the SDK's
own (which keep exporting as before), that turns:

- an agent step into an ``invoke_agent {agent}`` span (the recorder's AGENT kind: run duration, the run's
  inference and tool call counts, cost by agent, the agent name inherited by the spans below it);
- a function tool into an ``execute_tool {tool}`` span (the TOOL kind, counted in the agent's run);
- the SDK's trace (one ``Runner.run``, or the user's ``agents.trace(...)`` block around several) into a
  workflow span (``invoke_agent {workflow name}``, operation invoke_workflow), only when no span is current:
  without it the agents of a run with a handoff would each start a trace of their own; under a caller's span,
  that span already groups the run, and a second run level would only add a span and a metric series;
- a handoff into an ``agentkit.handoff`` event on the handing-off agent's span. The GenAI conventions have no
  handoff operation; a handoff is an instant transfer of control, not work with a duration, a metric or
  children of its own, so an event keeps the span tree to GenAI operations and still says who handed to whom
  and when (the next ``invoke_agent`` span is the target's).

Model calls (the SDK's generation / response steps) are left alone: the openai instrumentor makes their one
inference span. For it to sit under the agent span, the bridge makes the agent's span current (an OTel
context attach) when the SDK starts the step and detaches it when the SDK ends it. The SDK starts and ends a
step in the same asyncio task, around the work (an agent step around its turns, a tool's ``with function_span``
around the call); tasks it creates below (function tools) copy the context, so they see the agent as parent.

It only hears what the SDK traces: with the SDK's tracing disabled (``set_tracing_disabled(True)``,
``OPENAI_AGENTS_DISABLE_TRACING``, ``RunConfig(tracing_disabled=True)``) there is nothing to bridge, and
``set_trace_processors`` called after instrumenting drops the bridge with the rest. The tool call id is not
recorded: the SDK's function step does not carry it.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api

from .. import diagnostics, semconv as sc
from ..instrument import telemetry as _state
from ..instrument.context import CURRENT_KEY
from ..instrument.decorators import Operation, agent, tool, workflow
from ..instrument.invocation import Invocation
from ..instrument.suppress import suppressed
from ._common import AutoInstrumentor, Patch, logger

REQUIREMENT = "openai-agents >= 0.2, < 1"

EVENT_HANDOFF, AGENTKIT_HANDOFF_FROM, AGENTKIT_HANDOFF_TO = sc.EVENT_HANDOFF, sc.AGENTKIT_HANDOFF_FROM, sc.AGENTKIT_HANDOFF_TO


_TRACE = "trace:"  # the key prefix of an SDK trace's workflow (span ids and trace ids kept in one map)


class AgentsBridge:
    """An Agents SDK ``TracingProcessor`` that records agent and function-tool steps through the recorder.

    Duck-typed rather than subclassing ``agents.tracing.TracingProcessor``, so that importing this module
    does not import the SDK. ``enabled`` is cleared when it is uninstrumented but could not be taken out of
    the provider's list (a provider that does not expose it): it then does nothing.
    """

    def __init__(self) -> None:
        self.enabled = True
        self._open: dict[str, tuple[Invocation, object]] = {}  # SDK span id -> (invocation, context token)
        self._lock = threading.Lock()

    # --- the TracingProcessor interface ---------------------------------------------------------------------
    def on_trace_start(self, trace: Any) -> None:
        try:
            if self.enabled and not trace_api.get_current_span().get_span_context().is_valid:
                self._begin(_TRACE + str(trace.trace_id), workflow(name=str(trace.name)))
        except Exception as exc:  # telemetry never breaks the run
            diagnostics.report("auto.openai-agents.trace_start", exc)

    def on_trace_end(self, trace: Any) -> None:
        try:
            self._finish(_TRACE + str(trace.trace_id), None)
        except Exception as exc:
            diagnostics.report("auto.openai-agents.trace_end", exc)

    def on_span_start(self, span: Any) -> None:
        try:
            if self.enabled:
                op = _operation(span.span_data)
                if op is not None:
                    self._begin(span.span_id, op)
        except Exception as exc:
            diagnostics.report("auto.openai-agents.span_start", exc)

    def on_span_end(self, span: Any) -> None:
        try:
            if type(span.span_data).__name__ == "HandoffSpanData":
                self._handoff(span.span_data)
            else:
                self._finish(span.span_id, span.error)
        except Exception as exc:
            diagnostics.report("auto.openai-agents.span_end", exc)

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None

    # --- the work ---------------------------------------------------------------------------------------
    def _begin(self, key: str, op: Operation) -> None:
        """Start ``op`` under the current context and make it current (the SDK's work runs next)."""
        tel = _state.active
        if tel is None:
            return
        ctx = otel_context.get_current()
        if suppressed(ctx):
            return
        inv = op.begin(tel, ctx)
        if inv is None:
            return
        inv.owner = self
        token = otel_context.attach(inv.context)  # type: ignore[arg-type]
        with self._lock:
            self._open[key] = (inv, token)

    def _finish(self, key: str, error: Any) -> None:
        with self._lock:
            entry = self._open.pop(key, None)
        if entry is None:
            return
        inv, token = entry
        if otel_context.get_current() is inv.context:
            otel_context.detach(token)  # type: ignore[arg-type]
        else:  # ended from another task or out of order: a detach here would unset someone else's context
            logger.debug("otel_agentkit: Agents SDK step %s ended outside the context it started in", key)
        if error:
            inv.set_error_type(sc.ERROR_TYPE_OTHER)  # the SDK's error is a message, not an exception type
        inv.end()

    def _handoff(self, data: Any) -> None:
        """An event on the agent span the handoff happened in (the current invocation, one of ours)."""
        if not self.enabled:
            return
        inv = otel_context.get_value(CURRENT_KEY)
        if not isinstance(inv, Invocation) or inv.owner is not self or inv.span is None:
            return
        attrs = {k: str(v) for k, v in ((AGENTKIT_HANDOFF_FROM, data.from_agent),
                                         (AGENTKIT_HANDOFF_TO, data.to_agent)) if v is not None}
        inv.span.add_event(EVENT_HANDOFF, attrs)

    def open_spans(self) -> int:
        """How many SDK steps are being recorded now (for tests and diagnostics)."""
        return len(self._open)


def _operation(data: Any) -> Operation | None:
    """The agentkit operation for an SDK step, or None for the steps not bridged. By class name, so that a
    step type the installed SDK lacks costs nothing."""
    kind = type(data).__name__
    if kind == "AgentSpanData":
        return agent(name=str(data.name))
    if kind == "FunctionSpanData":
        return tool(name=str(data.name))
    return None


class OpenAIAgentsInstrumentor(AutoInstrumentor):
    """Adds :class:`AgentsBridge` to the Agents SDK's trace processors; uninstrumenting removes exactly it."""

    library = "openai-agents"
    requirement = REQUIREMENT

    def __init__(self) -> None:
        super().__init__()
        if not hasattr(self, "_bridge"):
            self._bridge: AgentsBridge | None = None

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        from agents.tracing import add_trace_processor, get_trace_provider

        bridge = AgentsBridge()
        add_trace_processor(bridge)
        self._bridge = bridge
        provider = get_trace_provider()
        # A record of what was added, in the form the base class keeps (its ``installed`` is the processor).
        return [Patch(type(provider), "processors", None, bridge)]

    def _uninstrument(self, **kwargs: Any) -> None:
        bridge, self._bridge = self._bridge, None
        self._patches = []
        if bridge is None:
            return
        bridge.enabled = False
        try:
            _remove_processor(bridge)
        except Exception as exc:
            diagnostics.report("auto.openai-agents.uninstrument", exc)


def _remove_processor(bridge: AgentsBridge) -> None:
    """Take ``bridge`` out of the provider's processors, leaving the others in their order. The SDK has no
    remove call: the list is read from the default provider and set again without it."""
    from agents.tracing import get_trace_provider

    provider = get_trace_provider()
    multi = getattr(provider, "_multi_processor", None)
    current = getattr(multi, "_processors", None)
    if current is None:
        logger.warning("otel_agentkit: the Agents SDK trace provider %s does not list its processors; the "
                       "agentkit bridge stays registered, switched off", type(provider).__name__)
        return
    if any(p is bridge for p in current):
        provider.set_processors([p for p in current if p is not bridge])
