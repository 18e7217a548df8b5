"""traceloop-sdk (OpenLLMetry) against ours: @workflow / @tool, and track_llm_call for the LLM payload.

Configured as a user who keeps data in-process would: a custom exporter (ours discards), batching on, no
auto-instrumented libraries, content tracing off (ours records no content by default), telemetry off, and
the API endpoint pointed at a closed port on loopback.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def build() -> harness.PeerSetup:
    os.environ.setdefault("TRACELOOP_TELEMETRY", "false")
    os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "false")
    os.environ.setdefault("TRACELOOP_METRICS_ENABLED", "false")
    os.environ.setdefault("TRACELOOP_LOGGING_ENABLED", "false")
    from opentelemetry import trace
    from otel_agentkit import semconv as sc
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import tool, workflow
    from traceloop.sdk.tracing.manual import LLMUsage, track_llm_call

    exporter = harness.CountingDiscard()
    Traceloop.init(app_name="bench", api_endpoint=harness.CLOSED_URL, exporter=exporter, disable_batch=False,
                   telemetry_enabled=False, instruments=set())
    llm = harness.LLM
    usage = dict(prompt_tokens=llm["input_tokens"], completion_tokens=llm["output_tokens"],
                 total_tokens=llm["input_tokens"] + llm["output_tokens"])

    @workflow(name="noop")
    def wf() -> None:
        return None

    @workflow(name="noop")
    async def awf() -> None:
        return None

    @tool(name="noop")
    def tl() -> None:
        return None

    def record(span) -> None:
        span.report_request(model=llm["model"], messages=[])
        span.report_response(llm["model"], [])
        span.report_usage(LLMUsage(**usage))
        span._span.set_attribute(sc.GEN_AI_RESPONSE_ID, llm["response_id"])

    def chat() -> None:
        with track_llm_call(vendor=llm["provider"], type="chat") as span:
            record(span)

    async def achat() -> None:
        with track_llm_call(vendor=llm["provider"], type="chat") as span:
            record(span)

    provider = trace.get_tracer_provider()
    return harness.PeerSetup(
        name="traceloop", packages=["traceloop-sdk"],
        cases={"workflow_sync": wf, "workflow_async": awf, "tool_sync": tl, "llm_sync": chat, "llm_async": achat},
        flush=provider.force_flush, exported=lambda: exporter.count,
        how={"workflow_sync": "@workflow(name=...)", "workflow_async": "@workflow(name=...) on async def",
             "tool_sync": "@tool(name=...)",
             "llm_sync": "with track_llm_call(vendor, type) as s: report_request/report_response/report_usage "
                         "(traceloop has no LLM decorator; this is its manual LLM API, one span)",
             "llm_async": "the same inside async def"},
        config=["Traceloop.init(exporter=<discarding exporter>, disable_batch=False (BatchSpanProcessor), "
                "instruments=set() (no library patched), telemetry_enabled=False, api_endpoint=closed loopback port)",
                "TRACELOOP_TRACE_CONTENT=false (no JSON of arguments/results; its default is true), "
                "TRACELOOP_TELEMETRY=false, TRACELOOP_METRICS_ENABLED=false, TRACELOOP_LOGGING_ENABLED=false",
                "Traceloop.init also runs ThreadingInstrumentor().instrument() (context into threads)"],
        metrics_in_decorator="none: entity_method (@workflow/@task/@agent/@tool) and track_llm_call only make "
                             "spans; traceloop's GenAI metrics come from its LLM-client instrumentations",
    )


if __name__ == "__main__":
    harness.main(build)
