"""The one recorder: every agentkit span (decorator, context manager, auto-instrumentor, after-the-fact
record) is an :class:`Invocation`, so a span looks the same whichever way it was made.

Hot-path rules: start attributes go into ``start_span`` in one dict; end attributes in one
``set_attributes``; metrics are handed to :class:`~.metrics.GenAIMetrics` as one tuple. Every step after the
span exists is wrapped so that an SDK fault is reported and the caller's work goes on.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import diagnostics, semconv as sc
from . import bounds, responses
from .content import MASK, is_secret_key, mask_secrets
from .context import AGENT_RUN_KEY, CURRENT_KEY, INHERITED_KEY
from .kinds import INFERENCE, WORKFLOW, Kind
from .metrics import Ended

if TYPE_CHECKING:
    from .telemetry import Telemetry

# record() keywords that are span attributes as they are.
_RECORD_ATTRS = {
    "prompt_name": sc.GEN_AI_PROMPT_NAME,
    "prompt_format": sc.AGENTKIT_PROMPT_FORMAT,
    "retries": sc.AGENTKIT_RETRIES,
    "parse_success": sc.AGENTKIT_PARSE_SUCCESS,
    "validation_success": sc.AGENTKIT_VALIDATION_SUCCESS,
    "conversation_id": sc.GEN_AI_CONVERSATION_ID,
    "stage": sc.AGENTKIT_STAGE,
    "tier": sc.AGENTKIT_TIER,
}
# Request keywords that are GenAI attributes under one name: record() / record_llm_call() map them, and
# agentkit.llm(...) reads them first (decorators.llm adds the parameters only it knows, and value checks).
# Only names that mean a request parameter and nothing else: "n", "stop" or "text" given to record() stay
# agentkit.n / agentkit.stop / agentkit.text.
REQUEST_ATTRS = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "top_k": sc.GEN_AI_REQUEST_TOP_K,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,  # OpenAI Chat Completions
    "max_output_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,  # OpenAI Responses
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "stop_sequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "choice_count": sc.GEN_AI_REQUEST_CHOICE_COUNT,
    "stream": sc.GEN_AI_REQUEST_STREAM,
}


# Counts kept as fields (the span attribute is written from the field at the end), by field and by the
# attribute name a user may also give to record().
_COUNT_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
                 "embedding_dimensions")
_COUNT_ATTRS = {
    sc.GEN_AI_USAGE_INPUT_TOKENS: "input_tokens",
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: "output_tokens",
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: "cache_read_tokens",
    sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: "cache_write_tokens",
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: "reasoning_tokens",
    sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: "embedding_dimensions",
}
_MAX_COUNT = bounds.MAX_COUNT

# v0.1.0 name -> the pre-release name it replaced (written instead under semconv=pre-release, as well under
# both). Callers always speak v0.1.0; the translation happens once, here.
_PRE_RENAMES = (
    (sc.AGENTKIT_WORKFLOW_NAME, sc.GEN_AI_WORKFLOW_NAME),
    (sc.AGENTKIT_AGENT_NAME, sc.GEN_AI_AGENT_NAME),
    (sc.GEN_AI_PROMPT_NAME, sc.AGENTKIT_PROMPT_NAME),
    (sc.AGENTKIT_AGENT_ID, sc.GEN_AI_AGENT_ID),
)
_TOP_K = sc.GEN_AI_REQUEST_TOP_K
_CHOICES = sc.GEN_AI_REQUEST_CHOICE_COUNT


def to_pre_release(attrs: Mapping[str, Any], workflow: bool, keep_new: bool) -> dict[str, Any]:
    """``attrs`` with the pre-release names (a workflow's name in gen_ai.workflow.name, the inherited agent
    name in gen_ai.agent.name, ...); ``keep_new`` keeps the v0.1.0 names too (semconv=both). A name the
    span sets itself wins over an inherited one."""
    out = dict(attrs)
    if workflow:
        name = out.get(sc.GEN_AI_AGENT_NAME) if keep_new else out.pop(sc.GEN_AI_AGENT_NAME, None)
        if name is not None:
            out[sc.GEN_AI_WORKFLOW_NAME] = name
    for new, old in _PRE_RENAMES:
        if new in out:
            value = out[new] if keep_new else out.pop(new)
            out.setdefault(old, value)
    return out


def v010_request(attrs: dict[str, Any]) -> dict[str, Any]:
    """v0.1.0 request attribute rules: gen_ai.request.top_k is an int; gen_ai.request.choice.count only
    when it is not 1. Returns ``attrs`` itself when nothing changes (the common case), else a copy."""
    top_k = attrs.get(_TOP_K)
    drop_choices = attrs.get(_CHOICES) == 1
    if (top_k is None or type(top_k) is int) and not drop_choices:
        return attrs
    out = dict(attrs)
    if drop_choices:
        del out[_CHOICES]
    if top_k is not None and type(top_k) is not int:
        try:
            out[_TOP_K] = int(round(float(top_k)))
            if isinstance(top_k, bool):
                raise ValueError(top_k)
        except (TypeError, ValueError, OverflowError):
            del out[_TOP_K]
    return out


def error_type(exc: BaseException) -> str:
    """The exception's fully qualified type name (builtins without a module), as error.type wants."""
    cls = type(exc)
    module = cls.__module__
    return f"{module}.{cls.__qualname__}" if module and module != "builtins" else cls.__qualname__


class Invocation:
    """One operation being recorded: its span, what it learned, and its end.

    Users meet it as the handle from ``with agentkit.llm(...) as call`` or ``agentkit.current_call()``.
    """

    __slots__ = (
        "_tel", "category", "operation", "name", "kind", "attributes", "span", "context", "_t0", "_first_chunk",
        "_last_chunk", "_intervals", "_chunks", "_ended", "token", "response_model", "response_id",
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
        "finish_reasons", "input_messages", "output_messages", "system_instructions", "tool_definitions",
        "embedding_dimensions", "_extra", "_error_type", "_cost_usd", "_nested", "owner", "_run", "_calls",
    )

    def __init__(self, tel: Telemetry, category: Kind, operation: str, name: str, kind: SpanKind,
                 attributes: dict[str, Any]) -> None:
        self._tel = tel
        self.category = category
        self.operation = operation
        self.name = name
        self.kind = kind
        self.attributes = attributes
        self.span: trace.Span | None = None
        self.context: otel_context.Context | None = None
        self._t0 = 0.0
        self._first_chunk: float | None = None
        self._last_chunk = 0.0
        self._intervals: list[float] | None = None
        self._chunks = 0
        self._ended = False
        self.token: object = None  # the context token of the ``with`` block that made it current
        self.response_model = self.response_id = None
        self.input_tokens = self.output_tokens = None
        self.cache_read_tokens = self.cache_write_tokens = self.reasoning_tokens = None
        self.finish_reasons = None
        self.input_messages = self.output_messages = self.system_instructions = self.tool_definitions = None
        self.embedding_dimensions = None
        self._extra: dict[str, Any] | None = None
        self._error_type: str | None = None
        self._cost_usd: float | None = None
        self._nested = False
        self.owner: object = None  # the Operation whose ``with`` block started it
        self._run: Invocation | None = None  # the enclosing agent / workflow run, which counts this call
        self._calls: list[int] | None = None  # an agent / workflow run: [inference calls, tool calls] below it

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self, parent: otel_context.Context | None = None, start_time_ns: int | None = None,
              inherit: Mapping[str, Any] | None = None, values: Mapping[str, Any] | None = None) -> Invocation:
        """Start the span under ``parent`` (the current context by default); ``inherit`` adds attributes
        that spans below this one inherit (workflow and agent names), ``values`` other context values."""
        ctx = otel_context.get_current() if parent is None else parent
        base = ctx.get(INHERITED_KEY)
        if base:
            attrs = {**base, **self.attributes}
            self._nested = sc.AGENTKIT_AGENT_NAME in base or sc.AGENTKIT_WORKFLOW_NAME in base
        else:
            attrs = self.attributes
        tel = self._tel
        cat = self.category
        if tel.new:
            attrs = v010_request(attrs)
        if tel.old:
            attrs = to_pre_release(attrs, cat is WORKFLOW, tel.new)
        run = ctx.get(AGENT_RUN_KEY)
        if run is not None:
            self._run = run
        limit = tel.value_limit
        attrs = self.attributes = bounds.bounded(attrs, limit)  # type: ignore[assignment]
        if len(self.name) > limit:
            self.name = bounds.clip(self.name, limit)
        span = self._tel.tracer.start_span(self.name, ctx, self.kind, attributes=attrs, start_time=start_time_ns)
        self.span = span
        entries = dict(trace.set_span_in_context(span, ctx))
        entries[CURRENT_KEY] = self
        if cat.run:
            self._calls = [0, 0]
            entries[AGENT_RUN_KEY] = self
        if inherit:
            entries[INHERITED_KEY] = {**base, **inherit} if base else inherit
        if values:
            entries.update(values)
        self.context = otel_context.Context(entries)
        self._t0 = time.perf_counter()
        return self

    def activate(self) -> object:
        """Make this invocation's span current; returns the token for ``opentelemetry.context.detach``."""
        return otel_context.attach(self.context)  # type: ignore[arg-type]

    # --- what the call learned ---------------------------------------------------------------------------
    def record(self, *, response_model: str | None = None, response_id: str | None = None,
               input_tokens: int | None = None, output_tokens: int | None = None,
               cache_read_tokens: int | None = None, cache_write_tokens: int | None = None,
               reasoning_tokens: int | None = None, finish_reasons: Iterable[str] | None = None,
               input_messages: Any = None, output_messages: Any = None, system_instructions: Any = None,
               tool_definitions: Any = None, embedding_dimensions: int | None = None, response: Any = None,
               **attributes: Any) -> None:
        """Record what the call returned. ``input_tokens`` includes cached tokens. ``response`` may be an
        OpenAI or Anthropic response (or a dict shaped like one) to read all of it from. Other keywords
        (prompt_format, retries, parse_success, validation_success, prompt_name, or any name) become span
        attributes. Never raises: a bad value is reported and skipped."""
        try:
            if response is not None:
                self.observe_response(response)
            if response_model is not None:
                self.response_model = str(response_model)
            if response_id is not None:
                self.response_id = str(response_id)
            for field, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens),
                                 ("cache_read_tokens", cache_read_tokens), ("cache_write_tokens", cache_write_tokens),
                                 ("reasoning_tokens", reasoning_tokens),
                                 ("embedding_dimensions", embedding_dimensions)):
                if value is not None:  # a value outside the bounds is reported and left out, the rest kept
                    checked = bounds.count(field, value, "call.record")
                    if checked is not None:
                        setattr(self, field, checked)
            if finish_reasons is not None:
                self.finish_reasons = [finish_reasons] if isinstance(finish_reasons, str) else [
                    str(r) for r in finish_reasons]
            if input_messages is not None:
                self.input_messages = input_messages
            if output_messages is not None:
                self.output_messages = output_messages
            if system_instructions is not None:
                self.system_instructions = system_instructions
            if tool_definitions is not None:
                self.tool_definitions = tool_definitions
            if attributes:
                self.set_attributes(attributes)
        except Exception as exc:
            diagnostics.report("call.record", exc)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Extra span attributes; short names get the ``agentkit.`` prefix, strings are secret-masked."""
        extra = self._extra if self._extra is not None else {}
        for key, value in attributes.items():
            if value is None:
                continue
            name = _RECORD_ATTRS.get(key) or REQUEST_ATTRS.get(key) or (
                key if "." in key else sc.AGENTKIT_PREFIX + key)
            field = _COUNT_ATTRS.get(name)
            if field is not None:  # a usage attribute by its name: the same field, the same bounds
                checked = bounds.count(name, value, "call.record")
                if checked is not None:
                    setattr(self, field, checked)
                continue
            if name == sc.AGENTKIT_COST_USD:
                value = bounds.cost(name, value, "call.record")
                if value is None:
                    continue
            if is_secret_key(key) or is_secret_key(name.rsplit(".", 1)[-1]):
                value = MASK
            extra[name] = mask_secrets(value) if isinstance(value, str) else value
        self._extra = extra

    def put(self, attributes: Mapping[str, Any]) -> None:
        """Span attributes the SDK derived itself (full names, values read from a response's structure, not
        its text): set as they are, without the name mapping and secret masking of set_attributes."""
        if self._extra is None:
            self._extra = dict(attributes)
        else:
            self._extra.update(attributes)

    def observe_response(self, obj: Any) -> None:
        """Fill what is not yet known from a provider response or a dict shaped like one."""
        p = responses.parse(obj, want_content=self._tel.capturing)
        # Field by field rather than through as_record(): this runs once per call of every instrumented client.
        if self.response_id is None:
            self.response_id = p.response_id
        if self.response_model is None:
            self.response_model = p.response_model
        if self.input_tokens is None:
            self.input_tokens = p.input_tokens
        if self.output_tokens is None:
            self.output_tokens = p.output_tokens
        if self.cache_read_tokens is None:
            self.cache_read_tokens = p.cache_read_tokens
        if self.cache_write_tokens is None:
            self.cache_write_tokens = p.cache_write_tokens
        if self.reasoning_tokens is None:
            self.reasoning_tokens = p.reasoning_tokens
        if self.finish_reasons is None:
            self.finish_reasons = p.finish_reasons
        if self.output_messages is None:
            self.output_messages = p.output_messages
        if self.embedding_dimensions is None:
            self.embedding_dimensions = p.embedding_dimensions

    def observe_chunk(self, chunk: Any) -> None:
        """A streamed item arrived: time to first chunk, intervals, and usage if the chunk carries it."""
        now = time.perf_counter()
        if self._first_chunk is None:
            self._first_chunk = now - self._t0
            self._intervals = []
        else:
            self._intervals.append(now - self._last_chunk)  # type: ignore[union-attr]
        self._last_chunk = now
        self._chunks += 1
        if chunk is not None and not isinstance(chunk, (str, bytes)) and responses.has_usage(chunk):
            parsed = responses.parse(chunk)
            for field, value in parsed.as_record().items():
                if value is not None and field != "output_messages":
                    setattr(self, field, value)  # later chunks carry the final figures

    def set_time_to_first_chunk(self, seconds: float) -> None:
        """For calls recorded afterwards: the measured time to the first streamed chunk."""
        self._first_chunk = seconds
        self._chunks = max(self._chunks, 1)

    def set_error_type(self, name: str) -> None:
        """Mark the call failed with an error type known only by name (no exception object)."""
        self._error_type = name

    # --- end ---------------------------------------------------------------------------------------------
    def end(self, exc: BaseException | None = None, end_time_ns: int | None = None,
            duration_s: float | None = None) -> None:
        """End the span once (later calls do nothing), set what was learned, hand over the metrics."""
        if self._ended or self.span is None:
            return
        self._ended = True
        span = self.span
        duration = time.perf_counter() - self._t0 if duration_s is None else duration_s
        try:
            self._check_counts()
            final = self._end_attributes()
            if exc is not None:
                self._error_type = error_type(exc)
                span.set_status(Status(StatusCode.ERROR, mask_secrets(_safe_str(exc))[:1024]))
                _record_exception(self, span, exc, self._tel.value_limit)
            elif self._error_type is not None:
                span.set_status(Status(StatusCode.ERROR, self._error_type))
            if self._error_type is not None:
                final[sc.ERROR_TYPE] = self._error_type
            if final:
                span.set_attributes(bounds.bounded(final, self._tel.value_limit))
        except Exception as sdk_exc:
            diagnostics.report("invocation.end", sdk_exc)
        try:
            span.end(end_time_ns)
        except Exception as sdk_exc:
            diagnostics.report("span.end", sdk_exc)
        try:
            cost = self._cost_usd
            cat = self.category
            run = self._run
            if run is not None:  # count this call in the enclosing agent run (a nested run: all its calls)
                counts = run._calls
                slot = cat.counted_as
                if slot is not None:
                    counts[slot] += 1  # type: ignore[index]
                elif self._calls is not None:
                    counts[0] += self._calls[0]  # type: ignore[index]
                    counts[1] += self._calls[1]  # type: ignore[index]
            self._tel.metrics.enqueue(tuple.__new__(Ended, (  # positional, without NamedTuple's Python __new__
                cat, duration, self.attributes, self._error_type, self.response_model, self._nested,
                self.input_tokens, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens,
                self.reasoning_tokens, cost, self._model() if cost is not None else None,
                self._first_chunk, self._intervals, self._calls)))
        except Exception as sdk_exc:
            diagnostics.report("invocation.metrics", sdk_exc)
        # The context holds this invocation (current_call() finds it there): let go of it, so that the two
        # are freed when the call's last reference goes, not left to the cyclic garbage collector.
        self.context = None

    def _check_counts(self) -> None:
        """Refuse counts outside any real range, whichever way they came (record, a response, a stream
        chunk): reported, and the call recorded without them."""
        for field in _COUNT_FIELDS:
            value = getattr(self, field)
            if value is not None and not (type(value) is int and 0 <= value <= _MAX_COUNT):
                setattr(self, field, bounds.count(field, value, "response.usage"))

    def _end_attributes(self) -> dict[str, Any]:
        final: dict[str, Any] = {}
        if self.category.reports_usage:
            if self.response_model is not None:
                final[sc.GEN_AI_RESPONSE_MODEL] = self.response_model
            if self.response_id is not None:
                final[sc.GEN_AI_RESPONSE_ID] = self.response_id
            if self.finish_reasons:
                final[sc.GEN_AI_RESPONSE_FINISH_REASONS] = self.finish_reasons
            for attr, value in ((sc.GEN_AI_USAGE_INPUT_TOKENS, self.input_tokens),
                                (sc.GEN_AI_USAGE_OUTPUT_TOKENS, self.output_tokens),
                                (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, self.cache_read_tokens),
                                (sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, self.cache_write_tokens),
                                (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, self.reasoning_tokens),
                                (sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, self.embedding_dimensions)):
                if value is not None:
                    final[attr] = value
            if self._first_chunk is not None:
                final[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self._first_chunk
                final[sc.AGENTKIT_STREAM_CHUNKS] = self._chunks
            self._cost_usd = cost = self._cost()
            if cost is not None:
                final[sc.AGENTKIT_COST_USD] = cost
            if self._tel.sampling_ratio is not None:
                final[sc.AGENTKIT_SAMPLING_RATIO] = self._tel.sampling_ratio
            if self._tel.capturing:
                self._tel.content_attributes(self, final)
        if self._extra:
            extra = self._extra
            tel = self._tel
            if tel.new:
                extra = v010_request(extra)
            if tel.old:
                extra = to_pre_release(extra, False, tel.new)
            final.update(extra)
        return final

    def _model(self) -> str | None:
        return self.response_model or self.attributes.get(sc.GEN_AI_REQUEST_MODEL)

    def _cost(self) -> float | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        cost = self._tel.pricing.cost(self._model(), self.input_tokens or 0, self.output_tokens or 0,
                                      self.cache_read_tokens or 0, self.cache_write_tokens or 0)
        if cost is not None and not 0 <= cost <= bounds.MAX_COST_USD:  # a price table gone wrong
            return bounds.cost(sc.AGENTKIT_COST_USD, cost, "pricing.cost")
        return cost


def _record_exception(inv: Invocation, span: trace.Span, exc: BaseException, limit: int) -> None:
    """The span's exception event (as Span.record_exception makes it), with secrets masked in the message
    and the stack trace, values within the length limit, and built here because record_exception calls
    str() on the exception unguarded. A failed inference also gets v0.1.0's gen_ai.client.inference.exception
    log event."""
    stack = mask_secrets("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    attrs = bounds.bounded({"exception.type": error_type(exc), "exception.message": mask_secrets(_safe_str(exc)),
                            "exception.stacktrace": stack, "exception.escaped": "True"}, limit)
    span.add_event(sc.EVENT_SPAN_EXCEPTION, attrs)
    tel = inv._tel
    if tel.new and inv.category is INFERENCE:
        tel.exception_event(inv, exc, attrs["exception.type"], attrs["exception.message"],
                            attrs["exception.stacktrace"])


def _safe_str(exc: BaseException) -> str:
    """str(exc), or a placeholder when the exception's own __str__ fails (it must not cost the record)."""
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__qualname__}: str() failed>"


class NoOpCall:
    """What ``current_call()`` returns outside any agentkit span, or when the SDK is off: accepts and drops."""

    span = trace.INVALID_SPAN

    def record(self, **kwargs: Any) -> None:
        return None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        return None

    def put(self, attributes: Mapping[str, Any]) -> None:
        return None

    def observe_response(self, obj: Any) -> None:
        return None

    def observe_chunk(self, chunk: Any) -> None:
        return None


NOOP_CALL = NoOpCall()
