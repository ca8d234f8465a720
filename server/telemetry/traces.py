"""OpenTelemetry traces, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Then server RPCs, asyncpg statements and Redis commands become spans
exported over OTLP (the standard OTEL_* variables configure the exporter:
endpoint, headers, service name), and every log line carries its trace id.
Off, nothing of OpenTelemetry is even imported.
"""

from __future__ import annotations

import os
from typing import Any

_enabled = False


def enabled() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure(service: str) -> None:
    """Install the tracer provider and the instrumentations, before any server or client is made."""
    global _enabled
    if not enabled() or _enabled:
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    GrpcAioInstrumentorServer().instrument()  # type: ignore[no-untyped-call]
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument()
    _enabled = True


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, hex, or None (tracing off, or no span)."""
    if not _enabled:
        return None
    from opentelemetry import trace

    context: Any = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def shutdown() -> None:
    """Export what is pending (a stopping process)."""
    if _enabled:
        from opentelemetry import trace

        provider: Any = trace.get_tracer_provider()
        provider.shutdown()
