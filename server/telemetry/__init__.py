"""What the processes tell operators: structured logs (logs.py), Prometheus metrics (metrics.py),
and, when OTEL_EXPORTER_OTLP_ENDPOINT is set, OpenTelemetry traces (traces.py)."""
