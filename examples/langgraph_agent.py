"""Two LangGraph agents, a researcher with a tool and a writer, traced by the auto-instrumentors alone.

``init(auto_instrument=["langchain", "openai"])`` turns on the "langchain" instrumentor (graph, agent and tool spans from
LangChain's callbacks) and the "openai" one (a chat span per request ChatOpenAI sends). Each agent is a
``create_react_agent`` graph run as a node of a small team graph; the agent's name reaches the instrumentor
as the ``lc_agent_name`` run metadata (what LangChain's ``create_agent`` sets; the prebuilt ReAct agent does
not, so it is given here through the node's config), which makes one ``invoke_agent`` span per agent.

The model is a local stand-in, started by this script on 127.0.0.1, answering with the JSON shapes of the
OpenAI Chat Completions API, so it runs offline without a key. Telemetry goes to JSON-lines files under
AGENTKIT_HOME (default ./.agentkit-langgraph-example); at the end the script reads them back for the trace
tree and runs ``agentkit usage stats --by agent`` over them.

    python examples/langgraph_agent.py ["topic"]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# LangChain's own tracing (to LangSmith) stays off: this example records with agentkit only.
for _name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
    os.environ.pop(_name, None)
os.environ.setdefault("AGENTKIT_HOME", "./.agentkit-langgraph-example")

import otel_agentkit as agentkit  # noqa: E402

MODEL = "gpt-4o-mini"
RESEARCHER_PROMPT = "You are the researcher: look facts up with your tools and summarise them."
WRITER_PROMPT = "You are the writer: turn the research notes into one short paragraph."
NOTES = {
    "otel": "OpenTelemetry is a CNCF project for traces, metrics and logs; GenAI semantic conventions "
            "name LLM spans 'chat {model}' and agent spans 'invoke_agent {agent}'.",
}


# --- the stand-in model: Chat Completions response shapes, a fixed policy -----------------------------------------
def _tokens(obj: Any) -> int:
    return max(1, len(json.dumps(obj)) // 4)


def _model_reply(messages: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The writer writes; the researcher asks for the search tool once, then summarises what it returned."""
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    last = messages[-1]
    if system.startswith("You are the writer"):
        notes = next((m["content"] for m in reversed(messages) if m["role"] == "assistant" and m.get("content")), "")
        return {"role": "assistant", "content": f"In short: {notes}", "refusal": None}, "stop"
    if last["role"] != "tool":
        call = {"id": f"call_search_{time.time_ns()}", "type": "function",
                "function": {"name": "search_notes", "arguments": json.dumps({"topic": "otel"})}}
        return {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}, "tool_calls"
    return {"role": "assistant", "content": f"Notes: {last['content']}", "refusal": None}, "stop"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        message, finish = _model_reply(body["messages"])
        created = int(time.time())
        usage = {"prompt_tokens": _tokens(body["messages"]), "completion_tokens": _tokens(message),
                 "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        reply = {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": created,
                 "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_local", "usage": usage,
                 "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def start_model() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- the graph: plain LangGraph code; only the agents' names are agentkit's concern ----------------------------------
def build_team(base_url: str) -> Any:
    """researcher -> writer, each a ReAct agent graph; the node config names the agent (lc_agent_name)."""
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import create_react_agent
    from langgraph.warnings import LangGraphDeprecatedSinceV10

    @tool
    def search_notes(topic: str) -> str:
        """Look a topic up in the team's notes."""
        return NOTES.get(topic, "nothing found")

    model = ChatOpenAI(model=MODEL, base_url=base_url, api_key="sk-local", max_retries=0)
    with warnings.catch_warnings():  # its successor, langchain's create_agent, needs the langchain package
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        agents = {
            "researcher": create_react_agent(model, [search_notes], prompt=RESEARCHER_PROMPT, name="researcher"),
            "writer": create_react_agent(model, [], prompt=WRITER_PROMPT, name="writer"),
        }
    team = StateGraph(MessagesState)
    for name, graph in agents.items():
        team.add_node(name, graph.with_config(metadata={"lc_agent_name": name}))
    team.add_edge(START, "researcher")
    team.add_edge("researcher", "writer")
    team.add_edge("writer", END)
    return team.compile(name="research-team")


# --- the trace tree, read back from the local files ----------------------------------------------------------------
def print_tree(spans: list[Any]) -> None:
    children: dict[Any, list[Any]] = {}
    ids = {s.span_id for s in spans}
    for s in spans:
        children.setdefault(s.parent_span_id, []).append(s)

    def show(span: Any, depth: int) -> None:
        a = span.attributes
        notes = []
        if str(a.get("gen_ai.operation.name", "")).startswith("invoke_"):  # a graph's span or an agent's
            notes.append(f"operation {a['gen_ai.operation.name']}")
        if "gen_ai.usage.input_tokens" in a:
            notes.append(f"in={a['gen_ai.usage.input_tokens']} out={a.get('gen_ai.usage.output_tokens', 0)}")
        if "gen_ai.tool.call.id" in a:
            notes.append(f"call {a['gen_ai.tool.call.id']}")
        if "agentkit.cost.usd" in a:
            notes.append(f"${a['agentkit.cost.usd']:.6f}")
        if span.status == "ERROR":
            notes.append(f"ERROR {a.get('error.type', '')}")
        print(f"  {'  ' * depth}{span.name:<{44 - 2 * depth}} {span.duration_s * 1000:7.1f} ms  {'  '.join(notes)}")
        for child in sorted(children.get(span.span_id, []), key=lambda c: c.start_ns):
            show(child, depth + 1)

    for root in sorted((s for s in spans if s.parent_span_id not in ids), key=lambda s: s.start_ns):
        show(root, 0)


def main() -> None:
    try:
        import langgraph  # noqa: F401
        import langchain_openai  # noqa: F401
    except ImportError:
        sys.exit("this example needs LangGraph and langchain-openai: pip install langgraph langchain-openai")
    topic = sys.argv[1] if len(sys.argv) > 1 else "OpenTelemetry for LLM apps"
    agentkit.init(service_name="langgraph-agent-example", exporters=["jsonl"], metric_exporters="none",
                  auto_instrument=["langchain", "openai"])  # graph/agent/tool spans; the chat spans
    started = time.time_ns()
    server = start_model()
    try:
        team = build_team(f"http://127.0.0.1:{server.server_port}/v1")
        print(f"> {topic}")
        result = team.invoke({"messages": [("user", f"Write a paragraph about {topic}.")]})
        print(result["messages"][-1].content)
    finally:
        server.shutdown()
        agentkit.shutdown()  # flush everything to the local files, and unpatch

    from otel_agentkit.cli.main import main as agentkit_cli
    from otel_agentkit.config import default_home
    from otel_agentkit.export.reader import ReadStats, iter_spans

    home = default_home()
    stats = ReadStats()
    spans = [s for s in iter_spans(home / "telemetry", stats=stats) if s.start_ns >= started]
    print(f"\nLocal telemetry: {home / 'telemetry'} ({len(spans)} spans from this run, {stats.corrupt} corrupt lines)")
    print("\ntrace:")
    print_tree(spans)
    since = dt.datetime.fromtimestamp(started / 1e9, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    print(f"\n$ agentkit usage stats --by agent --since {since}")
    agentkit_cli(["--home", str(home), "usage", "stats", "--by", "agent", "--since", since])


if __name__ == "__main__":
    main()
