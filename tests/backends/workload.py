"""One support ticket handled by an agent, made with the public decorators: the traffic the backend tests
send. Workflow -> agent -> (an LLM call, a tool that works, a tool that fails); the failure is the
application's own exception, caught by the agent."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry import trace

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc

WORKFLOW = "support-ticket"
AGENT = "triager"
PROVIDER = sc.PROVIDER_OPENAI
MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
INPUT_TOKENS = 812
OUTPUT_TOKENS = 64
TEMPERATURE = 0.2
MAX_TOKENS = 256
TOOL_OK = "lookup_order"
TOOL_OK_CALL_ID = "call_42"
TOOL_FAILS = "refund"

SPAN_WORKFLOW = sc.span_name(sc.OP_INVOKE_AGENT, WORKFLOW)  # v0.1.0: workflows are invoke_agent spans
SPAN_AGENT = sc.span_name(sc.OP_INVOKE_AGENT, AGENT)
SPAN_CHAT = sc.span_name(sc.OP_CHAT, MODEL)
SPAN_TOOL_OK = sc.span_name(sc.OP_EXECUTE_TOOL, TOOL_OK)
SPAN_TOOL_FAILS = sc.span_name(sc.OP_EXECUTE_TOOL, TOOL_FAILS)
SPAN_NAMES = (SPAN_WORKFLOW, SPAN_AGENT, SPAN_CHAT, SPAN_TOOL_OK, SPAN_TOOL_FAILS)


class RefundRefused(Exception):
    """The application's own error, raised inside a tool."""


@dataclass
class Ticket:
    """What one run saw from the inside: the trace id, and the exception the agent caught."""

    trace_id: str = ""
    caught: list[BaseException] = field(default_factory=list)
    raised: list[BaseException] = field(default_factory=list)


@agentkit.llm(provider=PROVIDER, model=MODEL, temperature=TEMPERATURE, max_tokens=MAX_TOKENS)
def classify(text: str) -> str:
    agentkit.current_call().record(response_model=RESPONSE_MODEL, response_id="chatcmpl-e2e",
                                   input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS, finish_reasons=["stop"])
    return "refund"


@agentkit.tool(name=TOOL_OK, call_id=TOOL_OK_CALL_ID)
def lookup_order(order_id: str) -> dict[str, str]:
    return {"order": order_id, "status": "delivered"}


@agentkit.tool(name=TOOL_FAILS)
def refund(order_id: str, ticket: Ticket) -> None:
    exc = RefundRefused(f"refund of {order_id} is over the limit")
    ticket.raised.append(exc)
    raise exc


@agentkit.agent(name=AGENT)
def triage(text: str, ticket: Ticket) -> str:
    label = classify(text)
    order = lookup_order("A-1001")
    try:
        refund(order["order"], ticket)
    except RefundRefused as exc:
        ticket.caught.append(exc)
    return label


@agentkit.workflow(name=WORKFLOW)
def handle_ticket(text: str, ticket: Ticket) -> str:
    ticket.trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
    return triage(text, ticket)


def run_ticket(text: str = "my parcel arrived broken, I want my money back") -> Ticket:
    ticket = Ticket()
    assert handle_ticket(text, ticket) == "refund"
    assert ticket.caught and ticket.caught[0] is ticket.raised[0]  # the app's exception, unchanged
    return ticket
