"""Execution logs in: the native JSONL reader, OTLP/Jaeger/Zipkin traces, span mapping, the span table."""
