"""openlit against ours: @openlit.trace, and openlit.start_trace where the decorator cannot be used.

openlit reuses OpenTelemetry providers that are already set, which is how it is pointed at a discarding
exporter here: a TracerProvider with a BatchSpanProcessor over a discarding exporter, a MeterProvider with
an in-memory reader and a LoggerProvider are set globally before openlit.init(). No otlp_endpoint, GPU
stats off, every library instrumentor disabled (nothing here calls an LLM library), message content off,
and pricing_json pointed at a local file (its default downloads the pricing table from GitHub at init).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def build() -> harness.PeerSetup:
    from opentelemetry import _logs, metrics, trace
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from otel_agentkit import semconv as sc

    provider, exporter = harness.new_provider()
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    _logs.set_logger_provider(LoggerProvider())

    import openlit
    from openlit._instrumentors import MODULE_NAME_MAP

    pricing = os.path.join(tempfile.mkdtemp(prefix="bench-openlit-"), "pricing.json")
    with open(pricing, "w") as f:
        json.dump({}, f)
    openlit.init(service_name="bench", environment="bench", disable_batch=False, capture_message_content=False,
                 disabled_instrumentors=list(MODULE_NAME_MAP), collect_gpu_stats=False, pricing_json=pricing)
    llm = harness.LLM
    attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: llm["provider"],
             sc.GEN_AI_REQUEST_MODEL: llm["model"], sc.GEN_AI_RESPONSE_MODEL: llm["model"],
             sc.GEN_AI_RESPONSE_ID: llm["response_id"], sc.GEN_AI_USAGE_INPUT_TOKENS: llm["input_tokens"],
             sc.GEN_AI_USAGE_OUTPUT_TOKENS: llm["output_tokens"]}
    current = trace.get_current_span

    @openlit.trace
    def noop() -> None:
        return None

    async def anoop() -> None:  # @openlit.trace is sync-only: on a coroutine the span ends before it runs
        with openlit.start_trace("noop"):
            return None

    @openlit.trace
    def chat() -> None:
        current().set_attributes(attrs)

    async def achat() -> None:
        with openlit.start_trace("chat gpt-4o") as span:
            span.set_metadata(attrs)

    return harness.PeerSetup(
        name="openlit", packages=["openlit"],
        cases={"workflow_sync": noop, "workflow_async": anoop, "tool_sync": noop, "llm_sync": chat,
               "llm_async": achat},
        flush=provider.force_flush, exported=lambda: exporter.count,
        how={"workflow_sync": "@openlit.trace", "workflow_async": "with openlit.start_trace(name) inside async def "
             "(@openlit.trace does not support coroutines: it ends the span before the coroutine runs)",
             "tool_sync": "@openlit.trace (no tool/workflow distinction)",
             "llm_sync": "@openlit.trace + trace.get_current_span().set_attributes(gen_ai.*: model, response id, "
                         "tokens)",
             "llm_async": "with openlit.start_trace(name) as t: t.set_metadata(gen_ai.*) inside async def"},
        config=["global TracerProvider (BatchSpanProcessor over a discarding exporter), MeterProvider "
                "(in-memory reader) and LoggerProvider set before openlit.init, which reuses them",
                "openlit.init(disable_batch=False, capture_message_content=False, collect_gpu_stats=False, "
                "disabled_instrumentors=<all>, pricing_json=<local empty file>); no otlp_endpoint",
                "@openlit.trace always records str(args), str(kwargs) and the return value as attributes "
                "(not switchable)"],
        metrics_in_decorator="none: @openlit.trace and start_trace make a CLIENT span and set attributes; "
                             "openlit's GenAI metrics are recorded by its LLM-client instrumentations",
    )


if __name__ == "__main__":
    harness.main(build)
