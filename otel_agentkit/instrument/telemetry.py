"""What the recorder needs at run time (tracer, instruments, pricing, content policy), and which one is
active. Entry points read ``telemetry.active`` once per call: None means off (before init, after
shutdown, or OTEL_SDK_DISABLED), and then they run the user's function and nothing else.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import Tracer

from .. import diagnostics, semconv as sc
from ..config import ContentCapture, Settings
from . import bounds
from .content import ContentPolicy, system_instructions, to_messages
from .metrics import GenAIMetrics
from .pricing import Pricing
from .sampling import sampling_ratio

if TYPE_CHECKING:
    from opentelemetry._logs import Logger

    from .invocation import Invocation


class Telemetry:
    """The recorder's collaborators, built by ``init()`` (or by an instrumentor given providers)."""

    def __init__(self, settings: Settings, tracer: Tracer, meter: Meter, logger: Logger | None = None,
                 pricing: Pricing | None = None) -> None:
        self.settings = settings
        self.tracer = tracer
        self.capture: ContentCapture = settings.capture_content
        self.capturing = self.capture is not ContentCapture.NO_CONTENT  # content goes to a span or an event
        # Every attribute value this package sets stays within this length (see bounds); content within
        # it too, cut by the content policy so that it stays valid JSON.
        self.value_limit = bounds.value_length_limit(settings.attribute_value_length_limit,
                                                     settings.content_max_length)
        self.content = ContentPolicy(min(settings.content_max_length, self.value_limit), settings.redact)
        self.pricing = pricing if pricing is not None else Pricing(settings.pricing)
        # Which names are emitted: v0.1.0 (``new``), the pre-release set (``old``), or both at once.
        self.semconv = settings.semconv
        self.new = settings.semconv != sc.SEMCONV_PRE_RELEASE
        self.old = settings.semconv != sc.SEMCONV_V010
        self.metrics = GenAIMetrics(meter, legacy=settings.legacy_metrics, semconv=settings.semconv)
        self.logger = logger
        # Below 1 under a ratio sampler: stamped on inference spans so span totals can be scaled and
        # labelled as estimates (see sampling.py); None when every call is kept.
        self.sampling_ratio = sampling_ratio(tracer)
        meter.create_observable_counter(sc.METRIC_SDK_UNPRICED_CALLS, callbacks=[self._collect_unpriced],
                                        description="LLM calls whose model is not in the pricing table")

    def _collect_unpriced(self, options: CallbackOptions) -> Iterable[Observation]:
        for model, n in list(self.pricing.unpriced.items()):
            yield Observation(n, {sc.COST_ATTR_MODEL: model})

    def content_attributes(self, inv: Invocation, final: dict[str, Any]) -> None:
        """Add opt-in content to the span attributes and/or emit it as the inference details event."""
        rendered: dict[str, str] = {}
        for attr, value, convert in (
            (sc.GEN_AI_INPUT_MESSAGES, inv.input_messages, to_messages),
            (sc.GEN_AI_OUTPUT_MESSAGES, inv.output_messages, to_messages),
            (sc.GEN_AI_SYSTEM_INSTRUCTIONS, inv.system_instructions, system_instructions),
            (sc.GEN_AI_TOOL_DEFINITIONS, inv.tool_definitions, _as_list),
        ):
            if value is None:
                continue
            text = self.content.render(convert(value), attr)
            if text is not None:
                rendered[attr] = text
        if not rendered:
            return
        if self.capture.on_span:
            final.update(rendered)
        if self.capture.on_event and self.logger is not None:
            attrs = {k: inv.attributes[k] for k in (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME,
                                                    sc.GEN_AI_REQUEST_MODEL) if k in inv.attributes}
            if self.new:  # v0.1.0: structured values (maps and lists) on the event; JSON strings on spans
                for attr, text in rendered.items():
                    try:
                        attrs[attr] = json.loads(text)
                    except ValueError:
                        attrs[attr] = text
            else:
                attrs.update(rendered)
            try:
                self.logger.emit(event_name=sc.EVENT_INFERENCE_DETAILS, attributes=attrs, context=inv.context)
            except Exception as exc:
                diagnostics.report("content.event", exc)

    def exception_event(self, inv: Invocation, exc: BaseException, error_type: str, message: str,
                        stacktrace: str) -> None:
        """v0.1.0's gen_ai.client.inference.exception log event (severity WARN), for a failed inference."""
        if self.logger is None:
            return
        attrs = {k: inv.attributes[k] for k in (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_PROVIDER_NAME,
                                                sc.GEN_AI_REQUEST_MODEL) if k in inv.attributes}
        attrs.update({sc.ERROR_TYPE: error_type, "exception.type": error_type, "exception.message": message,
                      "exception.stacktrace": stacktrace})
        try:
            from opentelemetry._logs import SeverityNumber

            self.logger.emit(event_name=sc.EVENT_INFERENCE_EXCEPTION, attributes=attrs, context=inv.context,
                             severity_number=SeverityNumber.WARN, severity_text="WARN")
        except Exception as sdk_exc:
            diagnostics.report("exception.event", sdk_exc)

    def shutdown(self) -> None:
        self.metrics.shutdown()


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


active: Telemetry | None = None  # read directly by the entry points (an attribute read per call)


def get_active() -> Telemetry | None:
    return active


def set_active(tel: Telemetry | None) -> None:
    global active
    active = tel


_ensure_lock = threading.Lock()


def ensure_telemetry(tracer_provider: Any = None, meter_provider: Any = None,
                     logger_provider: Any = None) -> Telemetry | None:
    """The active recorder; if init() was not called, one over the given (or global) providers.

    For instrumentors started by ``opentelemetry-instrument`` without ``agentkit.init()``: the distro has
    set up the providers and exporters, so nothing is attached, only the recorder is made. Returns None
    when OTEL_SDK_DISABLED is set or the settings are invalid (reported).
    """
    with _ensure_lock:
        if active is not None:
            return active
        try:
            from opentelemetry import _logs, metrics, trace

            from ..config import load_settings
            from ..version import __version__
            from .context import configure_salt

            settings = load_settings()
            if settings.disabled:
                return None
            tp = tracer_provider or trace.get_tracer_provider()
            mp = meter_provider or metrics.get_meter_provider()
            lp = logger_provider or _logs.get_logger_provider()
            schema = sc.schema_url(settings.semconv)
            tel = Telemetry(settings,
                            tp.get_tracer(sc.SCOPE_NAME, __version__, schema_url=schema),
                            mp.get_meter(sc.SCOPE_NAME, __version__, schema_url=schema),
                            lp.get_logger(sc.SCOPE_NAME, __version__, schema_url=schema))
            configure_salt(settings.user_id_salt, settings.home)
        except Exception as exc:
            diagnostics.report("ensure_telemetry", exc)
            return None
        set_active(tel)
        return tel
