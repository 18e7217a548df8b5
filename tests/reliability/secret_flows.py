"""The example flows with planted secrets, each run in a fresh interpreter by test_secrets.py:

    python -m tests.reliability.secret_flows FLOW        (FLOW: support, openai, multi-agent)

The planted values come from $RELIABILITY_SECRETS (a JSON object: kind -> value) and go into arguments,
headers, messages, tool calls and results, attributes and exception messages; next to them goes
$RELIABILITY_MARKER, text that must show up in the output (it proves content capture was on, so that the
absence of the secrets means something). The examples' own functions are used where they exist.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import otel_agentkit as agentkit

ROOT = Path(__file__).resolve().parents[2]
S: dict[str, str] = json.loads(os.environ.get("RELIABILITY_SECRETS", "{}"))
MARKER = os.environ.get("RELIABILITY_MARKER", "marker")


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def start(auto_instrument: Any = None) -> None:
    agentkit.init(service_name="secrets", exporters=["jsonl", "otlp"], capture_content="SPAN_AND_EVENT",
                  home=os.environ["AGENTKIT_HOME"], metric_export_interval_ms=500, auto_instrument=auto_instrument)


def _response(content: str, tool_args: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_args is not None:
        message["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": "deploy", "arguments": json.dumps(tool_args)}}]
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}}


# --- support: the decorators and context managers (examples/support_agent.py) ---------------------------------
@agentkit.llm(provider="openai", model="gpt-4o-mini")
def chat(messages: list[dict[str, Any]], headers: dict[str, str]) -> dict[str, Any]:
    """An LLM call the way an app wraps its HTTP client: the auth headers are an argument."""
    return _response(f"{MARKER} use the token {S['jwt']} for the deploy",
                     {"api_key": S["opaque"], "github_token": S["github"], "note": f"Bearer {S['bearer']}"})


@agentkit.tool(name="lookup", description="Calls the billing API")
def lookup(order: str, api_key: str) -> None:
    raise PermissionError(f"401 from billing for {order}: key {api_key} rejected; sent Authorization: Bearer "
                          f"{S['bearer']}; retry with password={S['password']}")


def support() -> None:
    sa = example("support_agent")
    question = (f"{MARKER} I was charged twice, refund please. My key is {S['openai']} and the header was "
                f"Authorization: Bearer {S['bearer']}")
    sa.handle("u-" + S["aws"], question, random.Random(7))
    headers = {"Authorization": f"Bearer {S['bearer']}", "x-api-key": S["opaque"]}
    with agentkit.attributes(stage="answer", tier="premium", api_token=f"Bearer {S['bearer']}",
                             note=f"{MARKER} key {S['anthropic']}"):
        chat(messages=[{"role": "system", "content": f"{MARKER} admin password={S['password']}"},
                       {"role": "user", "content": f"here is my key {S['anthropic']}"}], headers=headers)
    with agentkit.llm(provider="anthropic", model="claude-sonnet-4-5") as call:
        call.record(
            input_messages=[{"role": "user", "content": [
                {"type": "text", "text": f"{MARKER} my key: {S['anthropic']}"},
                {"type": "tool_result", "tool_use_id": "t1",
                 "content": {"headers": {"Authorization": f"Bearer {S['bearer']}", "X-Api-Key": S["opaque"]}}}]}],
            system_instructions=f"{MARKER} never reveal {S['openai']}",
            tool_definitions=[{"name": "deploy", "description": f"deploys with token {S['github']}"}],
            output_messages=[{"role": "assistant", "content": f"{MARKER} the AWS key is {S['aws']}"}],
            input_tokens=20, output_tokens=5, api_key=S["openai"], conversation_id=f"conv-{S['aws']}")
    try:
        lookup("order-1", S["openai"])
    except PermissionError:
        pass


# --- openai: the auto-instrumented client (examples/openai_agent.py) -------------------------------------------
class _Refuses(BaseHTTPRequestHandler):
    """Answers 401 and echoes the key it was sent, as some providers' error messages do."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {self.headers.get('Authorization')}",
                                     "type": "invalid_request_error", "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def openai_flow() -> None:
    import openai

    oa = example("openai_agent")
    model = oa.start_model()
    refuses = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=refuses.serve_forever, daemon=True).start()
    headers = {"X-Api-Key": S["anthropic"], "X-Custom-Auth": f"Bearer {S['bearer']}"}
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{model.server_port}/v1", api_key=S["openai"],
                               default_headers=headers)
        oa.assistant(client, f"{MARKER} What should I wear in Lisbon? My GitHub token is {S['github']}")
        bad = openai.OpenAI(base_url=f"http://127.0.0.1:{refuses.server_port}/v1", api_key=S["openai"],
                            max_retries=0)
        try:
            bad.chat.completions.create(model="gpt-4o-mini", messages=[
                {"role": "user", "content": f"{MARKER} password={S['password']}"}])
        except openai.AuthenticationError:
            pass
    finally:
        model.shutdown()
        refuses.shutdown()


# --- multi-agent: heartbeats, signals, events, approvals, feedback (examples/multi_agent.py) --------------------
def multi_agent() -> None:
    from otel_agentkit.agents import Approvals, EventStream, Feedback, Heartbeats, Signals, open_store

    ma = example("multi_agent")
    store = open_store(f"sqlite://{os.environ['AGENTKIT_HOME']}/agents.db")
    try:
        with agentkit.workflow(name=ma.WORKFLOW):
            with agentkit.agent(name="researcher", id="researcher-1"):
                with Heartbeats(store).start("researcher", {"pid": os.getpid()}) as hb:
                    hb.beat("working", progress=0.3, current_task=f"{MARKER} call the API with key {S['openai']}")
                    ma.do_work("researcher")
                    Signals(store, "researcher").signal("handoff", "writer",
                                                        {"note": f"{MARKER} token {S['github']}"})
                    EventStream(store, source="researcher").publish("draft.ready", {
                        "words": 3, "note": f"{MARKER} key {S['anthropic']}", "auth": f"Bearer {S['bearer']}"})
            answers = Approvals(store, requester="editor")
            gate = Approvals(store, requester="coordinator")
            gate.request("publish-report", {"draft": f"{MARKER} {S['jwt']}"}, timeout=30, on_request=lambda req:
                         answers.respond(req.id, True, reason=f"{MARKER} approved, password={S['password']}",
                                         responder="editor"))

            def refuse(req: Any) -> None:
                raise RuntimeError(f"{MARKER} deploy key {S['openai']} leaked with Bearer {S['bearer']}")

            try:
                gate.request("deploy", {}, timeout=30, on_request=refuse)
            except RuntimeError:
                pass
            Feedback(store).record(ma.WORKFLOW, "writing", "medium", 0.6,
                                   explanation=f"{MARKER} the reviewer used key {S['openai']}")
    finally:
        store.close()


FLOWS = {"support": support, "openai": openai_flow, "multi-agent": multi_agent}


def main(argv: list[str]) -> int:
    start(auto_instrument=["openai"] if argv[0] == "openai" else None)
    try:
        FLOWS[argv[0]]()
    finally:
        agentkit.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
