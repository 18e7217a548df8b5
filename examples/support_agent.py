"""An offline support agent: workflow -> agents -> LLM calls, tools, retrieval and a streamed answer.

The "models" are local stand-ins that answer with the same JSON shapes OpenAI and Anthropic send, so the
example runs without a network or keys. Everything it records goes to OTLP/JSON-lines files under
AGENTKIT_HOME; at the end it reads them back for a trace tree, and runs ``agentkit usage stats`` on them.

    python examples/support_agent.py [--tickets N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import time
from typing import Any, Iterator

import otel_agentkit as agentkit

KB = {
    "refund": "Refunds are issued within 5 business days to the original payment method.",
    "password": "Reset your password from Settings > Security; links expire after 30 minutes.",
    "invoice": "Invoices are under Billing > History and can be downloaded as PDF.",
}
TICKETS = [
    ("u-101", "I was charged twice, I want a refund"),
    ("u-102", "How do I reset my password?"),
    ("u-103", "Where can I find last month's invoice?"),
    ("u-104", "Refund please, the order never arrived"),
    ("u-105", "My password link expired"),
    ("u-106", "Need a copy of invoice 2026-10"),
]


class RateLimited(Exception):
    """What a provider client raises on HTTP 429 (here: now and then, on purpose)."""


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _id(prefix: str, text: str) -> str:
    return prefix + hashlib.sha1(text.encode()).hexdigest()[:12]


# --- stand-in models: same response shapes as the real APIs -------------------------------------------------
@agentkit.llm(provider="openai", model="gpt-4o-mini", temperature=0.0, max_tokens=16)
def classify(messages: list[dict[str, str]], rng: random.Random) -> dict[str, Any]:
    """Cheap tier: pick a topic (an OpenAI chat completion)."""
    time.sleep(rng.uniform(0.005, 0.02))
    if rng.random() < 0.15:
        raise RateLimited("429 Too Many Requests")
    question = messages[-1]["content"].lower()
    topic = next((k for k in KB if k in question), "refund")
    prompt = sum(_tokens(m["content"]) for m in messages)
    return {"id": _id("chatcmpl-", question), "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": topic}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": 2, "total_tokens": prompt + 2,
                      "prompt_tokens_details": {"cached_tokens": 0}}}


@agentkit.embedding(provider="openai", model="text-embedding-3-small")
def embed(text: str) -> dict[str, Any]:
    return {"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.01] * 256}],
            "usage": {"prompt_tokens": _tokens(text), "total_tokens": _tokens(text)}}


@agentkit.retrieval(data_source="support-kb", top_k=1)
def search_kb(topic: str) -> str:
    embed(topic)
    return KB[topic]


@agentkit.tool(description="Look up the customer's last order")
def order_lookup(user: str) -> dict[str, Any]:
    return {"user": user, "order": _id("ord_", user), "status": "delivered"}


@agentkit.llm(provider="anthropic", model="claude-sonnet-4-5", max_tokens=512, stream=True)
def answer_stream(system: str, context: str, question: str, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Premium tier: a streamed answer (Anthropic message events; usage in the first and last event)."""
    cached = 1024  # the long system prompt is served from the prompt cache
    first_in = _tokens(system + context + question)
    yield {"type": "message_start", "message": {
        "id": _id("msg_", question), "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [], "stop_reason": None,
        "usage": {"input_tokens": first_in, "output_tokens": 1, "cache_read_input_tokens": cached,
                  "cache_creation_input_tokens": 0}}}
    words = f"Thanks for reaching out. {context} Anything else I can help with?".split()
    for word in words:
        time.sleep(rng.uniform(0.0005, 0.002))
        yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word + " "}}
    yield {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
           "usage": {"input_tokens": first_in, "output_tokens": _tokens(" ".join(words)),
                     "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}}


# --- the agents --------------------------------------------------------------------------------------------
SYSTEM = "You are a support agent. Be brief and exact. " * 60


@agentkit.agent(name="triage", description="Routes a ticket to a topic")
def triage(question: str, rng: random.Random) -> str:
    messages = [{"role": "system", "content": "Classify the ticket: refund, password or invoice."},
                {"role": "user", "content": question}]
    with agentkit.attributes(stage="classify", tier="cheap", prompt_format="plain"):
        for attempt in range(3):
            try:
                with agentkit.attributes(retries=attempt):  # 0 on the first try
                    response = classify(messages, rng)
                break
            except RateLimited:
                time.sleep(0.01 * (attempt + 1))
        else:
            return "refund"
    return response["choices"][0]["message"]["content"]


@agentkit.agent(name="resolver", description="Answers with the knowledge base")
def resolve(user: str, topic: str, question: str, rng: random.Random) -> str:
    context = search_kb(topic)
    if topic == "refund":
        context += f" (order {order_lookup(user)['order']})"
    with agentkit.attributes(stage="answer", tier="premium", prompt_format="xml"):
        text = "".join(e["delta"]["text"] for e in answer_stream(SYSTEM, context, question, rng)
                       if e["type"] == "content_block_delta")
    return text.strip()


@agentkit.workflow(name="support-ticket")
def handle(user: str, question: str, rng: random.Random) -> str:
    with agentkit.attributes(user_id=user, conversation_id=_id("conv_", user)):
        topic = triage(question, rng)
        return resolve(user, topic, question, rng)


# --- reading the local telemetry back ----------------------------------------------------------------------
def print_trace_tree(spans: list[Any], trace_id: str) -> None:
    mine = [s for s in spans if s.trace_id == trace_id]
    children: dict[Any, list[Any]] = {}
    for s in mine:
        children.setdefault(s.parent_span_id, []).append(s)
    ids = {s.span_id for s in mine}

    def show(span: Any, depth: int) -> None:
        a = span.attributes
        extra = []
        if "gen_ai.usage.input_tokens" in a:
            extra.append(f"in={a['gen_ai.usage.input_tokens']} out={a.get('gen_ai.usage.output_tokens', 0)}")
        if "agentkit.cost.usd" in a:
            extra.append(f"${a['agentkit.cost.usd']:.6f}")
        if span.status == "ERROR":
            extra.append(f"ERROR {a.get('error.type', '')}")
        print(f"  {'  ' * depth}{span.name:<40} {span.duration_s * 1000:7.1f} ms  {'  '.join(extra)}")
        for child in sorted(children.get(span.span_id, []), key=lambda c: c.start_ns):
            show(child, depth + 1)

    for root in sorted((s for s in mine if s.parent_span_id not in ids), key=lambda s: s.start_ns):
        show(root, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=len(TICKETS))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    agentkit.init(service_name="support-agent-example", exporters=["jsonl"])
    rng = random.Random(args.seed)
    started = time.time_ns()
    for i in range(args.tickets):
        user, question = TICKETS[i % len(TICKETS)]
        print(f"[{user}] {question}\n    -> {handle(user, question, rng)[:90]}...")
    agentkit.shutdown()  # flush everything to the local files

    from otel_agentkit.config import default_home
    from otel_agentkit.export.reader import ReadStats, iter_spans

    directory = default_home() / "telemetry"
    stats = ReadStats()
    spans = [s for s in iter_spans(directory, stats=stats) if s.start_ns >= started]
    print(f"\nLocal telemetry: {directory} ({len(spans)} spans from this run, {stats.corrupt} corrupt lines)")
    # A workflow's span is an invoke_agent span whose operation is invoke_workflow (GenAI conventions v0.1.0).
    first_workflow = min((s for s in spans if s.attributes.get("gen_ai.operation.name") == "invoke_workflow"),
                         key=lambda s: s.start_ns)
    print("\nTrace of the first ticket:")
    print_trace_tree(spans, first_workflow.trace_id)
    # The usage report is the agentkit command's, over the same files (this run only).
    from otel_agentkit.cli.main import main as agentkit_cli

    since = dt.datetime.fromtimestamp(started / 1e9, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    print(f"\n$ agentkit usage stats --by model --since {since}")
    agentkit_cli(["usage", "stats", "--by", "model", "--since", since])


if __name__ == "__main__":
    main()
