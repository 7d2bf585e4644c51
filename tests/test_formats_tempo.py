"""Grafana Tempo's trace JSON (``GET /api/traces/<id>``): OTLP's ResourceSpans under ``batches``, ids in
base64, read like OTLP (synthetic fixture: tests/data/traces/README.md)."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs import traces as formats
from recipemut.logs.detect import detect, detect_format, is_tempo, mismatch
from recipemut.recipe.loader import load_recipe

DATA = Path(__file__).parent / "data" / "traces"
TEMPO = DATA / "tempo_checkout.tempo.json"
RECIPE = DATA / "tempo_checkout.yaml"
MAPPING = DATA / "tempo_checkout.mapping.yaml"
TRACE = "5b8efff798038103d269b633813fc60c"


def as_otlp(doc: dict) -> dict:
    """The same spans as an OTLP export: ``resourceSpans``, ``scopeSpans``, ids in hex."""

    def hexed(v: str) -> str:
        return base64.b64decode(v).hex()

    out = []
    for batch in copy.deepcopy(doc["batches"]):
        scopes = batch.pop("scopeSpans", None) or batch.pop("instrumentationLibrarySpans")
        for scope in scopes:
            for sp in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = hexed(sp[key])
        out.append({"resource": batch["resource"], "scopeSpans": [{"spans": s["spans"]} for s in scopes]})
    return {"resourceSpans": out}


def tempo_doc() -> dict:
    return json.loads(TEMPO.read_text(encoding="utf-8"))


def test_the_fixture_is_tempo_shaped() -> None:
    doc = tempo_doc()
    assert "resourceSpans" not in doc and len(doc["batches"]) == 3
    assert "instrumentationLibrarySpans" in doc["batches"][2]  # an older SDK beside scopeSpans
    assert doc["batches"][0]["scopeSpans"][0]["spans"][0]["traceId"] == "W47/95gDgQPSabYzgT/GDA=="


def test_tempo_is_detected_as_otlp() -> None:
    head = TEMPO.read_bytes()
    assert is_tempo(head) and detect(head) == "otlp" and detect_format(head) == "otlp"
    assert formats.detect_file(TEMPO) == "otlp"
    assert mismatch(head, "otlp") is None  # --log-format otlp accepts it
    assert is_tempo(gzip.compress(head))
    assert not is_tempo(json.dumps(as_otlp(tempo_doc())).encode())
    assert detect(b'{"batches": 3, "jobs": [{"id": 1}]}') is None  # another program's batches


@pytest.mark.parametrize("fmt", [None, "otlp"])
def test_tempo_gives_the_span_table_of_the_same_spans_as_otlp(tmp_path, fmt) -> None:
    otlp_file = tmp_path / "same.otlp.json"
    otlp_file.write_text(json.dumps(as_otlp(tempo_doc())), encoding="utf-8")
    a, ca, na = formats.read(TEMPO, fmt, recipe=None)
    b, cb, nb = formats.read(otlp_file, recipe=None)
    assert len(a) == 4
    assert set(a["request_id"]) == {TRACE}  # base64 ids read as OTLP's hex
    assert sorted(a["service"]) == ["cart", "frontend", "payment", "payment"]
    pd.testing.assert_frame_equal(a.drop(columns="source_file"), b.drop(columns="source_file"))
    assert ca == cb and na == nb
    assert ca["parent_missing"] == 0  # the base64 parent ids join the hex span ids


def test_tempo_with_a_recipe_and_mapping_and_one_document_per_line(tmp_path) -> None:
    lines = tmp_path / "two.tempo.jsonl"
    doc = tempo_doc()
    lines.write_text(
        json.dumps(doc) + "\n" + json.dumps(doc).replace("W47/95gDgQPSabYzgT/GDA==", "AAAAAAAAAAAAAAAAAAAAAQ==") + "\n"
    )
    recipe = load_recipe(RECIPE)
    df, counts, _ = formats.read(lines, recipe=recipe, mapping=MAPPING)
    assert sorted(df["op"]) == ["charge", "charge", "charge", "charge", "load_cart", "load_cart"]
    assert set(df["request_id"]) == {TRACE, "00000000000000000000000000000001"}
    assert counts["unmapped_spans"] == 2  # the frontend's root spans


def test_a_malformed_tempo_answer_names_the_batch(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"batches": [{"resource": {}, "scopeSpans": [{"spans": {"x": 1}}]}]}', encoding="utf-8")
    with pytest.raises(LogError, match=r"batches\[0\]\.scopeSpans\[0\]\.spans"):
        formats.read(bad, recipe=None)


def test_profile_of_a_tempo_file_end_to_end() -> None:
    result = CliRunner().invoke(
        app,
        ["profile", str(RECIPE), "--logs", str(TEMPO), "--map", str(MAPPING), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ingest"]["formats"] == {str(TEMPO): "otlp"}
    assert doc["ingest"]["spans_kept"] == 3 and doc["ingest"]["requests"] == 1
    ops = {o["op"]: o for o in doc["ops"]}
    assert ops["load_cart"]["p50_ms"] == pytest.approx(31.25)
    assert ops["charge"]["error_rate"] == 1.0  # its second call's STATUS_CODE_ERROR
    # from the cart's start (2 ms) to the second charge's end (120.5 ms)
    assert doc["e2e"]["latency_p50_ms"] == pytest.approx(118.5, abs=0.01)
