"""langfuse (its OpenTelemetry-based SDK) against ours: @observe, and @observe(as_type="generation") with
update_current_generation for the LLM payload.

Configured so that nothing leaves the process: a span_exporter that discards (langfuse keeps its own
BatchSpanProcessor around it), base_url pointed at a closed port on loopback, input/output capture off
(ours records no content by default).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def build() -> harness.PeerSetup:
    from langfuse import Langfuse, observe

    exporter = harness.CountingDiscard()
    client = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", base_url=harness.CLOSED_URL,
                      span_exporter=exporter, tracing_enabled=True)
    llm = harness.LLM
    usage = {"input": llm["input_tokens"], "output": llm["output_tokens"]}
    off = dict(capture_input=False, capture_output=False)

    @observe(name="noop", **off)
    def wf() -> None:
        return None

    @observe(name="noop", **off)
    async def awf() -> None:
        return None

    @observe(name="noop", as_type="tool", **off)
    def tl() -> None:
        return None

    @observe(name="chat gpt-4o", as_type="generation", **off)
    def chat() -> None:
        client.update_current_generation(model=llm["model"], usage_details=usage)

    @observe(name="chat gpt-4o", as_type="generation", **off)
    async def achat() -> None:
        client.update_current_generation(model=llm["model"], usage_details=usage)

    return harness.PeerSetup(
        name="langfuse", packages=["langfuse"],
        cases={"workflow_sync": wf, "workflow_async": awf, "tool_sync": tl, "llm_sync": chat, "llm_async": achat},
        flush=client.flush, exported=lambda: exporter.count,
        how={"workflow_sync": "@observe(name=...)", "workflow_async": "@observe(name=...) on async def",
             "tool_sync": "@observe(name=..., as_type=\"tool\")",
             "llm_sync": "@observe(as_type=\"generation\") + langfuse.update_current_generation(model=..., "
                         "usage_details={input, output})",
             "llm_async": "the same on async def"},
        config=["Langfuse(public_key/secret_key=dummy, base_url=closed loopback port, span_exporter=<discarding "
                "exporter>): its LangfuseSpanProcessor (a BatchSpanProcessor) wraps the exporter",
                "@observe(capture_input=False, capture_output=False): no argument/result capture "
                "(its default captures both)",
                "its media-upload and score consumer threads run idle, as in any langfuse process"],
        metrics_in_decorator="none: @observe makes a span (LangfuseSpan/LangfuseGeneration wrapper) and sets "
                             "langfuse.* attributes; usage and cost go on the span as JSON attributes, "
                             "no OTel metrics anywhere in the SDK",
    )


if __name__ == "__main__":
    harness.main(build)
