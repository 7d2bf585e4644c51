"""Generated nested spans: a caller's span encloses its callees', the profile charges it its own time,
and the unchanged recipe replays the recorded end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import RecipemutError
from recipemut.loggen import generate_spans, load_params, params_from_dict, write_jsonl
from recipemut.logs.ingest import read_logs
from recipemut.predict.simulate import replay
from recipemut.profile.build import build_profile
from recipemut.recipe.model import Recipe, recipe_from_dict

runner = CliRunner()


def _chain(n: int, extra: dict[int, dict[str, Any]] | None = None) -> Recipe:
    """o0 -> o1 -> ... (each consumes the previous one's product)."""
    extra = extra or {}
    ops = [
        {"id": f"o{i}", "service": f"s{i % 2}", "action": f"A{i}", "consumes": [f"f{i}"], "produces": [f"f{i + 1}"]}
        | extra.get(i, {})
        for i in range(n)
    ]
    fields = {f"f{i}": {"type": "string"} for i in range(n + 1)} | {"ids": {"type": "array"}}
    return recipe_from_dict(
        {
            "apiVersion": "recipemut/v1",
            "kind": "Recipe",
            "name": "chain",
            "version": 1,
            "fields": fields,
            "inputs": ["f0"],
            "outputs": [f"f{n}"],
            "operations": ops,
        }
    )


def _params(inside: dict[str, str], **defaults: Any) -> Any:
    return params_from_dict(
        {"defaults": {"error_prob": 0.0} | defaults, "operations": {k: {"inside": v} for k, v in inside.items()}}
    )


def _by_request(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["request_id", "op", "start_ms"]).reset_index(drop=True)


def test_callers_enclose_their_callees_and_callees_name_them() -> None:
    r = _chain(3)
    flat = _by_request(generate_spans(r, 40, seed=2, params=_params({})))
    nested = _by_request(generate_spans(r, 40, seed=2, params=_params({"o1": "o0", "o2": "o1"})))
    # the schedule is unchanged: same starts, statuses, costs; only the callers' spans grew
    for c in ("request_id", "op", "start_ms", "status", "cost_usd"):
        assert nested[c].tolist() == flat[c].tolist(), c
    lat = flat.pivot(index="request_id", columns="op", values="latency_ms")
    got = nested.pivot(index="request_id", columns="op", values="latency_ms")
    np.testing.assert_allclose(got["o2"], lat["o2"], atol=1e-3)
    np.testing.assert_allclose(got["o1"], lat["o1"] + lat["o2"], atol=1e-3)  # o1 holds o2
    np.testing.assert_allclose(got["o0"], lat["o0"] + lat["o1"] + lat["o2"], atol=1e-3)  # o0 holds o1 (and o2)
    ids = nested.pivot(index="request_id", columns="op", values="span_id")
    parents = nested.pivot(index="request_id", columns="op", values="parent_span_id")
    assert parents["o0"].isna().all()
    assert parents["o1"].tolist() == ids["o0"].tolist() and parents["o2"].tolist() == ids["o1"].tolist()


def test_a_caller_later_than_its_callee_keeps_its_end() -> None:
    # o0 and o2 both inside o0... o2 starts after o1, which is inside o0 too: o0 ends at o2's end
    r = _chain(3)
    flat = _by_request(generate_spans(r, 20, seed=5, params=_params({})))
    nested = _by_request(generate_spans(r, 20, seed=5, params=_params({"o1": "o0", "o2": "o0"})))
    lat = flat.pivot(index="request_id", columns="op", values="latency_ms")
    got = nested.pivot(index="request_id", columns="op", values="latency_ms")
    np.testing.assert_allclose(got["o0"], lat.sum(axis=1), atol=1e-3)
    np.testing.assert_allclose(got["o1"], lat["o1"], atol=1e-3)
    ids = nested.pivot(index="request_id", columns="op", values="span_id")
    parents = nested.pivot(index="request_id", columns="op", values="parent_span_id")
    assert parents["o1"].tolist() == ids["o0"].tolist() == parents["o2"].tolist()


def _profiled(r: Recipe, df: pd.DataFrame, tmp_path: Path, name: str) -> Any:
    path = tmp_path / name
    write_jsonl(df, path)
    spans, _ = read_logs(path, recipe=r)
    return build_profile(spans, r)


def _check_own_time_and_replay(r: Recipe, inside: dict[str, str], tmp_path: Path, **kw: Any) -> None:
    flat = generate_spans(r, 300, seed=3, params=_params({}, **kw), duration_s=86400)
    nested = generate_spans(r, 300, seed=3, params=_params(inside, **kw), duration_s=86400)
    p_flat = _profiled(r, flat, tmp_path, "flat.jsonl")
    p_nest = _profiled(r, nested, tmp_path, "nested.jsonl")
    # the recorded callers' spans are longer...
    callers = sorted(set(inside.values()))
    rec = nested.groupby("op")["latency_ms"].sum()
    assert all(rec[c] > flat.groupby("op")["latency_ms"].sum()[c] for c in callers)
    # ...and the profile charges each its own time: the figures of the log without nesting
    np.testing.assert_allclose(p_nest.latency_ms, p_flat.latency_ms, atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(p_nest.e2e_latency_ms, p_flat.e2e_latency_ms, atol=1e-3)
    replayed = replay(r, p_nest, rng=np.random.default_rng(0)).latency_ms
    recorded = p_nest.e2e_latency_ms
    for q in (50, 95):
        assert np.percentile(replayed, q) == pytest.approx(np.percentile(recorded, q), rel=0.05)
    assert float(np.mean(replayed)) == pytest.approx(float(np.mean(recorded)), rel=0.05)


def test_profile_charges_own_time_and_the_unchanged_replay_is_the_recorded_end_to_end(tmp_path: Path) -> None:
    _check_own_time_and_replay(_chain(4), {"o1": "o0", "o2": "o1", "o3": "o0"}, tmp_path)


def test_a_fan_out_called_from_within_a_caller(tmp_path: Path) -> None:
    # o1 calls o2 once per item, two in flight: o1's span holds all of o2's calls
    r = _chain(3, {1: {"produces": ["f2", "ids"]}, 2: {"consumes": ["f2", "ids"], "foreach": "ids", "concurrency": 2}})
    _check_own_time_and_replay(r, {"o2": "o1"}, tmp_path)


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_any_consistent_nesting_of_a_chain_is_charged_back(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 5))
    inside: dict[str, str] = {}
    for i in range(1, n):
        # inside the previous operation or any operation that one is nested in: always consistent
        options = [f"o{i - 1}"]
        while options[-1] in inside:
            options.append(inside[options[-1]])
        pick = data.draw(st.sampled_from([None, *options]))
        if pick is not None:
            inside[f"o{i}"] = pick
    r = _chain(n)
    flat = _by_request(generate_spans(r, 30, seed=1, params=_params({})))
    nested = _by_request(generate_spans(r, 30, seed=1, params=_params(inside)))
    assert nested["start_ms"].tolist() == flat["start_ms"].tolist()
    assert (nested["latency_ms"] >= flat["latency_ms"] - 1e-3).all()
    # a caller's span ends where its last callee ends
    end = nested.assign(end=nested["start_ms"] + nested["latency_ms"])
    ends = end.pivot(index="request_id", columns="op", values="end")
    for callee, caller in inside.items():
        assert (ends[caller] >= ends[callee] - 1e-3).all()
    profile = build_profile(nested, r)
    np.testing.assert_allclose(profile.latency_ms, build_profile(flat, r).latency_ms, atol=1e-3)


def test_without_inside_the_log_is_byte_identical(tmp_path: Path) -> None:
    r = _chain(3)
    write_jsonl(generate_spans(r, 200, seed=4, params=_params({})), tmp_path / "a.jsonl")
    # an `inside` for an operation this recipe does not have changes nothing either
    write_jsonl(generate_spans(r, 200, seed=4, params=_params({"elsewhere": "o0"})), tmp_path / "b.jsonl")
    text = (tmp_path / "a.jsonl").read_bytes()
    assert text == (tmp_path / "b.jsonl").read_bytes()
    assert b"span_id" not in text


@pytest.mark.parametrize(
    ("inside", "expect"),
    [
        ({"o1": "o2"}, "'o2' does not precede 'o1' in the recipe's DAG"),
        ({"o1": "o1"}, "cannot be called from within itself"),
        ({"o1": "nope"}, "has no operation 'nope'"),
        ({"o2": "o0"}, "'o1' runs between 'o0' and 'o2' but is not inside 'o0'"),
    ],
)
def test_a_bad_inside_names_the_line(tmp_path: Path, inside: dict[str, str], expect: str) -> None:
    body = "".join(f"  {k}:\n    latency_median_ms: 5\n    inside: {v}\n" for k, v in inside.items())
    path = tmp_path / "loggen.yaml"
    path.write_text("defaults: {error_prob: 0}\noperations:\n" + body, encoding="utf-8")
    with pytest.raises(RecipemutError, match=expect) as e:
        generate_spans(_chain(3), 10, params=load_params(path))
    assert e.value.line == 5 and e.value.file == str(path)


@pytest.mark.parametrize(
    ("doc", "expect"),
    [
        ({"defaults": {"inside": "o0"}}, "name the caller of each operation under operations"),
        ({"operations": {"o1": {"inside": 3}}}, "expected the id of an operation"),
    ],
)
def test_bad_inside_values_are_errors(doc: dict[str, Any], expect: str) -> None:
    with pytest.raises(RecipemutError, match=expect):
        params_from_dict(doc)


def test_cli_reports_a_bad_inside_in_one_line(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "apiVersion: recipemut/v1\nkind: Recipe\nname: two\nversion: 1\n"
        "fields: {q: {type: string}, x: {type: string}, y: {type: string}}\ninputs: [q]\noutputs: [y]\n"
        "operations:\n"
        "  - {id: a, service: s, action: A, consumes: [q], produces: [x]}\n"
        "  - {id: b, service: s, action: B, consumes: [q], produces: [y]}\n",
        encoding="utf-8",
    )
    (tmp_path / "loggen.yaml").write_text("operations:\n  b:\n    inside: a\n", encoding="utf-8")
    res = runner.invoke(app, ["generate", str(recipe), "-n", "10", "--out", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1, res.output
    out = res.output.strip()
    assert "loggen.yaml:3" in out and "'a' does not precede 'b'" in out and "Traceback" not in out
    assert len(out.splitlines()) == 1
