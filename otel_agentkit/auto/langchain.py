"""LangChain and LangGraph steps as agentkit spans, through a LangChain callback handler.

:class:`StepsHandler` is a ``BaseCallbackHandler`` that LangChain adds to every run's callback manager: the
instrumentor registers it with ``langchain_core.tracers.context.register_configure_hook`` (the supported way
to give every run a handler without the caller passing ``callbacks=``), through a ``ContextVar`` whose
default is the handler, so that every thread and task sees it. The handler turns:

- a LangGraph graph run into a workflow span (``invoke_agent {graph name}``, operation invoke_workflow). A
  graph run is known by its tasks: LangGraph starts each node run with the tag ``graph:step:N``, naming the
  graph's run as its parent. A graph does not say what it is when it starts (its start looks like any chain's),
  so its span is started when its first node starts, with the time and under the context the graph's run
  started with: nothing happens between the two that a span could be the parent of;
- an agent run into an ``invoke_agent {agent}`` span: a run whose metadata brings an ``lc_agent_name`` its
  parent run does not have (LangChain 1.x ``create_agent`` and the agent frameworks built on it name their
  agents so), or LangChain's classic ``AgentExecutor``; a graph that is an agent is one agent span;
- a tool run into an ``execute_tool {tool}`` span, with ``gen_ai.tool.call.id`` when LangChain passes the
  tool call's id (``ToolNode`` and tool calls invoked as ``ToolCall`` dicts do).

Other chain runs (a node, an LCEL sequence, a prompt, a top-level chain that is neither a graph nor an agent)
make no span: they group nothing a span would add. Our spans take their parent from LangChain's run tree (the
span of the nearest enclosing run that has one, else the OTel context current when the run started), not from
whatever context is current when LangChain calls back.

Model calls are left to the client instrumentors (one inference span per request). For that span to sit under
the right agent, tool or graph span, the handler makes that span current (an OTel context attach) in
``on_chat_model_start`` / ``on_llm_start``, which LangChain calls in the context the client call then runs in
(``run_inline``: in the run's own task for async runs too, not in an executor thread), and detaches it in
``on_llm_end``. A tool's span is made current the same way for what the tool does. Attaching at a chain's start
would not do: for async runs LangChain calls ``on_chain_end`` in a task of its own (a copy of the context), where
the attach made at the start cannot be undone, so it would stay current in the caller's context after the run.
LangChain does the same with ``on_llm_end``: that attach stays in the model call's context, which in a graph
is the node's task, discarded when the node ends (and holds the right parent until then). A client called
directly (not through a LangChain model) in a node is not under the graph's span: no callback precedes it.

LangGraph's control-flow exceptions (interrupts, ``Command(graph=PARENT)``: ``GraphBubbleUp``) end a span
without an error; any other error sets ``error.type``. A run that never ends (a stream abandoned before its
end) leaves its span open, as LangChain leaves its own run.
"""

from __future__ import annotations

import contextvars
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from opentelemetry import context as otel_context

from .. import diagnostics
from ..instrument import telemetry as _state
from ..instrument.decorators import Operation, agent, tool, workflow
from ..instrument.invocation import Invocation
from ..instrument.suppress import suppressed
from ._common import AutoInstrumentor, Patch, logger

REQUIREMENT = "langchain-core >= 1.0, < 2"

_GRAPH_STEP = re.compile(r"^graph:step:\d+$")  # the tag LangGraph gives each task (node run) of a graph
_AGENT_NAME = "lc_agent_name"  # metadata naming the agent a run belongs to
_CLASSIC_AGENT = "AgentExecutor"
_CONTROL_FLOW = "GraphBubbleUp"  # LangGraph's base of interrupts and parent commands: not failures


@dataclass
class _Run:
    """What the handler keeps of one LangChain run between its start and its end."""

    parent: UUID | None
    name: str
    agent_name: str | None  # the lc_agent_name in its metadata (inherited by the runs below it)
    context: otel_context.Context  # the OTel context current when it started
    start_ns: int
    t0: float
    inv: Invocation | None = None
    token: tuple[object, object] | None = None  # the tokens of the attach made at its start
    attached: otel_context.Context | None = None  # the context that attach made current


class StepsHandler:
    """Made a ``BaseCallbackHandler`` subclass on first use (see :func:`make_handler`), so that importing this
    module does not import LangChain. ``enabled`` is cleared on uninstrument: runs started before still end
    their spans, none starts."""

    run_inline = True  # called in the run's own task, not in an executor thread (see the module doc)
    raise_error = False
    ignore_retriever = ignore_retry = ignore_custom_event = True

    def __init__(self) -> None:
        super().__init__()
        self.enabled = True
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    # --- chains: graphs, agents and graph nodes ---------------------------------------------------------------
    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                       tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                       **kwargs: Any) -> None:
        try:
            if self.enabled and _state.active is not None:
                self._chain_start(run_id, parent_run_id, _run_name(serialized, kwargs), tags or (), metadata or {})
        except Exception as exc:  # telemetry never breaks the run
            diagnostics.report("auto.langchain.chain_start", exc)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, None, "auto.langchain.chain_end")

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error, "auto.langchain.chain_error")

    # --- model calls: their spans are the client instrumentors'; only their parent is set here ---------------
    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            parent_run_id: UUID | None = None, metadata: dict[str, Any] | None = None,
                            **kwargs: Any) -> None:
        self.on_llm_start(serialized, messages, run_id=run_id, parent_run_id=parent_run_id, metadata=metadata)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            if self.enabled and _state.active is not None and parent_run_id is not None:
                self._model_start(run_id, parent_run_id, metadata or {})
        except Exception as exc:
            diagnostics.report("auto.langchain.model_start", exc)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, None, "auto.langchain.model_end")

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, None, "auto.langchain.model_error")

    # --- tools ------------------------------------------------------------------------------------------------
    def on_tool_start(self, serialized: Any, input_str: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                      tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        try:
            if self.enabled and _state.active is not None:
                info = serialized if isinstance(serialized, dict) else {}
                name = str(info.get("name") or kwargs.get("name") or "tool")
                call_id = kwargs.get("tool_call_id")
                op = tool(name=name, call_id=str(call_id) if call_id else None,
                          description=info.get("description") or None)
                run = self._track(run_id, parent_run_id, name, metadata or {})
                self._begin(run, op, attach=True)
        except Exception as exc:
            diagnostics.report("auto.langchain.tool_start", exc)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, None, "auto.langchain.tool_end")

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error, "auto.langchain.tool_error")

    # --- the work ---------------------------------------------------------------------------------------------
    def _chain_start(self, run_id: UUID, parent_id: UUID | None, name: str, tags: Any,
                     metadata: dict[str, Any]) -> None:
        run = self._track(run_id, parent_id, name, metadata)
        parent = self._runs.get(parent_id) if parent_id is not None else None
        agent_name = run.agent_name if run.agent_name != (parent.agent_name if parent else None) else None
        if agent_name or name == _CLASSIC_AGENT:
            self._begin(run, agent(name=agent_name or name), attach=False)
        elif parent is not None and parent.inv is None and any(_GRAPH_STEP.match(str(t)) for t in tags):
            # the first node of the graph ``parent``: the graph's span starts now, at the graph's start time
            self._begin(parent, workflow(name=parent.name), attach=False)

    def _model_start(self, run_id: UUID, parent_id: UUID | None, metadata: dict[str, Any]) -> None:
        """A model call inside one of our spans: make that span current for the client call that follows."""
        run = self._track(run_id, parent_id, "model", metadata)
        parent = self._parent_context(run)
        if parent is not run.context and parent is not otel_context.get_current():
            _attach(run, parent)

    def _track(self, run_id: UUID, parent_id: UUID | None, name: str, metadata: dict[str, Any]) -> _Run:
        agent_name = metadata.get(_AGENT_NAME)
        run = _Run(parent_id, name, str(agent_name) if agent_name else None, otel_context.get_current(),
                   time.time_ns(), time.perf_counter())
        with self._lock:
            self._runs[run_id] = run
        return run

    def _parent_context(self, run: _Run) -> otel_context.Context:
        """The span of the nearest enclosing run that has one, else the context the run started in."""
        seen = 0
        parent_id = run.parent
        while parent_id is not None and seen < 1000:  # a bound, in case run ids ever loop
            parent = self._runs.get(parent_id)
            if parent is None:
                break
            if parent.inv is not None and parent.inv.context is not None:
                return parent.inv.context
            parent_id, seen = parent.parent, seen + 1
        return run.context

    def _begin(self, run: _Run, op: Operation, attach: bool) -> None:
        """Start ``op`` for ``run`` at the run's start time; ``attach``: make it current here (the run's work
        runs next, in this context)."""
        tel = _state.active
        parent = self._parent_context(run)
        if tel is None or suppressed(parent):
            return
        try:
            name, kind = op.category.span(op.operation, op.target, tel.new)
            inv = Invocation(tel, op.category, op.operation, name, kind, op.attributes)
            inv.start(parent, start_time_ns=run.start_ns, inherit=op.inherit)
        except Exception as exc:
            diagnostics.report("invocation.start", exc)
            return
        inv.owner = self
        run.inv = inv
        if attach:
            _attach(run, inv.context)  # type: ignore[arg-type]

    def _end(self, run_id: UUID, error: BaseException | None, where: str) -> None:
        try:
            with self._lock:
                run = self._runs.pop(run_id, None)
            if run is None:
                return
            if run.token is not None:
                _detach(run, run_id)
            if run.inv is not None:
                failed = error if error is not None and not _control_flow(error) else None
                run.inv.end(failed, duration_s=time.perf_counter() - run.t0)
        except Exception as exc:
            diagnostics.report(where, exc)

    def open_runs(self) -> int:
        """How many LangChain runs are being followed now (for tests and diagnostics)."""
        return len(self._runs)


# Set beside each attach: resetting its token succeeds only in the contextvars Context the attach was made in,
# which tells whether the OTel detach may run here (LangChain runs async end callbacks in a copied context).
_MARK: contextvars.ContextVar[object] = contextvars.ContextVar("otel_agentkit_langchain_mark", default=None)


def _attach(run: _Run, ctx: otel_context.Context) -> None:
    run.attached = ctx
    run.token = (otel_context.attach(ctx), _MARK.set(run))


def _detach(run: _Run, run_id: UUID) -> None:
    """Undo the run's attach where it was made; elsewhere (an end callback LangChain runs in a copy of the
    context) do nothing: a detach there would fail, and the copy is discarded anyway."""
    token, mark = run.token  # type: ignore[misc]
    run.token = None
    try:
        _MARK.reset(mark)
    except ValueError:
        logger.debug("otel_agentkit: LangChain run %s (%s) ended outside the context it started in",
                     run_id, run.name)
        return
    if otel_context.get_current() is run.attached:
        otel_context.detach(token)


def _run_name(serialized: Any, kwargs: dict[str, Any]) -> str:
    """The run's name as LangChain shows it: the ``name`` it passes, else the serialized object's."""
    name = kwargs.get("name")
    if not name and isinstance(serialized, dict):
        name = serialized.get("name") or (serialized.get("id") or [None])[-1]
    return str(name or "chain")


def _control_flow(error: BaseException) -> bool:
    return any(cls.__name__ == _CONTROL_FLOW for cls in type(error).__mro__)


_handler_class: type | None = None


def make_handler() -> Any:
    """A new handler: :class:`StepsHandler` with LangChain's ``BaseCallbackHandler`` as its base."""
    global _handler_class
    if _handler_class is None:
        from langchain_core.callbacks import BaseCallbackHandler

        _handler_class = type("AgentkitStepsHandler", (StepsHandler, BaseCallbackHandler),
                              {"__module__": __name__, "__doc__": StepsHandler.__doc__})
    return _handler_class()


class LangChainInstrumentor(AutoInstrumentor):
    """Registers a :class:`StepsHandler` as a LangChain configure hook; uninstrumenting removes exactly it."""

    library = "langchain-core"
    requirement = REQUIREMENT

    def __init__(self) -> None:
        super().__init__()
        if not hasattr(self, "_handler"):
            self._handler: Any = None
            self._var: contextvars.ContextVar[Any] | None = None

    @property
    def handler(self) -> Any:
        """The registered handler, or None when not instrumented."""
        return self._handler

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        from langchain_core.tracers import context as lc_context

        handler = make_handler()
        var: contextvars.ContextVar[Any] = contextvars.ContextVar("otel_agentkit_langchain", default=handler)
        lc_context.register_configure_hook(var, True)  # inheritable: the runs below a run get it too
        self._handler, self._var = handler, var
        # A record of what was added, in the form the base class keeps (``installed`` is the hook's variable).
        return [Patch(type(handler), "configure_hook", None, var)]

    def _uninstrument(self, **kwargs: Any) -> None:
        handler, var = self._handler, self._var
        self._handler, self._var, self._patches = None, None, []
        if handler is None:
            return
        handler.enabled = False
        try:
            _remove_hook(var)
        except Exception as exc:
            diagnostics.report("auto.langchain.uninstrument", exc)


def _remove_hook(var: Any) -> None:
    """Take our entry out of LangChain's configure hooks, the others left in their order. LangChain has no
    unregister call: its list (``langchain_core.tracers.context._configure_hooks``) is edited in place."""
    from langchain_core.tracers import context as lc_context

    hooks = getattr(lc_context, "_configure_hooks", None)
    if not isinstance(hooks, list):
        logger.warning("otel_agentkit: langchain_core does not list its configure hooks; the agentkit handler "
                       "stays registered, switched off")
        return
    hooks[:] = [entry for entry in hooks if entry[0] is not var]
