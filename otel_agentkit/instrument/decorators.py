"""``agentkit.llm / agent / tool / workflow / embedding / retrieval``: each an :class:`Operation` that works
as a decorator (sync, async, generator, async generator, methods, classmethods) and as a context manager
(``with`` and ``async with``). All of them make their spans through :class:`~.invocation.Invocation`.

A function that returns its work instead of doing it (a provider stream or a ``.stream()`` manager, a
generator, an async iterator, a coroutine) keeps its span open until that work finishes, reading usage from
it, with the span current while it runs: an auto-instrumented call made there feeds this span rather than
making a second one (see ``deferred``).

wrapt keeps the wrapped function's signature, name, docstring and ``inspect`` answers. When the SDK is off
the wrapper is one attribute read and a direct call; under OTel's ``suppress_instrumentation()`` (see
``suppress``) it is one context read more, and the function runs unchanged with no span or metric point.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar, overload

import wrapt
from opentelemetry import context as otel_context

from .. import diagnostics, semconv as sc
from . import deferred, telemetry as _state
from .context import CURRENT_KEY
from .invocation import NOOP_CALL, Invocation, NoOpCall
from .kinds import AGENT, EMBEDDINGS, INFERENCE, RETRIEVAL, TOOL, WORKFLOW, Kind
from .request_params import request_attributes
from .responses import has_usage
from .suppress import suppressed

F = TypeVar("F", bound=Callable[..., Any])
_attach = otel_context.attach
_detach = otel_context.detach


class Operation:
    """A configured kind of operation; decorate functions with it or open it as a context manager."""

    __slots__ = ("category", "operation", "target", "attributes", "inherit", "_target_attr")

    def __init__(self, category: Kind, operation: str, target: str | None, attributes: dict[str, Any],
                 inherit: dict[str, Any] | None = None, target_attr: str | None = None) -> None:
        self.category = category  # what kind of operation (its span, measurement and counting): kinds.py
        self.operation = operation
        self.target = target
        self.attributes = {k: v for k, v in attributes.items() if v is not None}
        self.inherit = inherit
        self._target_attr = target_attr  # the attribute that holds the name, when it defaults to __name__

    def named(self, target: str) -> Operation:
        """The same operation with its name filled in (from the decorated function)."""
        attrs = dict(self.attributes)
        inherit = dict(self.inherit) if self.inherit else None
        if self._target_attr:
            attrs[self._target_attr] = target
            if inherit is not None:  # the name spans below inherit (agentkit.agent.name / .workflow.name)
                for key in (sc.AGENTKIT_AGENT_NAME, sc.AGENTKIT_WORKFLOW_NAME):
                    if key in inherit:
                        inherit[key] = target
        return Operation(self.category, self.operation, target, attrs, inherit, self._target_attr)

    def begin(self, tel: _state.Telemetry, parent: otel_context.Context | None = None) -> Invocation | None:
        """A started Invocation, or None if the SDK failed to start one (reported; the call goes on)."""
        try:
            name, kind = self.category.span(self.operation, self.target, tel.new)
            inv = Invocation(tel, self.category, self.operation, name, kind, self.attributes)
            return inv.start(parent, inherit=self.inherit)
        except Exception as exc:
            diagnostics.report("invocation.start", exc)
            return None

    # --- context manager -----------------------------------------------------------------------------------
    def __enter__(self) -> Invocation | NoOpCall:
        tel = _state.active
        if tel is None:
            return NOOP_CALL
        ctx = otel_context.get_current()
        if suppressed(ctx):  # OTel's suppress_instrumentation(): no span, no metric point
            return NOOP_CALL
        inv = self.begin(tel, ctx)
        if inv is None:
            return NOOP_CALL
        inv.owner = self
        inv.token = inv.activate()
        return inv

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        inv = otel_context.get_value(CURRENT_KEY)
        if not isinstance(inv, Invocation) or inv.owner is not self or inv.token is None:
            return None  # entered while the SDK was off, or under suppress_instrumentation()
        token, inv.token = inv.token, None
        try:
            _detach(token)
        except Exception as sdk_exc:
            diagnostics.report("context.detach", sdk_exc)
        inv.end(exc)
        return None

    async def __aenter__(self) -> Invocation | NoOpCall:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator -----------------------------------------------------------------------------------------
    def __call__(self, func: F) -> F:
        if isinstance(func, (classmethod, staticmethod)):
            return type(func)(self(func.__func__))  # type: ignore[return-value]
        if not callable(func):
            raise TypeError(f"agentkit.{self.category} decorates functions, got {type(func).__name__}")
        op = self if self.target else self.named(getattr(func, "__name__", None) or type(func).__name__)
        target = inspect.unwrap(func)
        if inspect.isasyncgenfunction(target):
            wrapper = _async_gen_wrapper(op)
        elif inspect.isgeneratorfunction(target):
            wrapper = _gen_wrapper(op)
        elif inspect.iscoroutinefunction(target):
            wrapper = _coroutine_wrapper(op)
        else:
            wrapper = _sync_wrapper(op)
        return _Traced(func, wrapper)  # type: ignore[return-value]


def _by_name(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class _BoundTraced(wrapt.BoundFunctionWrapper):
    """A decorated method looked up on a class or an instance; pickles as Python's own methods do."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        instance = self._self_instance
        if instance is None or isinstance(instance, type):
            return _by_name, (self.__wrapped__.__module__, self.__wrapped__.__qualname__)
        return getattr, (instance, self.__wrapped__.__name__)


class _Traced(wrapt.FunctionWrapper):
    """A decorated function; pickles by reference like the function it wraps, so it can be a
    multiprocessing target or Pool task (the child imports the module and gets the decorated one)."""

    __bound_function_wrapper__ = _BoundTraced

    def __reduce_ex__(self, protocol: Any) -> Any:
        return _by_name, (self.__wrapped__.__module__, self.__wrapped__.__qualname__)


def _reads_response(op: Operation) -> bool:
    return op.category.reports_usage


def _before_call(inv: Invocation, kwargs: dict[str, Any]) -> None:
    """With content capture on, take ``messages=`` of the decorated call as the input messages."""
    if inv._tel.capturing and inv.input_messages is None:
        messages = kwargs.get("messages")
        if messages is not None:
            inv.input_messages = messages


def _after_call(inv: Invocation, result: Any) -> None:
    try:
        if result is not None and has_usage(result):
            inv.observe_response(result)
    except Exception as exc:
        diagnostics.report("response.parse", exc)


def _sync_wrapper(op: Operation) -> Callable[..., Any]:
    reads = _reads_response(op)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        tel = _state.active
        if tel is None:
            return wrapped(*args, **kwargs)
        ctx = otel_context.get_current()
        if suppressed(ctx):
            return wrapped(*args, **kwargs)
        inv = op.begin(tel, ctx)
        if inv is None:
            return wrapped(*args, **kwargs)
        if reads:
            _before_call(inv, kwargs)
        token = _attach(inv.context)  # type: ignore[arg-type]
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            inv.end(exc)
            raise
        _detach(token)
        if deferred.kind_of(result) is not None:
            return _follow(op, inv, result)
        if reads:
            _after_call(inv, result)
        inv.end()
        return result

    return wrapper


def _coroutine_wrapper(op: Operation) -> Callable[..., Any]:
    reads = _reads_response(op)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if _state.active is None:
            return wrapped(*args, **kwargs)

        async def run() -> Any:
            tel = _state.active
            ctx = otel_context.get_current()
            inv = op.begin(tel, ctx) if tel is not None and not suppressed(ctx) else None
            if inv is None:
                return await wrapped(*args, **kwargs)
            if reads:
                _before_call(inv, kwargs)
            token = _attach(inv.context)  # type: ignore[arg-type]
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                _detach(token)
                inv.end(exc)
                raise
            _detach(token)
            if deferred.kind_of(result) is not None:
                return _follow(op, inv, result)
            if reads:
                _after_call(inv, result)
            inv.end()
            return result

        return run()

    return wrapper


def _follow(op: Operation, inv: Invocation, result: Any) -> Any:
    """The function returned its work instead of doing it (a stream, a stream manager, a generator, an
    async iterator, a coroutine): the span follows that work and ends when it does (see ``deferred``)."""
    kind = deferred.kind_of(result)
    if kind is None:  # a coroutine resolved to a finished value
        if _reads_response(op):
            _after_call(inv, result)
        inv.end()
        return result
    try:
        follow = deferred.Follow(inv, op.category.streams, kind)
        if kind == deferred.COROUTINE:
            return deferred.follow_awaitable(follow, result, lambda value: _follow(op, inv, value))
        if kind == deferred.GENERATOR:
            return follow.watch(_traced_generator(op, inv._tel, None, result, None, follow))
        if kind == deferred.ASYNC_GENERATOR:
            return follow.watch(_traced_async_generator(op, inv._tel, None, result, None, follow))
        if kind == deferred.MANAGER:
            return deferred.FollowedManager(result, follow)
        if kind == deferred.TASK:
            return deferred.follow_task(follow, result, lambda value: _settle_value(op, inv, value))
        return deferred.follow_stream(follow, result, async_=kind == deferred.ASYNC_ITERABLE)
    except Exception as exc:
        diagnostics.report("decorator.follow", exc)
        inv.end()
        return result


def _settle_value(op: Operation, inv: Invocation, value: Any) -> None:
    """A task's result: read it and end (the caller gets the result from the task, not from us)."""
    if _reads_response(op):
        _after_call(inv, value)
    inv.end()


def _gen_wrapper(op: Operation) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        tel = _state.active
        if tel is None:
            return wrapped(*args, **kwargs)
        ctx = otel_context.get_current()
        if suppressed(ctx):
            return wrapped(*args, **kwargs)
        return _traced_generator(op, tel, ctx, wrapped(*args, **kwargs), kwargs)

    return wrapper


def _traced_generator(op: Operation, tel: _state.Telemetry, parent: otel_context.Context | None,
                      gen: Iterator[Any], kwargs: dict[str, Any] | None,
                      follow: deferred.Follow | None = None) -> Iterator[Any]:
    """Drive ``gen`` with its span current only while its body runs; the span starts at the first
    ``next()`` (or is ``follow`` 's, started by the function that returned ``gen``) and ends when ``gen``
    is exhausted, raises, is closed, or is garbage-collected."""
    if follow is None:
        inv = op.begin(tel, parent)
        if inv is None:
            return (yield from gen)
        if _reads_response(op):
            _before_call(inv, kwargs)  # type: ignore[arg-type]
    else:
        inv, follow.started = follow.inv, True
    streams = op.category.streams
    error: BaseException | None = None
    to_send: Any = None
    to_throw: BaseException | None = None
    try:
        while True:
            token = _attach(inv.context)  # type: ignore[arg-type]
            try:
                if to_throw is not None:
                    thrown, to_throw = to_throw, None
                    item = gen.throw(thrown)
                else:
                    item = gen.send(to_send)
            except StopIteration as stop:
                return stop.value
            finally:
                _detach(token)
            if streams:
                _observe(inv, item)
            try:
                to_send = yield item
            except GeneratorExit:
                token = _attach(inv.context)  # type: ignore[arg-type]
                try:
                    gen.close()
                finally:
                    _detach(token)
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it to the wrapped generator
                to_throw = exc
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        inv.end(error)


def _async_gen_wrapper(op: Operation) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        tel = _state.active
        if tel is None:
            return wrapped(*args, **kwargs)
        ctx = otel_context.get_current()
        if suppressed(ctx):
            return wrapped(*args, **kwargs)
        return _traced_async_generator(op, tel, ctx, wrapped(*args, **kwargs), kwargs)

    return wrapper


async def _traced_async_generator(op: Operation, tel: _state.Telemetry, parent: otel_context.Context | None,
                                  agen: AsyncIterator[Any], kwargs: dict[str, Any] | None,
                                  follow: deferred.Follow | None = None) -> AsyncIterator[Any]:
    """The async twin of :func:`_traced_generator` (asend / athrow / aclose)."""
    if follow is None:
        inv = op.begin(tel, parent)
        if inv is None:
            async for item in agen:
                yield item
            return
        if _reads_response(op):
            _before_call(inv, kwargs)  # type: ignore[arg-type]
    else:
        inv, follow.started = follow.inv, True
    streams = op.category.streams
    error: BaseException | None = None
    to_send: Any = None
    to_throw: BaseException | None = None
    try:
        while True:
            token = _attach(inv.context)  # type: ignore[arg-type]
            try:
                if to_throw is not None:
                    thrown, to_throw = to_throw, None
                    item = await agen.athrow(thrown)  # type: ignore[attr-defined]
                else:
                    item = await agen.asend(to_send)  # type: ignore[attr-defined]
            except StopAsyncIteration:
                return
            finally:
                _detach(token)
            if streams:
                _observe(inv, item)
            try:
                to_send = yield item
            except GeneratorExit:
                token = _attach(inv.context)  # type: ignore[arg-type]
                try:
                    await agen.aclose()  # type: ignore[attr-defined]
                finally:
                    _detach(token)
                raise
            except BaseException as exc:
                to_throw = exc
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        inv.end(error)


def _observe(inv: Invocation, item: Any) -> None:
    try:
        inv.observe_chunk(item)
    except Exception as exc:
        diagnostics.report("stream.chunk", exc)


# --- the public factories ------------------------------------------------------------------------------------
def _factory(make: Callable[..., Operation], func: Any, name_kw: str | None) -> Any:
    """Support ``@x``, ``@x(...)``, ``@x("name")`` and ``with x(...)``."""
    if callable(func) or isinstance(func, (classmethod, staticmethod)):
        return make()(func)
    if func is None:
        return make()
    if isinstance(func, str) and name_kw:
        return make(func)
    raise TypeError(f"expected a function{' or a name' if name_kw else ''}, got {func!r}")


@overload
def llm(func: F, /) -> F: ...
@overload
def llm(func: None = None, /, *, provider: str | None = None, model: str | None = None,
        operation: str = sc.OP_CHAT, server_address: str | None = None, server_port: int | None = None,
        **request: Any) -> Operation: ...
def llm(func: Any = None, /, *, provider: str | None = None, model: str | None = None,
        operation: str = sc.OP_CHAT, server_address: str | None = None, server_port: int | None = None,
        **request: Any) -> Any:
    """An LLM inference call (span ``{operation} {model}``, CLIENT).

    ``request`` takes the keywords of the client call, so that they can be copied from it: every request
    parameter of the OpenAI Chat Completions and Responses APIs and the Anthropic Messages API. None raises,
    because this runs when the user's module is imported:

    - GenAI attributes: temperature, top_p, top_k, frequency_penalty, presence_penalty, seed (numbers);
      max_tokens / max_completion_tokens / max_output_tokens -> gen_ai.request.max_tokens; n / choice_count
      -> gen_ai.request.choice.count (not written when 1, under v0.1.0); stop / stop_sequences (a string or
      a list) -> gen_ai.request.stop_sequences; stream; response_format, text.format and Anthropic
      output_config.format -> gen_ai.output.type (json_object / json_schema -> json, text -> text);
      conversation (an id, or a dict with one) -> gen_ai.conversation.id; service_tier ->
      openai.request.service_tier when the provider is OpenAI (or Azure OpenAI).
    - Other parameters with a scalar setting are kept as ``agentkit.request.<name>``: reasoning_effort (also
      from reasoning.effort), verbosity (also text.verbosity), tool_choice (the mode, or a choice's type;
      never a tool's name), parallel_tool_calls, max_tool_calls, logprobs, top_logprobs, store, background,
      truncation, previous_response_id, prompt_cache_retention, speed, inference_geo, workspace_id, Anthropic
      service_tier; thinking -> agentkit.request.thinking.type / .budget_tokens; output_config.effort ->
      agentkit.request.effort. Strings are cut to the attribute length limit.
    - Never recorded from here: content (messages, input, instructions, system, prompt, prediction: content
      capture is opt-in and reads the call itself), tools and tool configuration, end-user identifiers (user,
      safety_identifier, metadata, prompt_cache_key, user_profile_id), structured options (logit_bias,
      stream_options, include, ...) and transport options (extra_headers, extra_body, timeout, ...).

    A value of the wrong type (``temperature="hot"``) is left out, and a keyword none of these lists knows
    is ignored; each logs one debug line per name on the ``otel_agentkit`` logger. None and the clients'
    NOT_GIVEN / omit are "not given".
    """
    requested = request_attributes(request, provider)

    def make() -> Operation:
        attrs = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider,
                 sc.GEN_AI_REQUEST_MODEL: model, sc.SERVER_ADDRESS: server_address, sc.SERVER_PORT: server_port}
        attrs.update(requested)
        return Operation(INFERENCE, operation, model, attrs)

    return _factory(make, func, None)


def embedding(func: Any = None, /, *, provider: str | None = None, model: str | None = None,
              server_address: str | None = None, server_port: int | None = None,
              encoding_formats: Any = None) -> Any:
    """An embeddings call (span ``embeddings {model}``, CLIENT). ``encoding_formats``: a name or a list
    (``gen_ai.request.encoding_formats``, e.g. ``["float"]``)."""
    formats = None
    if encoding_formats is not None:
        formats = [encoding_formats] if isinstance(encoding_formats, str) else [str(f) for f in encoding_formats]

    def make() -> Operation:
        return Operation(EMBEDDINGS, sc.OP_EMBEDDINGS, model, {
            sc.GEN_AI_OPERATION_NAME: sc.OP_EMBEDDINGS, sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: model, sc.SERVER_ADDRESS: server_address, sc.SERVER_PORT: server_port,
            sc.GEN_AI_REQUEST_ENCODING_FORMATS: formats})

    return _factory(make, func, None)


def retrieval(func: Any = None, /, *, data_source: str | None = None, top_k: int | None = None,
              provider: str | None = None) -> Any:
    """A retrieval from a data source (span ``retrieval``, INTERNAL; pre-release: ``retrieval {data_source}``,
    CLIENT); the data source (``gen_ai.data_source.id``) defaults to the function's name."""
    def make(data_source: str | None = data_source) -> Operation:
        return Operation(RETRIEVAL, sc.OP_RETRIEVAL, data_source, {
            sc.GEN_AI_OPERATION_NAME: sc.OP_RETRIEVAL, sc.GEN_AI_DATA_SOURCE_ID: data_source,
            sc.GEN_AI_RETRIEVAL_TOP_K: top_k, sc.GEN_AI_PROVIDER_NAME: provider},
            target_attr=sc.GEN_AI_DATA_SOURCE_ID)

    return _factory(make, func, "data_source")


def tool(func: Any = None, /, *, name: str | None = None, call_id: str | None = None, type: str = "function",
         description: str | None = None) -> Any:
    """A tool execution (span ``execute_tool {name}``, INTERNAL); name defaults to the function's name."""
    def make(name: str | None = name) -> Operation:
        return Operation(TOOL, sc.OP_EXECUTE_TOOL, name, {
            sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: name,
            sc.GEN_AI_TOOL_CALL_ID: call_id, sc.GEN_AI_TOOL_TYPE: type, sc.GEN_AI_TOOL_DESCRIPTION: description},
            target_attr=sc.GEN_AI_TOOL_NAME)

    return _factory(make, func, "name")


def agent(func: Any = None, /, *, name: str | None = None, description: str | None = None,
          id: str | None = None, conversation_id: str | None = None) -> Any:
    """An agent invocation (span ``invoke_agent {name}``, INTERNAL); spans below it carry the agent name
    (``agentkit.agent.name``; ``gen_ai.agent.name`` under the pre-release names). ``id`` goes to
    ``agentkit.agent.id`` (v0.1.0 removed gen_ai.agent.id from in-process agent spans)."""
    def make(name: str | None = name) -> Operation:
        inherit = {sc.AGENTKIT_AGENT_NAME: name}
        if conversation_id is not None:
            inherit[sc.GEN_AI_CONVERSATION_ID] = conversation_id
        op = Operation(AGENT, sc.OP_INVOKE_AGENT, name, {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT, sc.GEN_AI_AGENT_NAME: name,
            sc.GEN_AI_AGENT_DESCRIPTION: description, sc.AGENTKIT_AGENT_ID: id,
            sc.GEN_AI_CONVERSATION_ID: conversation_id}, inherit=inherit, target_attr=sc.GEN_AI_AGENT_NAME)
        return op

    return _factory(make, func, "name")


def workflow(func: Any = None, /, *, name: str | None = None) -> Any:
    """A workflow: an invoke_agent INTERNAL span (``invoke_agent {name}``) whose gen_ai.operation.name is
    ``invoke_workflow`` and whose name is in gen_ai.agent.name (v0.1.0); spans below it carry
    ``agentkit.workflow.name``. Under the pre-release names: span ``invoke_workflow {name}`` with
    gen_ai.workflow.name, inherited."""
    def make(name: str | None = name) -> Operation:
        return Operation(WORKFLOW, sc.OP_INVOKE_WORKFLOW, name, {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW, sc.GEN_AI_AGENT_NAME: name},
            inherit={sc.AGENTKIT_WORKFLOW_NAME: name}, target_attr=sc.GEN_AI_AGENT_NAME)

    return _factory(make, func, "name")
