"""logfire against ours: @logfire.instrument, and the same with gen_ai.* attributes set on the current span
for the LLM payload (logfire has no manual LLM-call API; its LLM spans come from its client integrations).

Configured so that nothing leaves the process: send_to_logfire=False, console=False, and one extra
BatchSpanProcessor over a discarding exporter. Everything else is logfire's default (attribute scrubbing
included).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def build() -> harness.PeerSetup:
    import logfire
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_agentkit import semconv as sc

    exporter = harness.CountingDiscard()
    logfire.configure(send_to_logfire=False, console=False, service_name="bench",
                      additional_span_processors=[BatchSpanProcessor(exporter)])
    llm = harness.LLM
    attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: llm["provider"],
             sc.GEN_AI_REQUEST_MODEL: llm["model"], sc.GEN_AI_RESPONSE_MODEL: llm["model"],
             sc.GEN_AI_RESPONSE_ID: llm["response_id"], sc.GEN_AI_USAGE_INPUT_TOKENS: llm["input_tokens"],
             sc.GEN_AI_USAGE_OUTPUT_TOKENS: llm["output_tokens"]}
    current = trace.get_current_span

    @logfire.instrument("noop")
    def wf() -> None:
        return None

    @logfire.instrument("noop")
    async def awf() -> None:
        return None

    @logfire.instrument("chat gpt-4o")
    def chat() -> None:
        current().set_attributes(attrs)

    @logfire.instrument("chat gpt-4o")
    async def achat() -> None:
        current().set_attributes(attrs)

    return harness.PeerSetup(
        name="logfire", packages=["logfire"],
        cases={"workflow_sync": wf, "workflow_async": awf, "tool_sync": wf, "llm_sync": chat, "llm_async": achat},
        flush=logfire.force_flush, exported=lambda: exporter.count,
        how={"workflow_sync": "@logfire.instrument(\"noop\")", "workflow_async": "the same on async def",
             "tool_sync": "@logfire.instrument(\"noop\") (logfire has no tool/workflow distinction)",
             "llm_sync": "@logfire.instrument + trace.get_current_span().set_attributes(gen_ai.*: model, response "
                         "id, tokens)",
             "llm_async": "the same on async def"},
        config=["logfire.configure(send_to_logfire=False, console=False, additional_span_processors="
                "[BatchSpanProcessor(<discarding exporter>)]); everything else default (scrubbing on)",
                "the decorated functions take no arguments, so its argument extraction has nothing to record"],
        metrics_in_decorator="none: @logfire.instrument opens a span (_fast_span) and sets code.* and message "
                             "attributes; logfire records metrics only through explicit logfire.metric_* calls "
                             "and its integrations",
    )


if __name__ == "__main__":
    harness.main(build)
