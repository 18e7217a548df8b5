"""GenAI metric instruments, recorded off the caller's thread.

Recording two or more histogram points costs more than the span itself on the caller's thread (about 10 us
a point with six attributes, measured with the OTel Python SDK 1.45). So the recorder only appends one
tuple to a deque; a worker thread, every metric collection (through an observable instrument's callback,
which the SDK runs just before it reads the histograms) and every flush turn the tuples into measurements.
Nothing is lost to the delay: a collection always sees every call that ended before it began.

The worker shares the GIL with the application. Draining a second's worth of calls in one go would hold
the GIL for tens of milliseconds, and an application thread whose socket read has returned then waits for
it (up to the 5 ms switch interval at a time). So while the queue is short the worker records one call
and sleeps a moment, which leaves the GIL free whenever the application wants it, and most of the work
falls into the application's own waits on I/O; a backlog (a tight loop of calls) is drained at full speed.
Costs and the gen_ai.client.inference.usage.* token counters are summed per attribute set and added to
their counters once per drain: a sum is the same however it is added up.

Which instruments exist follows the ``semconv`` setting: v0.1.0 (default), the pre-release set (the names
emitted before it: gen_ai.invocation.duration with gen_ai.invocation.is_nested, gen_ai.client.token.usage,
gen_ai.client.operation.duration for inference, embeddings in the inference metrics), or both.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any, Iterable, NamedTuple

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .. import diagnostics, semconv as sc
from . import bounds
from .kinds import KINDS, Kind

MAX_PENDING = 20_000  # beyond this the caller records its own measurements: memory stays bounded, nothing dropped
WAKE_AT = 2048  # wake the worker early when this many are waiting, and drain them without pausing
PAUSE_S = 0.0001  # the worker's pause between calls while the queue is short


class Ended(NamedTuple):
    """One ended operation, as the recorder hands it over: only what its measurements are made of (not the
    invocation, whose span would then live on in the queue, and age into the collector's oldest
    generation, until the worker got to it)."""

    category: Kind
    duration: float
    attributes: dict[str, Any]  # the span's start attributes (the metric attributes are picked from them)
    error_type: str | None
    response_model: str | None
    nested: bool
    input_tokens: int | None  # None: not reported
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost: float | None
    cost_model: str | None
    time_to_first_chunk: float | None
    chunk_intervals: list[float] | None
    calls: list[int] | None  # an agent / workflow run: [inference calls, tool calls] made below it


class GenAIMetrics:
    """The instruments, and the queue between the caller's thread and them."""

    def __init__(self, meter: Meter, legacy: bool = False, semconv: str = sc.SEMCONV_V010) -> None:
        d, t = list(sc.DURATION_BUCKETS), list(sc.TOKEN_BUCKETS)
        hist = meter.create_histogram
        counter = meter.create_counter
        self.new = new = semconv != sc.SEMCONV_PRE_RELEASE
        self.old = old = semconv != sc.SEMCONV_V010
        self.inference_duration = hist(sc.METRIC_INFERENCE_DURATION, unit=sc.UNIT_SECONDS,
                                       description="GenAI inference duration",
                                       explicit_bucket_boundaries_advisory=d)
        self.ttfc = hist(sc.METRIC_TIME_TO_FIRST_CHUNK, unit=sc.UNIT_SECONDS,
                         description="Time to the first chunk of a streamed response",
                         explicit_bucket_boundaries_advisory=d)
        self.time_per_chunk = hist(sc.METRIC_TIME_PER_OUTPUT_CHUNK, unit=sc.UNIT_SECONDS,
                                   description="Time between output chunks after the first",
                                   explicit_bucket_boundaries_advisory=d)
        self.input_tokens = hist(sc.METRIC_INPUT_TOKENS, unit=sc.UNIT_TOKENS, description="Input tokens per call",
                                 explicit_bucket_boundaries_advisory=t)
        self.output_tokens = hist(sc.METRIC_OUTPUT_TOKENS, unit=sc.UNIT_TOKENS,
                                  description="Output tokens per call", explicit_bucket_boundaries_advisory=t)
        self.tool_duration = hist(sc.METRIC_TOOL_DURATION, unit=sc.UNIT_SECONDS, description="Tool duration",
                                  explicit_bucket_boundaries_advisory=d)
        self.operation_duration = hist(sc.METRIC_OPERATION_DURATION, unit=sc.UNIT_SECONDS,
                                       description="GenAI operation duration (pre-release: retrieval, inference)",
                                       explicit_bucket_boundaries_advisory=d)
        if new:
            self.usage = {  # counters, summed per attribute set
                name: counter(name, unit=sc.UNIT_TOKENS, description=text) for name, text in (
                    (sc.METRIC_USAGE_INPUT_TOKENS, "Input tokens used (cached ones included)"),
                    (sc.METRIC_USAGE_OUTPUT_TOKENS, "Output tokens used"),
                    (sc.METRIC_USAGE_CACHE_READ_INPUT_TOKENS, "Input tokens read from the provider's cache"),
                    (sc.METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS, "Input tokens written to the provider's cache"),
                    (sc.METRIC_USAGE_REASONING_OUTPUT_TOKENS, "Output tokens spent on reasoning"))}
            self.retrieval_duration = hist(sc.METRIC_RETRIEVAL_DURATION, unit=sc.UNIT_SECONDS,
                                           description="GenAI retrieval duration",
                                           explicit_bucket_boundaries_advisory=d)
            self.embeddings_duration = hist(sc.METRIC_EMBEDDINGS_DURATION, unit=sc.UNIT_SECONDS,
                                            description="GenAI embeddings duration",
                                            explicit_bucket_boundaries_advisory=d)
            self.embeddings_tokens = hist(sc.METRIC_EMBEDDINGS_INPUT_TOKENS, unit=sc.UNIT_TOKENS,
                                          description="Input tokens per embeddings call",
                                          explicit_bucket_boundaries_advisory=t)
            self.agent_duration = hist(sc.METRIC_INVOKE_AGENT_DURATION, unit=sc.UNIT_SECONDS,
                                       description="Agent and workflow invocation duration",
                                       explicit_bucket_boundaries_advisory=list(sc.INVOCATION_BUCKETS))
            calls = list(sc.CALLS_BUCKETS)
            self.agent_inference_calls = hist(sc.METRIC_INVOKE_AGENT_INFERENCE_CALLS, unit=sc.UNIT_INFERENCE_CALLS,
                                              description="Inference calls made in one agent run",
                                              explicit_bucket_boundaries_advisory=calls)
            self.agent_tool_calls = hist(sc.METRIC_INVOKE_AGENT_TOOL_CALLS, unit=sc.UNIT_TOOL_CALLS,
                                         description="Tool calls made in one agent run",
                                         explicit_bucket_boundaries_advisory=calls)
        if old:
            self.invocation_duration = hist(sc.METRIC_INVOCATION_DURATION, unit=sc.UNIT_SECONDS,
                                            description="Agent and workflow duration (pre-release)",
                                            explicit_bucket_boundaries_advisory=list(sc.INVOCATION_BUCKETS))
        self.cost = counter(sc.METRIC_COST, unit=sc.UNIT_USD, description="Cost of LLM calls")
        self._measures = {kind: getattr(self, kind.measure) for kind in KINDS}  # Kind.measure, bound once
        # The pre-release duplicates of the inference metrics: with the pre-release set, or legacy_metrics.
        self.legacy = legacy = legacy or old
        if legacy:
            self.legacy_duration = self.operation_duration  # the same name, for inference too
            self.legacy_tokens = hist(sc.METRIC_LEGACY_TOKEN_USAGE, unit=sc.UNIT_TOKENS,
                                      description="Tokens used (older convention)",
                                      explicit_bucket_boundaries_advisory=t)
        meter.create_observable_gauge(sc.METRIC_SDK_PENDING_MEASUREMENTS, callbacks=[self._collect_pending],
                                      description="Measurements waiting to be recorded (drained at collection)")
        meter.create_observable_counter(sc.METRIC_SDK_ERRORS, callbacks=[_collect_errors],
                                        description="Errors contained inside the SDK")
        meter.create_observable_counter(sc.METRIC_SDK_DROPPED, callbacks=[_collect_drops],
                                        description="Telemetry dropped on purpose (full queues, full spool)")
        meter.create_observable_counter(sc.METRIC_SDK_TRUNCATED_ATTRIBUTES, callbacks=[_collect_truncations],
                                        description="Span attribute values cut to the length limit")
        # How often the worker drains while calls come (often enough that what waits dies young, before the
        # garbage collector's scans promote it), and while none have come for a while.
        self.interval_s = 0.05
        self.idle_interval_s = 1.0
        self.wake_at = WAKE_AT
        self.pause_s = PAUSE_S
        # (counter, attribute items) -> [counter, attributes, sum] not yet added
        self._costs: dict[tuple[Any, ...], list[Any]] = {}
        self._costs_lock = threading.Lock()
        self._inflight = threading.Lock()  # held while a call taken from the queue is being recorded
        self._queue: deque[Ended] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    # --- caller's thread: cheap ---------------------------------------------------------------------------
    def enqueue(self, item: Ended) -> None:
        """Hand over an ended operation; it is measured later, off the caller's thread."""
        queue = self._queue
        if len(queue) >= MAX_PENDING:  # the worker is behind (a tight loop): back-pressure, not loss
            self._record_contained(item)
            return
        queue.append(item)
        if self._thread is None:
            self._start_worker()
        elif len(queue) >= self.wake_at:
            self._wake.set()

    # --- off the caller's thread ---------------------------------------------------------------------------
    def drain(self) -> int:
        """Record everything queued; returns how many operations were recorded. Waits for the call the
        worker may be recording, so that a collection that drains sees it too."""
        n = 0
        with self._inflight:
            while self._record_next():
                n += 1
        self._add_costs()
        return n

    def _drain_paced(self) -> bool:
        """The worker's drain: one call at a time with a pause between, or all at once past ``wake_at``.
        True when there was something to record."""
        queue, pause, inflight = self._queue, self.pause_s, self._inflight
        busy = False
        while not self._stopping:
            if len(queue) >= self.wake_at:
                self.drain()
                busy = True
                continue
            with inflight:
                if not self._record_next():
                    break
            busy = True
            time.sleep(pause)  # releases the GIL: an application thread that wants it takes it now
        self._add_costs()
        return busy

    def _record_next(self) -> bool:
        """Record the oldest queued operation; False when there is none."""
        try:
            item = self._queue.popleft()
        except IndexError:
            return False
        self._record_contained(item)
        return True

    def _record_contained(self, item: Ended) -> None:
        try:
            self._record(item)
        except Exception as exc:
            diagnostics.report("metrics.record", exc)

    def _add_costs(self) -> None:
        with self._costs_lock:
            costs, self._costs = self._costs, {}
        for instrument, attributes, total in costs.values():
            try:
                instrument.add(total, attributes)
            except Exception as exc:
                diagnostics.report("metrics.record", exc)

    def _record(self, item: Ended) -> None:
        kind = item[0]
        attrs, error_type = item[2], item[3]
        metric = {k: attrs[k] for k in kind.metric_keys if k in attrs}
        if error_type is not None:
            metric[sc.ERROR_TYPE] = error_type
        self._measures[kind](item, metric)

    def _pre(self, item: Ended) -> dict[str, Any]:
        """The pre-release set's metric attributes of ``item``."""
        attrs, error_type = item[2], item[3]
        pre = {k: attrs[k] for k in item[0].pre_metric_keys if k in attrs}
        if error_type is not None:
            pre[sc.ERROR_TYPE] = error_type
        return pre

    # --- one method per way of measuring (Kind.measure) ----------------------------------------------------
    def _tool(self, item: Ended, metric: dict[str, Any]) -> None:
        if self.old:
            pre = self._pre(item)
            if self.new:
                pre.update(metric)
            metric = pre
        self.tool_duration.record(item.duration, metric)

    def _agent_run(self, item: Ended, metric: dict[str, Any]) -> None:
        """An agent or workflow run: its duration, and the calls made below it."""
        if self.new:
            self.agent_duration.record(item.duration, metric)
            calls = item.calls
            if calls is not None:
                named = {k: metric[k] for k in (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_AGENT_NAME) if k in metric}
                self.agent_inference_calls.record(calls[0], named)
                self.agent_tool_calls.record(calls[1], named)
        if self.old:
            pre = self._pre(item)
            pre[sc.GEN_AI_INVOCATION_IS_NESTED] = item.nested
            self.invocation_duration.record(item.duration, pre)

    def _retrieval(self, item: Ended, metric: dict[str, Any]) -> None:
        if self.new:
            self.retrieval_duration.record(item.duration, metric)
        if self.old:  # the pre-release set: the generic operation duration, with the client attributes
            self.operation_duration.record(item.duration, self._pre(item))

    def _embeddings(self, item: Ended, metric: dict[str, Any]) -> None:
        if item.response_model is not None:
            metric[sc.GEN_AI_RESPONSE_MODEL] = item.response_model
        duration, input_tokens = item.duration, item.input_tokens or 0
        legacy = self.legacy
        if legacy:
            self.legacy_duration.record(duration, metric)
        if self.new:
            self.embeddings_duration.record(duration, metric)
            self.embeddings_tokens.record(input_tokens, metric)
        if self.old:  # the pre-release set recorded embeddings into the inference metrics
            self.inference_duration.record(duration, metric)
            self.input_tokens.record(input_tokens, metric)
        if legacy:
            self.legacy_tokens.record(input_tokens, {**metric, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_INPUT})
        self._add_cost(item)

    def _inference(self, item: Ended, metric: dict[str, Any]) -> None:
        (_, duration, _, _, response_model, _, input_tokens, output_tokens, cache_read, cache_write, reasoning,
         _, _, ttfc, intervals, _) = item
        if response_model is not None:
            metric[sc.GEN_AI_RESPONSE_MODEL] = response_model
        legacy = self.legacy
        if legacy:
            self.legacy_duration.record(duration, metric)
        self.inference_duration.record(duration, metric)
        self.input_tokens.record(input_tokens or 0, metric)
        self.output_tokens.record(output_tokens or 0, metric)
        if self.new:
            self._add_usage(metric, input_tokens, output_tokens, cache_read, cache_write, reasoning)
        if legacy:
            self.legacy_tokens.record(input_tokens or 0, {**metric, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_INPUT})
            self.legacy_tokens.record(output_tokens or 0, {**metric, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_OUTPUT})
        if ttfc is not None:
            self.ttfc.record(ttfc, metric)
        for interval in intervals or ():
            self.time_per_chunk.record(interval, metric)
        self._add_cost(item)

    def _add_cost(self, item: Ended) -> None:
        cost = item.cost
        if cost is None:
            return
        attrs = item.attributes
        workflow = attrs.get(sc.AGENTKIT_WORKFLOW_NAME) or attrs.get(sc.GEN_AI_WORKFLOW_NAME)
        agent = attrs.get(sc.AGENTKIT_AGENT_NAME) or attrs.get(sc.GEN_AI_AGENT_NAME)
        self._add_sum(self.cost, cost, {key: value for key, value in (
            (sc.COST_ATTR_PROVIDER, attrs.get(sc.GEN_AI_PROVIDER_NAME)), (sc.COST_ATTR_MODEL, item.cost_model),
            (sc.COST_ATTR_WORKFLOW, workflow), (sc.COST_ATTR_AGENT, agent)) if value is not None})

    def _add_usage(self, metric: dict[str, Any], input_tokens: int | None, output_tokens: int | None,
                   cache_read: int | None, cache_write: int | None, reasoning: int | None) -> None:
        """The gen_ai.client.inference.usage.* counters (gen_ai.token.modality is required): a call that
        reported no usage adds 0 with modality ``unknown``; reported counts are text (the providers
        instrumented here report no per-modality split)."""
        usage = self.usage
        if input_tokens is None and output_tokens is None:
            attrs = {**metric, sc.GEN_AI_TOKEN_MODALITY: sc.MODALITY_UNKNOWN}
            self._add_sum(usage[sc.METRIC_USAGE_INPUT_TOKENS], 0, attrs)
            self._add_sum(usage[sc.METRIC_USAGE_OUTPUT_TOKENS], 0, attrs)
            return
        attrs = {**metric, sc.GEN_AI_TOKEN_MODALITY: sc.MODALITY_TEXT}
        for name, value in ((sc.METRIC_USAGE_INPUT_TOKENS, input_tokens),
                            (sc.METRIC_USAGE_OUTPUT_TOKENS, output_tokens),
                            (sc.METRIC_USAGE_CACHE_READ_INPUT_TOKENS, cache_read),
                            (sc.METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS, cache_write),
                            (sc.METRIC_USAGE_REASONING_OUTPUT_TOKENS, reasoning)):
            if value is not None:
                self._add_sum(usage[name], value, attrs)

    def _add_sum(self, instrument: Any, value: float, attributes: dict[str, Any]) -> None:
        """Summed per (counter, attribute set), added to the counter at the end of the drain."""
        try:
            key = (id(instrument), *attributes.items())  # built in one order by the callers
            with self._costs_lock:
                entry = self._costs.get(key)
                if entry is None:
                    self._costs[key] = [instrument, attributes, value]
                else:
                    entry[2] += value
        except TypeError:  # an unhashable attribute value (a list): added on its own
            instrument.add(value, attributes)

    def _collect_pending(self, options: CallbackOptions) -> Iterable[Observation]:
        self.drain()  # runs before the SDK reads the histograms, so the collection is complete
        yield Observation(len(self._queue))

    def _start_worker(self) -> None:
        with self._thread_lock:
            if self._thread is not None or self._stopping:
                return
            thread = threading.Thread(target=self._run, name="agentkit-metrics", daemon=True)
            self._thread = thread
            thread.start()

    def _run(self) -> None:
        busy = False
        while not self._stopping:
            self._wake.wait(self.interval_s if busy else max(self.interval_s, self.idle_interval_s))
            self._wake.clear()
            busy = self._drain_paced()

    def _after_fork(self) -> None:
        # The parent's worker does not exist here, and its queued items belong to the parent.
        self._queue.clear()
        self._costs = {}
        self._costs_lock = threading.Lock()
        self._inflight = threading.Lock()
        self._thread = None
        self._thread_lock = threading.Lock()

    def shutdown(self) -> None:
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.drain()


def _collect_errors(options: CallbackOptions) -> Iterable[Observation]:
    for (where, kind), n in diagnostics.error_counts().items():
        yield Observation(n, {"where": where, "error.type": kind})


def _collect_drops(options: CallbackOptions) -> Iterable[Observation]:
    for what, n in diagnostics.drop_counts().items():
        yield Observation(n, {"what": what})


def _collect_truncations(options: CallbackOptions) -> Iterable[Observation]:
    for attribute, n in bounds.truncation_counts().items():
        yield Observation(n, {"attribute": attribute})
