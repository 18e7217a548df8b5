"""Every span name, attribute, metric name, unit and bucket list this SDK emits, in one place.

Follows semantic-conventions-genai v0.1.0 (development status; depends on semantic-conventions v1.45.0) by
default; the names emitted before that release (the "pre-release" set) stay available behind the ``semconv``
setting (see config.py) and are marked "pre-release" below. The constants shipped
in ``opentelemetry-semantic-conventions`` are deprecated for GenAI and lag the text, so the names live here.
Nothing else in the package spells an attribute name as a string literal.
"""

from __future__ import annotations

from typing import Final

# v0.1.0 publishes no schema URL (the repository's README says "Schema URL: TODO"), so none is set under it;
# the pre-release set keeps the development URL it was emitted with.
SCHEMA_URL: Final = None
SCHEMA_URL_PRE_RELEASE: Final = "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev"

# Which names are emitted (the ``semconv`` setting).
SEMCONV_V010: Final = "v0.1.0"
SEMCONV_PRE_RELEASE: Final = "pre-release"
SEMCONV_BOTH: Final = "both"
SEMCONV_MODES: Final = (SEMCONV_V010, SEMCONV_PRE_RELEASE, SEMCONV_BOTH)


def schema_url(mode: str) -> str | None:
    """The schema URL for a ``semconv`` mode (None under v0.1.0, which gives none)."""
    return SCHEMA_URL_PRE_RELEASE if mode == SEMCONV_PRE_RELEASE else SCHEMA_URL
SCOPE_NAME: Final = "otel_agentkit"

# --- operations (gen_ai.operation.name values) ---------------------------------------------------------
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_GENERATE_CONTENT: Final = "generate_content"
OP_EMBEDDINGS: Final = "embeddings"
OP_RETRIEVAL: Final = "retrieval"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
INFERENCE_OPERATIONS: Final = frozenset({OP_CHAT, OP_TEXT_COMPLETION, OP_GENERATE_CONTENT})

# --- GenAI attributes --------------------------------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"  # pre-release only (v0.1.0: gen_ai.agent.name)
GEN_AI_PROMPT_NAME: Final = "gen_ai.prompt.name"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
GEN_AI_RETRIEVAL_TOP_K: Final = "gen_ai.retrieval.top_k"
GEN_AI_INVOCATION_IS_NESTED: Final = "gen_ai.invocation.is_nested"  # pre-release only (an invented name)
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"  # legacy gen_ai.client.token.usage only
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"  # required on the usage counters
MODALITY_TEXT: Final = "text"
MODALITY_UNKNOWN: Final = "unknown"
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"

# Opt-in content (JSON strings on the span, or on the details event).
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
EVENT_INFERENCE_DETAILS: Final = "gen_ai.client.inference.operation.details"
EVENT_INFERENCE_EXCEPTION: Final = "gen_ai.client.inference.exception"  # v0.1.0 (log event, severity WARN)
EVENT_SPAN_EXCEPTION: Final = "exception"  # the span event every OTel backend reads

# Evaluation (feedback) event.
EVENT_EVALUATION_RESULT: Final = "gen_ai.evaluation.result"
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"

# --- general attributes ------------------------------------------------------------------------------------
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
ERROR_TYPE_OTHER: Final = "_OTHER"
ENDUSER_PSEUDO_ID: Final = "enduser.pseudo.id"  # salted SHA-256 prefix of the app's user id, never raw

# --- project attributes (agentkit.*) -----------------------------------------------------------------------
AGENTKIT_COST_USD: Final = "agentkit.cost.usd"
AGENTKIT_SAMPLING_RATIO: Final = "agentkit.sampling.ratio"  # the sampler's ratio when below 1: totals are estimates
AGENTKIT_STAGE: Final = "agentkit.stage"
AGENTKIT_TIER: Final = "agentkit.tier"
AGENTKIT_PROMPT_NAME: Final = "agentkit.prompt.name"  # pre-release (v0.1.0: gen_ai.prompt.name)
# Inherited by every span below a workflow / an agent (v0.1.0 has no workflow attribute for child spans, and
# allows gen_ai.agent.name only on agent spans); readers fall back to gen_ai.workflow.name / gen_ai.agent.name.
AGENTKIT_WORKFLOW_NAME: Final = "agentkit.workflow.name"
AGENTKIT_AGENT_NAME: Final = "agentkit.agent.name"
AGENTKIT_AGENT_ID: Final = "agentkit.agent.id"  # agent(id=...) under v0.1.0 (gen_ai.agent.id left internal spans)
AGENTKIT_PROMPT_FORMAT: Final = "agentkit.prompt.format"
AGENTKIT_RETRIES: Final = "agentkit.retries"
AGENTKIT_PARSE_SUCCESS: Final = "agentkit.parse.success"
AGENTKIT_VALIDATION_SUCCESS: Final = "agentkit.validation.success"
AGENTKIT_STREAM_CHUNKS: Final = "agentkit.stream.chunks"
AGENTKIT_PREFIX: Final = "agentkit."

# --- provider names (gen_ai.provider.name well-known values) -----------------------------------------------
PROVIDER_OPENAI: Final = "openai"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
PROVIDER_MISTRAL: Final = "mistral_ai"

# --- metrics ----------------------------------------------------------------------------------------------
DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
INVOCATION_BUCKETS: Final = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
CALLS_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128)  # calls per agent run (as implementations of v0.1.0 use)

METRIC_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
METRIC_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.inference.time_to_first_chunk"
METRIC_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.inference.time_per_output_chunk"
METRIC_INPUT_TOKENS: Final = "gen_ai.client.inference.operation.input_tokens"
METRIC_OUTPUT_TOKENS: Final = "gen_ai.client.inference.operation.output_tokens"
METRIC_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"
METRIC_USAGE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.input_tokens"  # counters, {token}
METRIC_USAGE_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.output_tokens"
METRIC_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.cache_read.input_tokens"
METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.cache_write.input_tokens"
METRIC_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.reasoning.output_tokens"
METRIC_EMBEDDINGS_DURATION: Final = "gen_ai.client.embeddings.duration"
METRIC_EMBEDDINGS_INPUT_TOKENS: Final = "gen_ai.client.embeddings.operation.input_tokens"
METRIC_INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"  # agents and workflows
METRIC_INVOKE_AGENT_INFERENCE_CALLS: Final = "gen_ai.invoke_agent.inference_calls"  # per run
METRIC_INVOKE_AGENT_TOOL_CALLS: Final = "gen_ai.invoke_agent.tool_calls"  # per run
METRIC_RETRIEVAL_DURATION: Final = "gen_ai.retrieval.duration"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"  # pre-release: retrieval, legacy inference
UNIT_INFERENCE_CALLS: Final = "{inference_call}"
UNIT_TOOL_CALLS: Final = "{tool_call}"
METRIC_INVOCATION_DURATION: Final = "gen_ai.invocation.duration"  # pre-release only
METRIC_LEGACY_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
METRIC_LEGACY_TOKEN_USAGE: Final = "gen_ai.client.token.usage"  # pre-release only
METRIC_COST: Final = "agentkit.cost"
UNIT_SECONDS: Final = "s"
UNIT_TOKENS: Final = "{token}"
UNIT_USD: Final = "USD"

# Cost counter dimensions (short names: they are metric attributes, not span attributes).
COST_ATTR_PROVIDER: Final = "provider"
COST_ATTR_MODEL: Final = "model"
COST_ATTR_WORKFLOW: Final = "workflow"
COST_ATTR_AGENT: Final = "agent"

# SDK self-telemetry.
METRIC_SDK_ERRORS: Final = "agentkit.sdk.errors"
METRIC_SDK_UNPRICED_CALLS: Final = "agentkit.sdk.unpriced_calls"
METRIC_SDK_PENDING_MEASUREMENTS: Final = "agentkit.sdk.pending_measurements"
METRIC_SDK_DROPPED: Final = "agentkit.sdk.dropped"
METRIC_SDK_TRUNCATED_ATTRIBUTES: Final = "agentkit.sdk.truncated_attributes"  # by "attribute"

# Attributes that carry message content: stripped by collector-config.yaml for backends that must not see it.
CONTENT_ATTRIBUTES: Final = (
    GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES, GEN_AI_SYSTEM_INSTRUCTIONS, GEN_AI_TOOL_DEFINITIONS,
)


def span_name(operation: str, target: str | None) -> str:
    """``{operation} {target}``; the operation alone when the target is unknown (as the conventions say)."""
    return f"{operation} {target}" if target else operation


# === multi-agent operations (otel_agentkit/agents/) ========================================================
# Heartbeats, event streams, coordination signals, feedback and approval gates. Project names (agentkit.*);
# the feedback event itself is the GenAI gen_ai.evaluation.result above.
AGENTKIT_AGENT_STATUS: Final = "agentkit.agent.status"
AGENTKIT_AGENT_PROGRESS: Final = "agentkit.agent.progress"
AGENTKIT_AGENT_TASK: Final = "agentkit.agent.current_task"
AGENTKIT_EVENT_TYPE: Final = "agentkit.event.type"
AGENTKIT_EVENT_ID: Final = "agentkit.event.id"
AGENTKIT_EVENT_SOURCE: Final = "agentkit.event.source"
AGENTKIT_SIGNAL_TYPE: Final = "agentkit.signal.type"
AGENTKIT_SIGNAL_ID: Final = "agentkit.signal.id"
AGENTKIT_SIGNAL_SENDER: Final = "agentkit.signal.sender"
AGENTKIT_SIGNAL_TARGET: Final = "agentkit.signal.target"
AGENTKIT_SIGNAL_OUTCOME: Final = "agentkit.signal.outcome"  # sent | refused | received
AGENTKIT_APPROVAL_ID: Final = "agentkit.approval.id"
AGENTKIT_APPROVAL_KIND: Final = "agentkit.approval.kind"
AGENTKIT_APPROVAL_OUTCOME: Final = "agentkit.approval.outcome"  # approved | rejected | timeout
AGENTKIT_APPROVAL_RESPONDER: Final = "agentkit.approval.responder"
AGENTKIT_APPROVAL_REASON: Final = "agentkit.approval.reason"
AGENTKIT_STORE: Final = "agentkit.store"  # sqlite | redis
AGENTKIT_OPERATION: Final = "agentkit.operation"

OP_AWAIT_APPROVAL: Final = "await_approval"  # span name "await_approval {kind}"
EVENT_AGENT_START: Final = "agentkit.agent.start"
EVENT_AGENT_HEARTBEAT: Final = "agentkit.agent.heartbeat"
EVENT_AGENT_STOP: Final = "agentkit.agent.stop"
EVENT_AGENT_EVENT: Final = "agentkit.agent.event"  # log record per published stream event
EVENT_SIGNAL_SENT: Final = "agentkit.signal.sent"
EVENT_SIGNAL_RECEIVED: Final = "agentkit.signal.received"
EVENT_APPROVAL_RESPONSE: Final = "agentkit.approval.response"

METRIC_AGENTS_ACTIVE: Final = "agentkit.agents.active"  # up-down counter, {agent}
METRIC_AGENT_PROGRESS: Final = "agentkit.agent.progress"  # gauge, 1, per gen_ai.agent.id
METRIC_AGENT_SIGNALS: Final = "agentkit.agent.signals"  # counter, {signal}
METRIC_FEEDBACK_SCORE: Final = "agentkit.feedback.score"  # histogram, 1
METRIC_APPROVAL_WAIT: Final = "agentkit.approval.wait.duration"  # histogram, s
METRIC_AGENT_STORE_ERRORS: Final = "agentkit.agent.store.errors"  # counter, {error}: contained store failures
UNIT_RATIO: Final = "1"
FEEDBACK_SCORE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
APPROVAL_WAIT_BUCKETS: Final = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 86400)


# === analytics (otel_agentkit/analytics/): names only read, never emitted =================================
# Older GenAI names still written by other instrumentations into Collector files; read as fallbacks when
# the current name is absent (see GENAI_CONVENTIONS.md "Renamed, never emit").
LEGACY_GEN_AI_SYSTEM: Final = "gen_ai.system"
LEGACY_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
LEGACY_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
LEGACY_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
RESOURCE_SERVICE_NAME: Final = "service.name"  # resource attribute: which app a call came from


# === auto-instrumentation of client libraries (otel_agentkit/auto/) ==========================================
# Request/response attributes the openai and anthropic instrumentors read from calls, and the markers they
# use to recognise another GenAI instrumentation's span.
GEN_AI_SYSTEM_LEGACY: Final = "gen_ai.system"  # read only (older instrumentations' marker); never emitted
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"  # text | json
OUTPUT_TYPE_TEXT: Final = "text"
OUTPUT_TYPE_JSON: Final = "json"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
# Tool calls the model asked for: names and call ids (never arguments: those are content, opt-in).
AGENTKIT_RESPONSE_TOOL_CALLS: Final = "agentkit.response.tool_calls"
AGENTKIT_RESPONSE_TOOL_CALL_IDS: Final = "agentkit.response.tool_call_ids"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"


# Request parameters of the decorators (llm)
# Known OpenAI / Anthropic request parameters with no GenAI attribute, kept by agentkit.llm(...) when their
# value is a scalar (see decorators.llm). Never content, tool definitions or end-user identifiers.
AGENTKIT_REQUEST_REASONING_EFFORT: Final = "agentkit.request.reasoning_effort"  # also Responses reasoning.effort
AGENTKIT_REQUEST_EFFORT: Final = "agentkit.request.effort"  # Anthropic output_config.effort
AGENTKIT_REQUEST_VERBOSITY: Final = "agentkit.request.verbosity"  # also Responses text.verbosity
AGENTKIT_REQUEST_THINKING_TYPE: Final = "agentkit.request.thinking.type"
AGENTKIT_REQUEST_THINKING_BUDGET_TOKENS: Final = "agentkit.request.thinking.budget_tokens"
AGENTKIT_REQUEST_TOOL_CHOICE: Final = "agentkit.request.tool_choice"  # the mode or the choice's type, never a name
AGENTKIT_REQUEST_PARALLEL_TOOL_CALLS: Final = "agentkit.request.parallel_tool_calls"
AGENTKIT_REQUEST_MAX_TOOL_CALLS: Final = "agentkit.request.max_tool_calls"
AGENTKIT_REQUEST_LOGPROBS: Final = "agentkit.request.logprobs"
AGENTKIT_REQUEST_TOP_LOGPROBS: Final = "agentkit.request.top_logprobs"
AGENTKIT_REQUEST_STORE: Final = "agentkit.request.store"
AGENTKIT_REQUEST_BACKGROUND: Final = "agentkit.request.background"
AGENTKIT_REQUEST_TRUNCATION: Final = "agentkit.request.truncation"
AGENTKIT_REQUEST_PREVIOUS_RESPONSE_ID: Final = "agentkit.request.previous_response_id"
AGENTKIT_REQUEST_PROMPT_CACHE_RETENTION: Final = "agentkit.request.prompt_cache_retention"
AGENTKIT_REQUEST_SERVICE_TIER: Final = "agentkit.request.service_tier"  # non-OpenAI providers (Anthropic)
AGENTKIT_REQUEST_SPEED: Final = "agentkit.request.speed"
AGENTKIT_REQUEST_INFERENCE_GEO: Final = "agentkit.request.inference_geo"
AGENTKIT_REQUEST_WORKSPACE_ID: Final = "agentkit.request.workspace_id"


# mistral and cohere
# The mistralai and cohere instrumentors (otel_agentkit/auto/mistral.py, cohere.py): Cohere's provider name, and
# the finish reasons of the v0.1.0 output-message schema that provider values are mapped to where they mean the
# same (a value with no counterpart is kept, lower-cased).
PROVIDER_COHERE: Final = "cohere"
FINISH_REASON_STOP: Final = "stop"
FINISH_REASON_LENGTH: Final = "length"
FINISH_REASON_CONTENT_FILTER: Final = "content_filter"
FINISH_REASON_TOOL_CALL: Final = "tool_call"
FINISH_REASON_ERROR: Final = "error"


# google-genai
# The provider value for a Google GenAI client whose backend is not known (the google-genai instrumentor uses
# gcp.gemini for the Gemini Developer API and gcp.vertex_ai for Vertex AI, and this when it cannot tell).
PROVIDER_GCP_GEN_AI: Final = "gcp.gen_ai"


# OpenAI Agents SDK bridge (auto/openai_agents.py): a handoff, which the GenAI conventions have no operation for,
# is an event on the handing-off agent's span.
EVENT_HANDOFF: Final = "agentkit.handoff"
AGENTKIT_HANDOFF_FROM: Final = "agentkit.handoff.from_agent"
AGENTKIT_HANDOFF_TO: Final = "agentkit.handoff.to_agent"


# MCP
# Client-side tools/call spans (auto/mcp.py), names from the GenAI conventions' MCP page (gen-ai/mcp.md).
MCP_METHOD_NAME: Final = "mcp.method.name"
MCP_SESSION_ID: Final = "mcp.session.id"
MCP_PROTOCOL_VERSION: Final = "mcp.protocol.version"
NETWORK_TRANSPORT: Final = "network.transport"
MCP_METHOD_TOOLS_CALL: Final = "tools/call"
NETWORK_TRANSPORT_PIPE: Final = "pipe"  # stdio
NETWORK_TRANSPORT_TCP: Final = "tcp"  # streamable HTTP
NETWORK_PROTOCOL_NAME: Final = "network.protocol.name"
NETWORK_PROTOCOL_HTTP: Final = "http"
# The JSON-RPC error code of a failed request (also its error.type, as the MCP page asks).
RPC_RESPONSE_STATUS_CODE: Final = "rpc.response.status_code"
# error.type of a tools/call whose result has isError=True (the MCP page's value; mcp's server middleware's too).
ERROR_TYPE_MCP_TOOL_ERROR: Final = "tool_error"
# The MCP server span auto/mcp.py makes around a tools/call on the mcp 1.x line (the MCP page's server span).
JSONRPC_REQUEST_ID: Final = "jsonrpc.request.id"
CLIENT_ADDRESS: Final = "client.address"
CLIENT_PORT: Final = "client.port"
