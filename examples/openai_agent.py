"""A small tool-using agent on the real ``openai`` client, traced by the auto-instrumentor alone.

No span is written by hand around the model calls: ``init(auto_instrument=["openai"])`` traces every
``chat.completions.create`` (tool-call rounds and the final streamed answer); ``agentkit.agent`` and
``agentkit.tool`` mark the agent and the tool calls it runs. The model is a local stand-in, started by this script on
127.0.0.1, that answers with the JSON and SSE shapes the OpenAI API sends, so it runs offline without a key.
At the end it prints the trace tree it recorded.

    python examples/openai_agent.py ["question"]
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agentkit as agentkit

MODEL = "gpt-4o-mini"
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_local_time", "description": "Local time in a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
]


# --- the stand-in model: OpenAI's response shapes, a fixed policy ------------------------------------------------
def _tokens(obj: Any) -> int:
    return max(1, len(json.dumps(obj)) // 4)


def _model_reply(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """First turn: ask for both tools. After the tool results: answer from them."""
    messages = body["messages"]
    created = int(time.time())
    if messages[-1]["role"] != "tool":
        city = "Lisbon"
        calls = [{"id": f"call_{name}_{created}", "type": "function",
                  "function": {"name": name, "arguments": json.dumps({"city": city})}}
                 for name in ("get_weather", "get_local_time")]
        return {"role": "assistant", "content": None, "tool_calls": calls, "refusal": None}, "tool_calls"
    names = {c["id"]: c["function"]["name"] for m in messages for c in m.get("tool_calls") or ()}
    results = {names.get(m["tool_call_id"]): json.loads(m["content"]) for m in messages if m["role"] == "tool"}
    weather, clock = results.get("get_weather", {}), results.get("get_local_time", {})
    text = (f"In {weather.get('city', 'the city')} it is {weather.get('temp_c')} °C and {weather.get('sky')}; "
            f"the local time is {clock.get('time')}. A light jacket will do.")
    return {"role": "assistant", "content": text, "refusal": None}, "stop"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answer each SSE chunk at once, as the API does

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        message, finish = _model_reply(body)
        created = int(time.time())
        usage = {"prompt_tokens": _tokens(body["messages"]), "completion_tokens": _tokens(message),
                 "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {"id": f"chatcmpl-{created}{len(body['messages'])}", "created": created,
                "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_local"}
        if not body.get("stream"):
            reply = {**head, "object": "chat.completion", "usage": usage,
                     "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with_usage = (body.get("stream_options") or {}).get("include_usage")
        words = [w + " " for w in message["content"].split(" ")]
        deltas = [{"role": "assistant", "content": ""}] + [{"content": w} for w in words] + [{}]
        for i, delta in enumerate(deltas):
            last = i == len(deltas) - 1
            chunk = {**head, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                  "finish_reason": finish if last else None}]}
            if with_usage:
                chunk["usage"] = None
            self._chunk(f"data: {json.dumps(chunk)}\n\n")
            time.sleep(0.003)
        if with_usage:
            final = {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            self._chunk(f"data: {json.dumps(final)}\n\n")
        self._chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def log_message(self, *args: Any) -> None:
        pass


def start_model() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- the agent: plain openai code, with agent and tool markers ------------------------------------------------------
def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "temp_c": 19, "sky": "partly cloudy"}


def get_local_time(city: str) -> dict[str, Any]:
    return {"city": city, "time": time.strftime("%H:%M")}


IMPLEMENTATIONS = {"get_weather": get_weather, "get_local_time": get_local_time}


@agentkit.agent(name="travel-assistant", description="Answers travel questions with tools")
def assistant(client: Any, question: str) -> str:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You help travellers. Use the tools."},
                                      {"role": "user", "content": question}]
    for _ in range(4):
        response = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        message = response.choices[0].message
        if not message.tool_calls:
            return message.content
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:  # each tool span carries the id of the call the model asked for
            with agentkit.tool(name=call.function.name, call_id=call.id):
                result = IMPLEMENTATIONS[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        # the answer, streamed to the user as it comes
        stream = client.chat.completions.create(model=MODEL, messages=messages, stream=True)
        parts = []
        for chunk in stream:
            piece = chunk.choices[0].delta.content or ""
            parts.append(piece)
            print(piece, end="", flush=True)
        print()
        return "".join(parts).strip()
    return "I could not finish."


# --- the trace tree ------------------------------------------------------------------------------------------------
def print_tree(spans: list[ReadableSpan]) -> None:
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)

    def show(span: ReadableSpan, depth: int) -> None:
        a = span.attributes or {}
        notes = []
        if "gen_ai.usage.input_tokens" in a:
            notes.append(f"in={a['gen_ai.usage.input_tokens']} out={a.get('gen_ai.usage.output_tokens', 0)}")
        if "gen_ai.response.time_to_first_chunk" in a:
            notes.append(f"first chunk {a['gen_ai.response.time_to_first_chunk'] * 1000:.1f} ms")
        if "agentkit.response.tool_calls" in a:
            notes.append("asks for " + ", ".join(a["agentkit.response.tool_calls"]))
        if "gen_ai.tool.call.id" in a:
            notes.append(f"call {a['gen_ai.tool.call.id']}")
        if "agentkit.cost.usd" in a:
            notes.append(f"${a['agentkit.cost.usd']:.6f}")
        took = (span.end_time - span.start_time) / 1e6
        print(f"  {'  ' * depth}{span.name:<{44 - 2 * depth}} {took:7.1f} ms  {'  '.join(notes)}")
        for child in sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time):
            show(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda s: s.start_time):
        show(root, 0)


def main() -> None:
    try:
        import openai
    except ImportError:
        sys.exit("this example needs the openai client: pip install openai")
    question = sys.argv[1] if len(sys.argv) > 1 else "What should I wear in Lisbon right now?"
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    agentkit.init(service_name="openai-agent-example", tracer_provider=provider, exporters="none",
                  metric_exporters="none", auto_instrument=["openai"])  # the only instrumentation of the model calls
    server = start_model()
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="sk-local-stand-in")
        print(f"> {question}")
        assistant(client, question)
    finally:
        server.shutdown()
        agentkit.shutdown()  # also puts the openai client's original methods back
    print("\ntrace:")
    print_tree(list(spans.get_finished_spans()))


if __name__ == "__main__":
    main()
