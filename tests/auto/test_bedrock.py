"""boto3's bedrock-runtime client (the real library, fake credentials, region us-east-1) against the local stub
serving Bedrock's JSON for converse / invoke_model and the binary AWS event-stream framing for converse_stream /
invoke_model_with_response_stream (encoded here by the spec and checked by decoding with botocore's own
EventStreamBuffer). Anthropic (messages API) and Nova (messages-v1) bodies, errors, stream lifetimes, a user's llm
block, exact uninstrumentation and an unsupported version. Nothing of boto3 or botocore is mocked."""

from __future__ import annotations

import base64
import gc
import json
import logging
import struct
import zlib
from typing import Any, Iterator

import boto3
import botocore
import pytest
import wrapt
from botocore.client import BaseClient
from botocore.config import Config
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError
from opentelemetry.trace import SpanKind, StatusCode
from werkzeug import Request, Response

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc
from otel_agentkit.auto.bedrock import FINISH_REASONS, BedrockInstrumentor, finish_reason, usage_counts

CLAUDE = "anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA = "amazon.nova-lite-v1:0"
REQUEST_ID = "a3c1f2e4-7b9d-4c6e-8f10-2d3b4c5e6f70"
USER = [{"role": "user", "content": [{"text": "What is the capital of France?"}]}]
TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather in a city",
                                  "inputSchema": {"json": {"type": "object",
                                                           "properties": {"city": {"type": "string"}}}}}}]}


# --- the AWS event-stream framing, by the spec ---------------------------------------------------------------
def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", 7, len(raw_value)) + raw_value


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, prelude CRC32), string headers,
    payload, message CRC32 (big-endian throughout)."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack("!II", total, len(head))
    prelude += struct.pack("!I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + head + payload
    return message + struct.pack("!I", zlib.crc32(message) & 0xFFFFFFFF)


def event(kind: str, body: dict[str, Any]) -> bytes:
    return frame({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                 json.dumps(body).encode())


def exception(kind: str, message: str) -> bytes:
    return frame({":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"},
                 json.dumps({"message": message}).encode())


def chunk(body: dict[str, Any]) -> bytes:
    """An invoke_model_with_response_stream event: the model's own event as base64 JSON bytes."""
    return event("chunk", {"bytes": base64.b64encode(json.dumps(body).encode()).decode()})


# --- Bedrock's responses -------------------------------------------------------------------------------------
CONVERSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "The capital of France is Paris."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 14, "outputTokens": 9, "totalTokens": 1053, "cacheReadInputTokens": 1024,
              "cacheWriteInputTokens": 6},
    "metrics": {"latencyMs": 412},
}
CONVERSE_TOOL = {
    "output": {"message": {"role": "assistant", "content": [
        {"text": "Let me check."},
        {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "get_weather",
                     "input": {"city": "Paris"}}}]}},
    "stopReason": "tool_use",
    "usage": {"inputTokens": 391, "outputTokens": 58, "totalTokens": 449},
    "metrics": {"latencyMs": 980},
}
CONVERSE_STREAM = [
    event("messageStart", {"role": "assistant"}),
    event("contentBlockDelta", {"delta": {"text": "The capital"}, "contentBlockIndex": 0}),
    event("contentBlockDelta", {"delta": {"text": " of France is Paris."}, "contentBlockIndex": 0}),
    event("contentBlockStop", {"contentBlockIndex": 0}),
    event("contentBlockStart", {"start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}},
                                "contentBlockIndex": 1}),
    event("contentBlockDelta", {"delta": {"toolUse": {"input": "{\"city\": \"Paris\"}"}}, "contentBlockIndex": 1}),
    event("contentBlockStop", {"contentBlockIndex": 1}),
    event("messageStop", {"stopReason": "tool_use"}),
    event("metadata", {"usage": {"inputTokens": 20, "outputTokens": 31, "totalTokens": 2051,
                                 "cacheReadInputTokens": 2000, "cacheWriteInputTokens": 0},
                       "metrics": {"latencyMs": 620}}),
]
CLAUDE_MESSAGE = {
    "id": "msg_bdrk_01Xk9fQm3RZB4u7nKcLpVw2T", "type": "message", "role": "assistant",
    "model": "claude-haiku-4-5-20251001", "content": [{"type": "text", "text": "Paris."}],
    "stop_reason": "max_tokens", "stop_sequence": None,
    "usage": {"input_tokens": 12, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 0,
              "output_tokens": 5},
}
NOVA_REPLY = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Paris."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10, "cacheReadInputTokenCount": 0,
              "cacheWriteInputTokenCount": 0},
}
METRICS = {"inputTokenCount": 12, "outputTokenCount": 6, "invocationLatency": 500, "firstByteLatency": 200}
CLAUDE_STREAM = [
    chunk({"type": "message_start", "message": {
        "id": "msg_bdrk_01StreamXyZ", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
        "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "cache_read_input_tokens": 30,
                                                      "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
    chunk({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Paris"}}),
    chunk({"type": "content_block_stop", "index": 0}),
    chunk({"type": "message_delta", "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
           "usage": {"output_tokens": 6}}),
    chunk({"type": "message_stop", "amazon-bedrock-invocationMetrics": METRICS}),
]
NOVA_STREAM = [
    chunk({"messageStart": {"role": "assistant"}}),
    chunk({"contentBlockDelta": {"delta": {"text": "Paris."}, "contentBlockIndex": 0}}),
    chunk({"contentBlockStop": {"contentBlockIndex": 0}}),
    chunk({"messageStop": {"stopReason": "content_filtered"}}),
    chunk({"metadata": {"usage": {"inputTokens": 7, "outputTokens": 2}},
           "amazon-bedrock-invocationMetrics": {**METRICS, "inputTokenCount": 7, "outputTokenCount": 2}}),
]


class Bedrock:
    """The stub's Bedrock routes: one-shot, in order; the request bodies they got."""

    def __init__(self, stub: Any) -> None:
        self.stub = stub
        self.bodies: list[dict[str, Any]] = []

    def _path(self, model: str, action: str) -> str:
        return f"/model/{model}/{action}"

    def _serve(self, model: str, action: str, make: Any) -> None:
        def handler(request: Request) -> Response:
            self.bodies.append(json.loads(request.get_data() or b"{}"))
            return make()

        self.stub.handler(self._path(model, action), handler)

    def json(self, model: str, action: str, body: dict[str, Any], status: int = 200,
             headers: dict[str, str] | None = None) -> None:
        self._serve(model, action, lambda: Response(json.dumps(body), status=status, content_type="application/json",
                                                    headers={"x-amzn-RequestId": REQUEST_ID, **(headers or {})}))

    def error(self, model: str, action: str, code: str, status: int, message: str) -> None:
        self.json(model, action, {"message": message}, status, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"})

    def events(self, model: str, action: str, frames: list[bytes]) -> None:
        self._serve(model, action, lambda: Response(iter(frames), status=200,
                                                    content_type="application/vnd.amazon.eventstream",
                                                    headers={"x-amzn-RequestId": REQUEST_ID}))


@pytest.fixture
def bedrock_on() -> Iterator[BedrockInstrumentor]:
    inst = BedrockInstrumentor()
    inst.instrument()
    assert inst._patches, "bedrock was not instrumented"
    try:
        yield inst
    finally:
        inst.uninstrument()


def _client(stub: Any) -> Any:
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                                    region_name="us-east-1")
    return session.client("bedrock-runtime", endpoint_url=stub.url(),
                           config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def br(stub) -> Any:
    return _client(stub)


@pytest.fixture
def aws(stub) -> Bedrock:
    return Bedrock(stub)


def _attrs(sdk: Any, model: str) -> Any:
    return sdk.span(f"chat {model}").attributes


# --- the framing itself ---------------------------------------------------------------------------------------
def test_stub_frames_decode_with_botocores_event_stream_buffer():
    buffer = EventStreamBuffer()
    raw = b"".join(CONVERSE_STREAM)
    buffer.add_data(raw[:7])  # split mid-prelude: the decoder waits for the rest
    buffer.add_data(raw[7:])
    messages = list(buffer)
    assert len(messages) == len(CONVERSE_STREAM)
    first = messages[0]
    assert first.headers == {":event-type": "messageStart", ":content-type": "application/json",
                             ":message-type": "event"}
    assert json.loads(first.payload) == {"role": "assistant"}
    assert json.loads(messages[-1].payload)["usage"]["cacheReadInputTokens"] == 2000
    broken = bytearray(CONVERSE_STREAM[0])
    broken[-1] ^= 0xFF  # a wrong message CRC is refused: the CRCs are really checked
    with pytest.raises(botocore.eventstream.ChecksumMismatch):
        bad = EventStreamBuffer()
        bad.add_data(bytes(broken))
        list(bad)


# --- converse -------------------------------------------------------------------------------------------------
def test_converse(sdk, stub, aws, br, bedrock_on):
    aws.json(CLAUDE, "converse", CONVERSE)
    reply = br.converse(modelId=CLAUDE, messages=USER,
                        inferenceConfig={"maxTokens": 64, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]})
    assert reply["output"]["message"]["content"][0]["text"] == "The capital of France is Paris."
    span = sdk.span(f"chat {CLAUDE}")
    a = span.attributes
    assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat" and a[sc.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert a[sc.GEN_AI_REQUEST_MODEL] == CLAUDE
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == stub.server.port
    assert (a[sc.GEN_AI_REQUEST_MAX_TOKENS], a[sc.GEN_AI_REQUEST_TEMPERATURE], a[sc.GEN_AI_REQUEST_TOP_P]) == (
        64, 0.3, 0.9)
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)
    assert sc.GEN_AI_REQUEST_STREAM not in a
    assert a[sc.GEN_AI_RESPONSE_ID] == REQUEST_ID
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    # input includes the cache reads and writes: 14 + 1024 + 6
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (1044, 9)
    assert (a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS], a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS]) == (1024, 6)
    assert sc.GEN_AI_OUTPUT_MESSAGES not in a  # content is opt-in
    assert aws.bodies[0]["inferenceConfig"]["maxTokens"] == 64  # the request went out as made


def test_converse_tool_use_with_content(make_sdk, stub, aws, br, bedrock_on):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    aws.json(NOVA, "converse", CONVERSE_TOOL)
    br.converse(modelId=NOVA, messages=USER, toolConfig=TOOLS, system=[{"text": "Be brief."}])
    a = _attrs(sdk, NOVA)
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_call",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALLS]) == ("get_weather",)
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (391, 58)
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out == [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "text", "content": "Let me check."},
        {"type": "tool_call", "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "get_weather",
         "arguments": {"city": "Paris"}}]}]
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "What is the capital of France?"
    assert "get_weather" in a[sc.GEN_AI_TOOL_DEFINITIONS]


def test_finish_reasons_and_usage_rules():
    assert {k: finish_reason(k) for k in FINISH_REASONS} == {
        "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "model_context_window_exceeded": "length",
        "tool_use": "tool_call", "guardrail_intervened": "content_filter", "content_filtered": "content_filter",
        "refusal": "content_filter"}
    assert finish_reason("pause_turn") == "pause_turn" and finish_reason("stop") == "stop"
    assert usage_counts({"inputTokens": 3, "outputTokens": 4}) == (3, 4, None, None)
    assert usage_counts({"input_tokens": 3, "cache_read_input_tokens": 5, "output_tokens": 1}) == (8, 1, 5, None)
    assert usage_counts(None) == (None, None, None, None)


# --- converse_stream --------------------------------------------------------------------------------------------
def test_converse_stream(sdk, aws, br, bedrock_on):
    aws.events(CLAUDE, "converse-stream", CONVERSE_STREAM)
    response = br.converse_stream(modelId=CLAUDE, messages=USER, inferenceConfig={"maxTokens": 100})
    stream = response["stream"]
    assert isinstance(stream, EventStream)  # the stand-in keeps the type
    assert sdk.spans() == []  # open until the stream is read
    events = list(stream)
    assert len(events) == 9 and events[0] == {"messageStart": {"role": "assistant"}}
    a = _attrs(sdk, CLAUDE)
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 100
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 9 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[sc.GEN_AI_RESPONSE_ID] == REQUEST_ID
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_call",)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (2020, 31)
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2000
    assert tuple(a[sc.AGENTKIT_RESPONSE_TOOL_CALL_IDS]) == ("tooluse_1",)
    list(stream)  # read again: nothing more, and no second end
    assert len(sdk.spans()) == 1


def test_converse_stream_content(make_sdk, stub, aws, br, bedrock_on):
    sdk = make_sdk(capture_content="SPAN_ONLY")
    aws.events(CLAUDE, "converse-stream", CONVERSE_STREAM)
    for _ in br.converse_stream(modelId=CLAUDE, messages=USER)["stream"]:
        pass
    out = json.loads(_attrs(sdk, CLAUDE)[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out == [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "text", "content": "The capital of France is Paris."},
        {"type": "tool_call", "id": "tooluse_1", "name": "get_weather", "arguments": {"city": "Paris"}}]}]


def test_stream_break_close_and_gc_end_the_span_once(sdk, aws, br, bedrock_on):
    for _ in range(3):
        aws.events(CLAUDE, "converse-stream", CONVERSE_STREAM)
    stream = br.converse_stream(modelId=CLAUDE, messages=USER)["stream"]
    for i, _ in enumerate(stream):
        if i == 2:
            break
    assert [s.attributes[sc.AGENTKIT_STREAM_CHUNKS] for s in sdk.spans()] == [3]  # ended at the break
    stream.close()
    closed = br.converse_stream(modelId=CLAUDE, messages=USER)["stream"]
    next(closed)
    closed.close()
    dropped = br.converse_stream(modelId=CLAUDE, messages=USER)
    next(dropped["stream"])
    del dropped
    gc.collect()
    spans = sdk.spans()
    assert [s.attributes[sc.AGENTKIT_STREAM_CHUNKS] for s in spans] == [3, 1, 1], "each ended exactly once"
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)
    assert all(sc.GEN_AI_RESPONSE_FINISH_REASONS not in s.attributes for s in spans)  # messageStop never came


def test_error_event_inside_a_stream(sdk, aws, br, bedrock_on):
    aws.events(CLAUDE, "converse-stream", CONVERSE_STREAM[:2] + [
        exception("throttlingException", "Too many tokens, please wait before trying again.")])
    stream = br.converse_stream(modelId=CLAUDE, messages=USER)["stream"]
    with pytest.raises(EventStreamError) as failed:
        list(stream)
    assert failed.value.response["Error"]["Code"] == "throttlingException"
    span = sdk.span(f"chat {CLAUDE}")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "botocore.exceptions.EventStreamError"
    assert span.attributes[sc.AGENTKIT_STREAM_CHUNKS] == 2
    assert sc.HTTP_RESPONSE_STATUS_CODE not in span.attributes  # the HTTP answer was 200


# --- invoke_model -------------------------------------------------------------------------------------------------
def test_invoke_model_anthropic(sdk, aws, br, bedrock_on):
    aws.json(CLAUDE, "invoke", CLAUDE_MESSAGE, headers={"x-amzn-bedrock-input-token-count": "112",
                                                        "x-amzn-bedrock-output-token-count": "5"})
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "temperature": 0.5, "top_k": 40,
            "stop_sequences": ["END"], "messages": [{"role": "user", "content": "Capital of France?"}]}
    response = br.invoke_model(modelId=CLAUDE, body=json.dumps(body))
    assert json.loads(response["body"].read()) == CLAUDE_MESSAGE  # the caller still reads the whole body
    a = _attrs(sdk, CLAUDE)
    assert (a[sc.GEN_AI_REQUEST_MAX_TOKENS], a[sc.GEN_AI_REQUEST_TEMPERATURE], a[sc.GEN_AI_REQUEST_TOP_K]) == (
        5, 0.5, 40)
    assert tuple(a[sc.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)
    assert a[sc.GEN_AI_RESPONSE_ID] == "msg_bdrk_01Xk9fQm3RZB4u7nKcLpVw2T"  # better than the request id
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "claude-haiku-4-5-20251001"
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("length",)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (112, 5)
    assert a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 100


def test_invoke_model_nova(sdk, aws, br, bedrock_on):
    aws.json(NOVA, "invoke", NOVA_REPLY)
    body = {"schemaVersion": "messages-v1", "messages": USER,
            "inferenceConfig": {"maxTokens": 32, "topP": 0.8, "topK": 20, "stopSequences": ["###"]}}
    response = br.invoke_model(modelId=NOVA, body=json.dumps(body).encode(), contentType="application/json")
    assert json.loads(response["body"].read())["stopReason"] == "end_turn"
    a = _attrs(sdk, NOVA)
    assert (a[sc.GEN_AI_REQUEST_MAX_TOKENS], a[sc.GEN_AI_REQUEST_TOP_P], a[sc.GEN_AI_REQUEST_TOP_K]) == (32, 0.8, 20)
    assert a[sc.GEN_AI_RESPONSE_ID] == REQUEST_ID
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (7, 3)


# --- invoke_model_with_response_stream ----------------------------------------------------------------------------
def test_invoke_stream_anthropic(sdk, aws, br, bedrock_on):
    aws.events(CLAUDE, "invoke-with-response-stream", CLAUDE_STREAM)
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Capital of France?"}]}
    response = br.invoke_model_with_response_stream(modelId=CLAUDE, body=json.dumps(body))
    pieces = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    assert [p["type"] for p in pieces][0] == "message_start" and len(pieces) == 6
    a = _attrs(sdk, CLAUDE)
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[sc.GEN_AI_RESPONSE_ID] == "msg_bdrk_01StreamXyZ"
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (42, 6)  # 12 + 30 cache reads
    assert a[sc.AGENTKIT_STREAM_CHUNKS] == 6 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_invoke_stream_nova(sdk, aws, br, bedrock_on):
    aws.events(NOVA, "invoke-with-response-stream", NOVA_STREAM)
    body = {"schemaVersion": "messages-v1", "messages": USER, "inferenceConfig": {"maxTokens": 16}}
    stream = br.invoke_model_with_response_stream(modelId=NOVA, body=json.dumps(body))["body"]
    assert len(list(stream)) == 5
    a = _attrs(sdk, NOVA)
    assert a[sc.GEN_AI_RESPONSE_ID] == REQUEST_ID and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 16
    assert tuple(a[sc.GEN_AI_RESPONSE_FINISH_REASONS]) == ("content_filter",)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (7, 2)


# --- failures -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", ["converse", "converse_stream", "invoke_model", "invoke_model_with_response_stream"])
def test_http_errors(sdk, aws, br, bedrock_on, call):
    action = {"converse": "converse", "converse_stream": "converse-stream", "invoke_model": "invoke",
              "invoke_model_with_response_stream": "invoke-with-response-stream"}[call]
    aws.error(CLAUDE, action, "ThrottlingException", 429, "Too many requests, please wait before trying again.")
    kwargs = {"messages": USER} if call.startswith("converse") else {"body": json.dumps({"messages": []})}
    with pytest.raises(ClientError) as failed:
        getattr(br, call)(modelId=CLAUDE, **kwargs)
    assert failed.value.response["Error"]["Code"] == "ThrottlingException"
    span = sdk.span(f"chat {CLAUDE}")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "botocore.errorfactory.ThrottlingException"  # the code, by type
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 429
    assert [e.name for e in span.events] == ["exception"]


def test_other_aws_calls_are_left_alone(sdk, stub, br, bedrock_on):
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                                    region_name="us-east-1")
    control = session.client("bedrock", endpoint_url=stub.url(), config=Config(retries={"total_max_attempts": 1}))

    def handler(request: Request) -> Response:
        return Response(json.dumps({"modelSummaries": []}), content_type="application/json")

    stub.server.expect_ordered_request("/foundation-models", method="GET").respond_with_handler(handler)
    assert control.list_foundation_models()["modelSummaries"] == []
    assert sdk.spans() == []


# --- no second span -------------------------------------------------------------------------------------------
def test_feeds_a_users_llm_block(sdk, aws, br, bedrock_on):
    aws.events(CLAUDE, "converse-stream", CONVERSE_STREAM)
    with agentkit.llm() as call:  # no provider or model given: the call fills them in
        assert len(list(br.converse_stream(modelId=CLAUDE, messages=USER)["stream"])) == 9
        assert call.span.is_recording()
    (span,) = sdk.spans()
    a = span.attributes
    assert span.name == f"chat {CLAUDE}"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 31 and a[sc.AGENTKIT_STREAM_CHUNKS] == 9


def test_users_values_win(sdk, aws, br, bedrock_on):
    aws.json(CLAUDE, "converse", CONVERSE)

    @agentkit.llm(provider="aws.bedrock", model=CLAUDE, max_tokens=999)
    def ask():
        return br.converse(modelId=CLAUDE, messages=USER, inferenceConfig={"maxTokens": 64})

    ask()
    (span,) = sdk.spans()
    assert span.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 999
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 9


# --- instrument / uninstrument --------------------------------------------------------------------------------
def test_clients_made_before_instrument_are_traced_and_uninstrument_is_exact(sdk, stub, aws):
    original = BaseClient.__dict__["_make_api_call"]
    made_before = _client(stub)
    inst = BedrockInstrumentor()
    inst.instrument()
    try:
        assert isinstance(BaseClient.__dict__["_make_api_call"], wrapt.FunctionWrapper)
        aws.json(CLAUDE, "converse", CONVERSE)
        made_before.converse(modelId=CLAUDE, messages=USER)
        assert len(sdk.spans()) == 1
    finally:
        inst.uninstrument()
    assert BaseClient.__dict__["_make_api_call"] is original
    aws.json(CLAUDE, "converse", CONVERSE)
    made_before.converse(modelId=CLAUDE, messages=USER)
    assert len(sdk.spans()) == 1


class _FutureOnly(BedrockInstrumentor):
    """The same instrumentor, supporting only versions that do not exist (nothing is mocked)."""

    _instance = None
    requirement = "boto3 >= 99"


def test_unsupported_version_warns_once_and_patches_nothing(sdk, caplog):
    original = BaseClient.__dict__["_make_api_call"]
    inst = _FutureOnly()
    with caplog.at_level(logging.WARNING, logger="otel_agentkit.auto"):
        inst.instrument()
    try:
        assert BaseClient.__dict__["_make_api_call"] is original
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert f"boto3 {boto3.__version__} is not supported" in warnings[0].getMessage()
        assert "boto3 >= 99" in warnings[0].getMessage()
    finally:
        inst.uninstrument()
