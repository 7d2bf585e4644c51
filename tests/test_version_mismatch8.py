"""Logs of another version of the recipe (a user's finding, pass 8): after ``evaluate`` promoted a
plan (``version: 6``, ``price_items`` moved to ``pricing-edge``), ``profile`` of the version-4 logs
only said that ``fetch_recommendations`` was excluded, then showed price_items with the old
service's latency and cost under the new one. Every command that reads logs against a recipe now
warns, once per kind of mismatch, and lists them in the ingest report (``mismatches``); a canary's
spans are compared with the variant's recipe that served them; no figure changes."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.logs.mismatch import Mismatch, find_mismatches
from recipemut.recipe.loader import load_recipe
from recipemut.usecases.inputs import LogSource, load_inputs, with_mismatches

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
WIDE = {"COLUMNS": "200"}
MOVED = (
    "warning: {n:,} spans of price_items ({c:,} by variant canary, which the recipe no longer holds: promoted or "
    "ended) ran on service pricing; the recipe says pricing-edge (its latency and cost are the old service's)"
)


def _doc() -> dict[str, Any]:
    doc = yaml.safe_load(RECIPE.read_text())
    assert doc["version"] == 4
    return doc


def _moved(doc: dict[str, Any], version: int) -> dict[str, Any]:
    """``doc`` at ``version`` with price_items on pricing-edge (what the promoted plan did)."""
    out = copy.deepcopy(doc)
    out["version"] = version
    op = next(o for o in out["operations"] if o["id"] == "price_items")
    assert op["service"] == "pricing"
    op["service"] = "pricing-edge"
    return out


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _logs(tmp_path: Path, n: int = 400) -> tuple[Path, pd.DataFrame]:
    """Logs of version 4 as it ran (services of the shipped recipe), a fifth of the requests labelled canary."""
    recipe = load_recipe(RECIPE)
    spans = generate_spans(recipe, n, seed=8, variants={"canary": 0.2}, duration_s=3600)
    services = {op.id: op.service for op in recipe.operations}
    spans = spans.assign(service=spans["op"].map(services), recipe_version=4)
    path = tmp_path / "logs.jsonl"
    write_jsonl(spans, path)
    return path, spans


def _canaries(spans: pd.DataFrame) -> str:
    return f"{int((spans['variant'] == 'canary').sum()):,}"


def _price_items(spans: pd.DataFrame, variant: str | None = None) -> int:
    rows = spans["op"] == "price_items"
    if variant is not None:
        rows &= spans["variant"] == variant
    return int(rows.sum())


# ---- the finding: profile of old logs against the promoted recipe ---------------------------------


def test_profile_warns_of_the_old_version_and_the_moved_service(tmp_path: Path) -> None:
    logs, spans = _logs(tmp_path)
    r = _write(tmp_path / "checkout.yaml", _moved(_doc(), 6))
    res = CliRunner().invoke(app, ["profile", str(r), "--logs", str(logs), "-q"], env=WIDE)
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stderr.splitlines() if "version" in x or "ran on service" in x]
    assert lines == [
        f"warning: {logs}: {len(spans):,} spans were logged by version 4 of checkout ({_canaries(spans)} by variant "
        "canary, which the recipe no longer holds: promoted or ended); the recipe is version 6",
        MOVED.format(n=_price_items(spans), c=_price_items(spans, 'canary')),
    ]
    res = CliRunner().invoke(app, ["profile", str(r), "--logs", str(logs), "-q", "-f", "json"])
    mismatches = json.loads(res.stdout)["ingest"]["mismatches"]
    assert [(m["kind"], m["spans"], m["logged"], m["expected"]) for m in mismatches] == [
        ("version", len(spans), 4, 6),
        ("service", _price_items(spans), "pricing", "pricing-edge"),
    ]
    assert mismatches[0]["files"] == [str(logs)] and mismatches[1]["op"] == "price_items"
    assert all(m["variant"] is None for m in mismatches)
    assert mismatches[0]["gone_variants"] == {"canary": int((spans["variant"] == "canary").sum())}


def test_the_shipped_recipe_and_its_logs_match(tmp_path: Path) -> None:
    logs = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
    res = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", str(logs), "-q", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ingest"]["mismatches"] == []
    assert "spans were logged by" not in res.stderr and "ran on service" not in res.stderr


def test_only_the_version_differs_one_line(tmp_path: Path) -> None:
    logs, spans = _logs(tmp_path)
    doc = _doc()
    doc["version"] = 5
    r = _write(tmp_path / "checkout.yaml", doc)
    res = CliRunner().invoke(app, ["profile", str(r), "--logs", str(logs), "-q"], env=WIDE)
    assert "ran on service" not in res.stderr
    assert f"{len(spans):,} spans were logged by version 4 of checkout (" in res.stderr
    said = "by variant canary, which the recipe no longer holds: promoted or ended); the recipe is version 5"
    assert said in res.stderr


def test_no_figure_changes(tmp_path: Path) -> None:
    logs, _ = _logs(tmp_path)
    r = _write(tmp_path / "checkout.yaml", _moved(_doc(), 6))
    inputs = load_inputs(r, LogSource.of(logs))
    assert inputs.report.mismatches  # warned ...
    spans = inputs.spans.copy()
    again = with_mismatches(dataclasses.replace(inputs.report, mismatches=()), inputs.spans, inputs.recipe)
    assert again.mismatches == inputs.report.mismatches
    pd.testing.assert_frame_equal(inputs.spans, spans)  # ... and nothing read is changed
    plain = dataclasses.replace(inputs.report, mismatches=()).to_dict()
    assert {k: v for k, v in inputs.report.to_dict().items() if k != "mismatches"} == {
        k: v for k, v in plain.items() if k != "mismatches"
    }


# ---- every command that reads logs against a recipe -----------------------------------------------


@pytest.mark.parametrize("command", [["forecast"], ["suggest", "--store", "off"], ["report", "--store", "off"]])
def test_other_commands_warn_too(tmp_path: Path, command: list[str]) -> None:
    logs, spans = _logs(tmp_path)
    r = _write(tmp_path / "checkout.yaml", _moved(_doc(), 6))
    out = ["-o", str(tmp_path / "report.html")] if command[0] == "report" else []
    res = CliRunner().invoke(app, [command[0], str(r), "--logs", str(logs), "-q", *command[1:], *out], env=WIDE)
    assert res.exit_code in (0, 3, 4), res.output
    assert MOVED.format(n=_price_items(spans), c=_price_items(spans, 'canary')) in res.stderr.splitlines()
    assert "spans were logged by version 4 of checkout (" in res.stderr and "; the recipe is version 6" in res.stderr


# ---- a canary: each span against the recipe that served it ---------------------------------------


def _canary_recipe(tmp_path: Path) -> Path:
    doc = _doc()
    doc["variants"] = [{"name": "canary", "share": 0.2, "recipe": _moved(doc, 4)}]  # as apply --canary writes it
    return _write(tmp_path / "checkout.yaml", doc)


def _canary_logs(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """Control spans as the recipe ran them, canary spans as its variant (price_items on pricing-edge) did."""
    _, spans = _logs(tmp_path)
    canary = spans["variant"] == "canary"
    spans.loc[canary & (spans["op"] == "price_items"), "service"] = "pricing-edge"
    path = tmp_path / "canary.jsonl"
    write_jsonl(spans, path)
    return path, spans


def test_a_canarys_variant_spans_match_its_recipe(tmp_path: Path) -> None:
    r = _canary_recipe(tmp_path)
    logs, _ = _canary_logs(tmp_path)
    res = CliRunner().invoke(app, ["evaluate", str(r), "--logs", str(logs), "--no-act", "--store", "off", "-q"],
                             env=WIDE)  # fmt: skip
    assert res.exit_code in (0, 3, 4), res.output
    assert "spans were logged by" not in res.stderr and "ran on service" not in res.stderr
    assert load_inputs(r, LogSource.of(logs)).report.mismatches == ()


def test_a_canary_span_of_another_version_names_its_variant(tmp_path: Path) -> None:
    r = _canary_recipe(tmp_path)
    _, spans = _canary_logs(tmp_path)
    canary = spans["variant"] == "canary"
    spans.loc[canary & (spans["op"] == "price_items"), "service"] = "pricing"  # the canary ran the old service
    spans.loc[~canary, "recipe_version"] = 3
    logs = tmp_path / "odd.jsonl"
    write_jsonl(spans, logs)
    res = CliRunner().invoke(app, ["evaluate", str(r), "--logs", str(logs), "--no-act", "--store", "off", "-q"],
                             env=WIDE)  # fmt: skip
    assert (
        f"warning: {logs}: {int((~canary).sum()):,} spans were logged by version 3 of checkout; the recipe is version 4"
    ) in res.stderr.splitlines()
    assert (
        f"warning: {_price_items(spans, 'canary'):,} spans of price_items (variant canary) ran on service pricing; "
        "the recipe's variant canary says pricing-edge (its latency and cost are the old service's)"
    ) in res.stderr.splitlines()


# ---- only where the columns say ------------------------------------------------------------------


def test_without_the_columns_nothing_is_said(tmp_path: Path) -> None:
    logs, spans = _logs(tmp_path)
    bare = tmp_path / "bare.jsonl"
    write_jsonl(spans.assign(recipe_version=pd.NA, service=None), bare)
    r = _write(tmp_path / "checkout.yaml", _moved(_doc(), 6))
    assert load_inputs(r, LogSource.of(bare), profile=False).report.mismatches == ()
    assert load_inputs(r, LogSource.of(logs), profile=False).report.mismatches != ()


def test_a_trace_files_services_are_not_compared(tmp_path: Path) -> None:
    logs, _ = _logs(tmp_path)
    r = _write(tmp_path / "checkout.yaml", _moved(_doc(), 4))  # same version, another service
    inputs = load_inputs(r, LogSource.of(logs), profile=False)
    assert [m.kind for m in inputs.report.mismatches] == ["service"]
    as_trace = dataclasses.replace(inputs.report, formats={str(logs): "otlp"}, mismatches=())
    assert with_mismatches(as_trace, inputs.spans, inputs.recipe).mismatches == ()
    assert find_mismatches(inputs.spans, inputs.recipe, service_files=[]) == ()


def test_several_files_and_versions_are_counted_apart(tmp_path: Path) -> None:
    _, spans = _logs(tmp_path)
    half = spans["request_id"].isin(spans["request_id"].drop_duplicates().iloc[::2])
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(spans[half], a)
    write_jsonl(spans[~half].assign(recipe_version=5), b)
    r = _write(tmp_path / "checkout.yaml", _moved(_doc(), 6))
    got = load_inputs(r, LogSource.of([a, b]), profile=False).report.mismatches
    versions = {m.logged: (m.spans, m.files) for m in got if m.kind == "version"}
    assert versions == {4: (int(half.sum()), (str(a),)), 5: (int((~half).sum()), (str(b),))}
    services = [m for m in got if m.kind == "service"]
    assert [(m.op, m.spans) for m in services] == [("price_items", _price_items(spans))]


def test_message_names_at_most_three_files() -> None:
    m = Mismatch("version", 1, 4, 6, "checkout", files=("a", "b", "c", "d", "e"))
    assert m.message() == (
        "a, b, c and 2 more files: 1 span was logged by version 4 of checkout; the recipe is version 6"
    )


def test_the_dask_engine_warns_alike(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    logs, _ = _logs(tmp_path)
    r = _write(tmp_path / "checkout.yaml", _moved(_doc(), 6))
    local = load_inputs(r, LogSource.of(logs), profile=False).report.mismatches
    dask = load_inputs(r, LogSource.of(logs, engine="dask"), profile=False).report.mismatches
    assert [m.message() for m in dask] == [m.message() for m in local] and len(local) == 2


def test_a_canarys_spans_after_its_recipe_let_it_go_are_said_to_be_its() -> None:
    """After a promote or rollback the recipe holds no variant: the canary's own spans are named as such,
    and the service they ran on is the canary's, not "the old service's"."""
    recipe = load_recipe(RECIPE)
    rows = [("control", 4, "pricing"), ("canary", 5, "pricing-edge"), ("canary", 5, "pricing-edge")]
    spans = pd.DataFrame({
        "variant": [v for v, _, _ in rows], "recipe_version": [n for _, n, _ in rows],
        "service": [s for _, _, s in rows], "op": ["price_items"] * 3, "source_file": ["l.jsonl"] * 3,
    })  # fmt: skip
    version, service = find_mismatches(spans, recipe)
    assert version.message() == ("l.jsonl: 2 spans were logged by version 5 of checkout (2 by variant canary, which "
                                 "the recipe no longer holds: promoted or ended); the recipe is version 4")
    assert service.message() == ("2 spans of price_items (2 by variant canary, which the recipe no longer holds: "
                                 "promoted or ended) ran on service pricing-edge; the recipe says pricing (its latency "
                                 "and cost are pricing-edge's)")
    assert version.to_dict()["gone_variants"] == {"canary": 2} and service.to_dict()["gone_variants"] == {"canary": 2}
