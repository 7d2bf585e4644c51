"""Shared helpers for the trace-format tests (OTLP / Jaeger / Zipkin): fixtures, tiny recipes, OTLP builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recipemut.recipe.model import Recipe, recipe_from_dict

REALDATA = Path(__file__).parent / "realdata"
EXAMPLE = Path(__file__).parent.parent / "recipes" / "zipkin_simple_db"


def real(name: str) -> Path:
    """A real fixture (see tests/realdata/SOURCES.md)."""
    return REALDATA / name


def recipe(ops: list[dict[str, Any]], name: str = "demo") -> Recipe:
    """A small recipe whose operations are given as (id, service, action) dicts, chained by no field."""
    return recipe_from_dict(
        {
            "apiVersion": "recipemut/v1",
            "kind": "Recipe",
            "name": name,
            "version": 1,
            "fields": {},
            "inputs": [],
            "outputs": [],
            "operations": [{"consumes": [], "produces": [], **o} for o in ops],
        }
    )


def otlp_attr(key: str, value: Any) -> dict[str, Any]:
    """An OTLP KeyValue with the AnyValue the proto JSON mapping writes (ints as strings)."""
    if isinstance(value, bool):
        v: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}
    elif isinstance(value, float):
        v = {"doubleValue": value}
    else:
        v = {"stringValue": value}
    return {"key": key, "value": v}


def otlp_span(
    trace: str,
    span: str,
    name: str,
    start_ns: int,
    dur_ns: int,
    *,
    parent: str | None = None,
    kind: int | str = 2,
    status: Any = None,
    attrs: dict[str, Any] | None = None,
    as_numbers: bool = False,
    trace_state: str | None = None,
) -> dict[str, Any]:
    sp: dict[str, Any] = {
        "traceId": trace,
        "spanId": span,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": start_ns if as_numbers else str(start_ns),
        "endTimeUnixNano": start_ns + dur_ns if as_numbers else str(start_ns + dur_ns),
        "attributes": [otlp_attr(k, v) for k, v in (attrs or {}).items()],
    }
    if parent:
        sp["parentSpanId"] = parent
    if status is not None:
        sp["status"] = status
    if trace_state:
        sp["traceState"] = trace_state
    return sp


def otlp_doc(service_spans: dict[str, list[dict[str, Any]]], resource_attrs: dict[str, Any] | None = None) -> dict:
    """An ExportTraceServiceRequest: one resourceSpans entry per service."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [otlp_attr("service.name", svc)]
                    + [otlp_attr(k, v) for k, v in (resource_attrs or {}).items()]
                },
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
            for svc, spans in service_spans.items()
        ]
    }


def write_json(path: Path, doc: Any, *, lines: bool = False) -> Path:
    """Write a document (or, with ``lines``, a list of documents one per line, compact)."""
    if lines:
        path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in doc), encoding="utf-8")
    else:
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def skew_recipe(last: str) -> str:
    """The recipe of Zipkin's skew trace (``get -> post -> LAST``, the last named ``last``), as YAML text."""
    return (
        "apiVersion: recipemut/v1\nkind: Recipe\nname: skew\nversion: 1\nfields: {}\ninputs: []\noutputs: []\n"
        "services:\n  servicea: {}\n  serviceb: {}\noperations:\n"
        "  - {id: get, service: servicea, action: get, consumes: [], produces: []}\n"
        "  - {id: post, service: serviceb, action: post, consumes: [], produces: [], after: [get]}\n"
        f"  - {{id: {last}, service: serviceb, action: {last}, consumes: [], produces: [], after: [post]}}\n"
    )
