"""Helpers shared by the export tests: real SDK providers wired to in-memory capture beside our exporters."""

from __future__ import annotations

import base64
import json
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def ids_hex_to_base64(obj: Any) -> Any:
    """OTLP/JSON spells ids in hex; protobuf's canonical JSON (json_format) expects bytes as base64."""
    if isinstance(obj, dict):
        return {k: base64.b64encode(bytes.fromhex(v)).decode() if k in _ID_KEYS and isinstance(v, str)
                else ids_hex_to_base64(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [ids_hex_to_base64(v) for v in obj]
    return obj


def parse_otlp_line(line: bytes | str, message: Any) -> Any:
    """A line as the protobuf message (the Collector's own type), failing on any unknown field."""
    from google.protobuf import json_format

    return json_format.Parse(json.dumps(ids_hex_to_base64(json.loads(line))), message, ignore_unknown_fields=False)


def provider(*exporters: SpanExporter, service: str = "svc") -> tuple[TracerProvider, InMemorySpanExporter]:
    """A real TracerProvider exporting synchronously to ``exporters`` and to an in-memory copy."""
    memory = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    tp.add_span_processor(SimpleSpanProcessor(memory))
    for exporter in exporters:
        tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp, memory
