"""OTLP JSON's ``null`` defaults read by the typed structs (recipemut.logs.otlp): an attribute written
``"value": null`` or a span's ``"attributes": null`` keeps its export on the fast path, with the
table the plain-JSON path gives it."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pytest

from recipemut.logs import otlp
from recipemut.logs.common import DEFAULT_ATTRIBUTES

KEYS = (*DEFAULT_ATTRIBUTES, "app.cache_key", "app.cost_usd", "odd")
NUMERIC = ("app.cost_usd",)
PATH = Path("traces.json")


def kv(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


def span(i: int, attributes: Any) -> dict[str, Any]:
    return {"traceId": f"{i // 3:032x}", "spanId": f"{i + 1:016x}", "parentSpanId": f"{i:016x}" if i % 3 else "",
            "name": f"op{i % 4}", "kind": 2, "startTimeUnixNano": str(10**18 + i * 10**6),
            "endTimeUnixNano": str(10**18 + i * 10**6 + 5 * 10**5), "attributes": attributes,
            "status": {"code": 2} if i % 5 == 0 else {}}  # fmt: skip


def export(first: int, spans: list[Any], resource: list[Any] | None = None) -> dict[str, Any]:
    attrs = [kv("service.name", {"stringValue": f"svc{first}"}), *(resource or [])]
    return {"resourceSpans": [{"resource": {"attributes": attrs}, "scopeSpans": [{"spans": spans}]}]}


def exports() -> list[dict[str, Any]]:
    """Three exports, every one with ``null`` where OTLP JSON allows it, beside ordinary attributes."""
    first = [
        span(0, [kv("odd", None), kv("app.cost_usd", {"doubleValue": 1.5})]),
        span(1, [kv("app.cache_key", {"stringValue": "k1"}), kv("app.cost_usd", None)]),
        span(2, None),
    ]
    # a null value is the span's own attribute (no value): the resource's is not taken instead
    second = [span(3, [kv("app.cache_key", None)]), span(4, [kv("app.cache_key", {"stringValue": "own"})]), span(5, [])]
    third = [
        span(6, [kv("other", None), kv("app.cost_usd", {"intValue": "7"}), kv("odd", {"boolValue": True})]),
        span(7, None),
        span(8, [kv("app.cost_usd", None), kv("app.cost_usd", {"doubleValue": 2.0})]),
    ]
    resource = [kv("app.cache_key", {"stringValue": "from-resource"})]
    return [export(0, first), export(3, second, resource), export(6, third)]


def as_defaults(doc: Any) -> Any:
    """``doc`` with protobuf JSON's ``null`` written as the default it stands for: ``{}`` and ``[]``."""
    doc = copy.deepcopy(doc)
    for rs in doc["resourceSpans"]:
        for sc in rs["scopeSpans"]:
            for sp in sc["spans"]:
                sp["attributes"] = [kv(a["key"], a["value"] or {}) for a in sp["attributes"] or []]
    return doc


class _Refusing:
    """A decoder that refuses every export: the reader's plain-JSON path reads them all."""

    def decode(self, data: bytes) -> Any:
        raise msgspec.ValidationError("refused (test)")


@pytest.fixture
def shaped(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the exports read through the plain-JSON path (``_shaped``)."""
    calls: list[int] = []
    real = otlp._shaped

    def counting(doc: Any, path: Path, first: int) -> otlp.Export:
        calls.append(first)
        return real(doc, path, first)

    monkeypatch.setattr(otlp, "_shaped", counting)
    return calls


def table(data: bytes) -> pa.Table:
    return otlp.parse_table(data, PATH, KEYS, NUMERIC)


def lines(docs: list[Any]) -> bytes:
    return "\n".join(json.dumps(d) for d in docs).encode() + b"\n"


@pytest.mark.parametrize("layout", ["lines", "one document", "one document on several lines"])
def test_null_values_take_the_fast_path_and_give_the_plain_json_table(
    layout: str, shaped: list[int], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    docs = exports()
    if layout == "lines":
        data = lines(docs)
    else:
        merged = {"resourceSpans": [rs for d in docs for rs in d["resourceSpans"]]}
        data = json.dumps(merged, indent=2 if layout != "one document" else None).encode()
    with caplog.at_level(logging.DEBUG, logger=otlp.__name__):
        fast = table(data)
    assert shaped == [] and "plain JSON" not in caplog.text  # no export left the typed structs
    with monkeypatch.context() as m:
        m.setattr(otlp, "_DECODER", _Refusing())
        slow = table(data)
    assert shaped  # the plain-JSON path did read them there
    assert fast.equals(slow), (fast.to_pylist(), slow.to_pylist())
    assert fast.num_rows == 9
    assert fast.column("attr:app.cache_key").to_pylist() == [None, "k1", None, None, "own", "from-resource",
                                                              None, None, None]  # fmt: skip
    assert fast.column("attr:app.cost_usd").to_pylist() == [1.5, None, None, None, None, None, 7.0, None, 2.0]
    assert fast.column("attr:odd").to_pylist() == [None, None, None, None, None, None, "true", None, None]


def test_null_is_read_as_the_default_it_stands_for(shaped: list[int]) -> None:
    docs = exports()
    assert table(lines(docs)).equals(table(lines([as_defaults(d) for d in docs])))
    assert shaped == []


def test_an_export_the_structs_refuse_still_goes_the_plain_json_way_and_is_counted(
    shaped: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    docs = exports()
    docs[1]["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"].append(5)  # not an attribute: dropped
    with caplog.at_level(logging.DEBUG, logger=otlp.__name__):
        got = table(lines(docs))
    assert shaped == [3]  # the second line, its first span the file's 4th
    assert "traces.json: 1 line the structs refused read as plain JSON (first: line 2: " in caplog.text
    assert got.equals(table(lines(exports())))
