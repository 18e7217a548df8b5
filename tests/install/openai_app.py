"""An application as a user writes it: the real openai client against a local HTTP server that answers
chat completions in OpenAI's payload shape (this file runs inside the fresh venv of test_wheel.py, where
only the built wheel, openai and httpx are installed). argv[1]: "plain" (no agentkit import), "init"
(agentkit.init(auto_instrument=True)), or "init-twice" (init, then init(service_name=...) again)."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CALLS = 3
BODY = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "logprobs": None,
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}}


class Handler(BaseHTTPRequestHandler):
    served = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        data = json.dumps(BODY).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        Handler.served += 1

    def log_message(self, *args: object) -> None:
        pass


def main(mode: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if mode.startswith("init"):
        import otel_agentkit as agentkit

        assert agentkit.init(auto_instrument=True) is True
        if mode == "init-twice":
            assert agentkit.init(service_name="other") is False
    import openai

    client = openai.OpenAI(api_key="sk-test", base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    for _ in range(CALLS):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital?"}])
    server.shutdown()
    print(json.dumps({"served": Handler.served}))


if __name__ == "__main__":
    main(sys.argv[1])
