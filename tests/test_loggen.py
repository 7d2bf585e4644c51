"""The log generator: statistical shape, DAG semantics, determinism, parameters, writing."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import recipe_docs
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import RecipemutError
from recipemut.loggen import (
    DAY_MS,
    DEFAULT_START_MS,
    FieldParams,
    LoggenParams,
    OpParams,
    generate_spans,
    hash_share,
    load_params,
    params_from_dict,
    rate_function,
    synthetic_recipe,
    write_jsonl,
)
from recipemut.logs.ingest import read_logs
from recipemut.logs.spans import SPAN_SCHEMA
from recipemut.predict import cachesim
from recipemut.recipe import transfer
from recipemut.recipe.loader import check_document
from recipemut.recipe.model import Recipe, recipe_from_dict, recipe_to_dict
from recipes import CHECKOUT_EXAMPLE


def _recipe(ops: list[dict[str, Any]], inputs: tuple[str, ...] = ("user_id", "order_id")) -> Recipe:
    fields = {f: {"type": "string"} for f in inputs}
    for op in ops:
        for f in op.get("produces", []):
            fields[f] = {"type": "string"}
    return recipe_from_dict(
        {
            "apiVersion": "recipemut/v1",
            "kind": "Recipe",
            "name": "t",
            "version": 3,
            "fields": fields,
            "inputs": list(inputs),
            "outputs": [ops[-1]["produces"][0]],
            "operations": ops,
        }
    )


ONE_OP = _recipe([{"id": "a", "service": "s", "action": "A", "consumes": ["order_id"], "produces": ["x"]}])

#: guard halts; `side` is not its descendant; `late` depends on guard via an after edge.
GUARDED = _recipe(
    [
        {"id": "load", "service": "s", "action": "L", "consumes": ["order_id"], "produces": ["cart"]},
        {"id": "guard", "service": "s", "action": "G", "consumes": ["user_id"], "produces": ["ok"], "may_halt": True},
        {"id": "side", "service": "s", "action": "S", "consumes": ["cart"], "produces": ["extra"]},
        {"id": "price", "service": "s", "action": "P", "consumes": ["cart"], "produces": ["price"], "after": ["guard"]},
        {"id": "late", "service": "s", "action": "Z", "consumes": ["price", "ok"], "produces": ["out"]},
    ]
)

#: two deterministic ops read user_id (Zipf), one reads order_id (unique per request).
KEYED = _recipe(
    [
        {"id": "tax", "service": "s", "action": "T", "consumes": ["user_id"], "produces": ["t"], "deterministic": True},
        {"id": "geo", "service": "s", "action": "G", "consumes": ["user_id"], "produces": ["g"], "deterministic": True},
        {
            "id": "ord",
            "service": "s",
            "action": "O",
            "consumes": ["order_id"],
            "produces": ["o"],
            "deterministic": True,
        },
        {"id": "end", "service": "s", "action": "E", "consumes": ["t", "g", "o"], "produces": ["z"]},
    ]
)
KEYED_PARAMS = LoggenParams(fields={"user_id": FieldParams(universe=1000, zipf=1.1)})


# ---- arrivals -------------------------------------------------------------------------------------


def test_daily_totals_follow_growth_and_hours_follow_the_cycle() -> None:
    n, growth, amp = 200_000, 0.05, 0.6
    df = generate_spans(ONE_OP, n, seed=7, growth_per_day=growth, diurnal_amplitude=amp)
    t = df["start_ms"].to_numpy()
    day = np.floor((t - DEFAULT_START_MS) / DAY_MS)
    counts = np.bincount(day.astype(int), minlength=14)
    slope = np.polyfit(np.arange(14), np.log(counts), 1)[0]
    assert slope == pytest.approx(np.log1p(growth), abs=0.005)

    hours = ((t / 3_600_000.0) % 24).astype(int)
    by_hour = np.bincount(hours, minlength=24).astype(float)
    expected = rate_function(
        DEFAULT_START_MS + (np.arange(24) + 0.5) * 3_600_000.0 + 7 * DAY_MS,
        n_requests=n,
        growth_per_day=growth,
        diurnal_amplitude=amp,
    )
    expected = expected / expected.sum() * n
    assert np.max(np.abs(by_hour / expected - 1)) < 0.06
    assert by_hour.argmax() == 15  # the default peak hour (UTC)
    assert by_hour.max() / by_hour.min() == pytest.approx((1 + amp) / (1 - amp), rel=0.15)


def test_rate_function_integrates_to_the_request_count() -> None:
    t = np.linspace(DEFAULT_START_MS, DEFAULT_START_MS + 14 * DAY_MS, 14 * 1440 + 1)
    r = rate_function(t, n_requests=50_000, growth_per_day=0.03, weekly_amplitude=0.3)
    assert float(np.trapezoid(r, t / 1000.0)) == pytest.approx(50_000, rel=1e-6)


def test_weekly_cycle_peaks_midweek() -> None:
    df = generate_spans(ONE_OP, 100_000, seed=1, weekly_amplitude=0.5, diurnal_amplitude=0.0)
    weekday = pd.to_datetime(df["start_ms"], unit="ms").dt.day_of_week
    counts = weekday.value_counts()
    assert counts.idxmax() in (1, 2, 3)
    assert counts.idxmin() in (5, 6, 0)


# ---- DAG semantics ----------------------------------------------------------------------------------


class _Wide:
    """Spans as request x operation tables, one per column of interest."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df

    def __getitem__(self, col: str) -> pd.DataFrame:
        return self.df.pivot(index="request_id", columns="op", values=col)


def _by_request(df: pd.DataFrame) -> _Wide:
    return _Wide(df)


def test_each_op_starts_when_its_last_predecessor_ends() -> None:
    df = generate_spans(GUARDED, 3000, seed=2)
    w = _by_request(df)
    end = w["start_ms"] + w["latency_ms"]
    ran = w["start_ms"]["late"].notna()
    expect = np.maximum(end["price"], end["guard"])[ran]
    np.testing.assert_allclose(w["start_ms"]["late"][ran], expect, rtol=0, atol=1e-3)
    both = w["start_ms"]["price"].notna()
    np.testing.assert_allclose(
        w["start_ms"]["price"][both], np.maximum(end["load"], end["guard"])[both], rtol=0, atol=1e-3
    )
    # roots start at the request's arrival
    assert (w["start_ms"]["load"] == w["start_ms"]["guard"]).all()


def test_halt_skips_descendants_only() -> None:
    df = generate_spans(GUARDED, 4000, seed=3, params=LoggenParams(ops={"guard": OpParams(halt_prob=0.3)}))
    w = _by_request(df)
    halted = w["status"]["guard"] == "halted"
    assert 0.25 < halted.mean() < 0.35
    assert w["start_ms"]["price"][halted].isna().all()
    assert w["start_ms"]["late"][halted].isna().all()
    assert w["start_ms"]["side"][halted].notna().mean() > 0.99  # not a descendant: still runs
    assert (df.loc[df["op"] != "guard", "status"] != "halted").all()  # only guards halt


def test_error_skips_descendants() -> None:
    df = generate_spans(GUARDED, 3000, seed=4, params=LoggenParams(ops={"load": OpParams(error_prob=0.2)}))
    w = _by_request(df)
    failed = w["status"]["load"] == "error"
    assert 0.15 < failed.mean() < 0.25
    assert w["start_ms"][["side", "price", "late"]][failed].isna().all().all()
    assert w["start_ms"]["guard"][failed].notna().all()


def test_every_recipe_operation_is_logged_with_the_recipe_identity() -> None:
    df = generate_spans(GUARDED, 500, seed=5)
    assert list(df.columns) == SPAN_SCHEMA.names
    assert set(df["op"]) == {"load", "guard", "side", "price", "late"}
    assert (df["recipe"] == "t").all() and (df["recipe_version"] == 3).all()
    assert df["request_id"].nunique() == 500
    assert (df["latency_ms"] > 0).all() and df["start_ms"].is_monotonic_increasing
    assert df["source_file"].isna().all()


# ---- cache keys, bytes, cost --------------------------------------------------------------------------


def test_zipf_keys_repeat_and_consumers_of_the_same_input_share_keys() -> None:
    df = generate_spans(KEYED, 5000, seed=6, params=KEYED_PARAMS)
    keys = df.pivot(index="request_id", columns="op", values="cache_key")
    assert (keys["tax"] == keys["geo"]).all()  # same consumed values -> same key
    freq = keys["tax"].value_counts()
    # rank 1 of a Zipf(1.1) over 1000 values has ~14% of the mass
    assert freq.iloc[0] / 5000 == pytest.approx(1 / np.sum(np.arange(1, 1001) ** -1.1), rel=0.2)
    assert keys["tax"].nunique() < 1000
    assert keys["ord"].nunique() == 5000  # order ids are unique per request
    assert keys["end"].isna().all()  # not deterministic: no key
    assert keys["tax"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_deterministic_products_follow_their_inputs() -> None:
    # `e` is deterministic over `t`, itself deterministic over user_id: equal users, equal keys at `e`
    r = _recipe(
        [
            {
                "id": "t",
                "service": "s",
                "action": "T",
                "consumes": ["user_id"],
                "produces": ["tv"],
                "deterministic": True,
            },
            {"id": "e", "service": "s", "action": "E", "consumes": ["tv"], "produces": ["ev"], "deterministic": True},
        ]
    )
    df = generate_spans(r, 2000, seed=8, params=KEYED_PARAMS)
    keys = df.pivot(index="request_id", columns="op", values="cache_key")
    pairs = keys.dropna().drop_duplicates()
    assert pairs["t"].is_unique and pairs["e"].is_unique  # a one-to-one map of keys


def test_bytes_drive_latency() -> None:
    r = _recipe(
        [
            {"id": "big", "service": "s", "action": "B", "consumes": ["order_id"], "produces": ["blob"]},
            {"id": "use", "service": "s", "action": "U", "consumes": ["blob"], "produces": ["z"]},
        ]
    )
    params = LoggenParams(
        ops={"use": OpParams(latency_median_ms=10, latency_sigma=0.1, tail_share=0, throughput_bytes_per_ms=1000)},
        fields={"blob": FieldParams(bytes_mean=50_000, bytes_sigma=0.8)},
    )
    use = generate_spans(r, 3000, seed=9, params=params).query("op == 'use'")
    slope, _ = np.polyfit(use["bytes_in"], use["latency_ms"], 1)
    assert slope == pytest.approx(1 / 1000, rel=0.05)
    assert use["bytes_in"].mean() == pytest.approx(50_000, rel=0.1)
    both = generate_spans(r, 3000, seed=9, params=params).pivot(index="request_id", columns="op")
    both = both[both["bytes_in"]["use"].notna()]
    np.testing.assert_array_equal(both["bytes_out"]["big"], both["bytes_in"]["use"])


def test_cost_is_near_the_recipe_price() -> None:
    r = _recipe(
        [
            {
                "id": "a",
                "service": "s",
                "action": "A",
                "consumes": ["order_id"],
                "produces": ["x"],
                "cost_per_call_usd": 0.002,
            }
        ]
    )
    cost = generate_spans(r, 2000, seed=10)["cost_usd"]
    assert cost.mean() == pytest.approx(0.002, rel=0.01)
    assert 0 < cost.std() < 0.0002


def test_heavy_tail_shows_in_the_p99() -> None:
    p = LoggenParams(ops={"a": OpParams(latency_median_ms=20, latency_sigma=0.2, tail_share=0.05, tail_scale=5)})
    lat = generate_spans(ONE_OP, 20_000, seed=11, params=p)["latency_ms"]
    assert lat.median() == pytest.approx(20, rel=0.1)
    assert lat.quantile(0.99) > 5 * lat.median()


# ---- variants, treatments, sampling ----------------------------------------------------------------


def test_treatment_shifts_the_canary_median_only() -> None:
    df = generate_spans(
        GUARDED, 20_000, seed=12, variants={"canary": 0.3}, treatment={"canary": {"price": 0.5, "load@cost": 2.0}}
    )
    reqs = df.drop_duplicates("request_id")
    assert (reqs["variant"] == "canary").mean() == pytest.approx(0.3, abs=0.02)
    price = df[df["op"] == "price"].groupby("variant")["latency_ms"].median()
    assert price["canary"] / price["control"] == pytest.approx(0.5, rel=0.05)
    guard = df[df["op"] == "guard"].groupby("variant")["latency_ms"].median()
    assert guard["canary"] / guard["control"] == pytest.approx(1.0, rel=0.05)
    # the split is by request id hash, as documented
    share = hash_share(reqs["request_id"].to_numpy())
    assert ((share < 0.3) == (reqs["variant"] == "canary").to_numpy()).all()


def test_treatment_error_rate() -> None:
    df = generate_spans(GUARDED, 10_000, seed=13, variants={"canary": 0.5}, treatment={"canary": {"load@error": 0.2}})
    err = df[df["op"] == "load"].assign(e=lambda d: d["status"] == "error").groupby("variant")["e"].mean()
    assert err["canary"] == pytest.approx(0.2, abs=0.02)
    assert err["control"] < 0.01


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"variants": {"canary": 0.2}, "treatment": {"canary": {"nope": 0.5}}}, "no operation 'nope'"),
        ({"variants": {"canary": 0.2}, "treatment": {"other": {"load": 0.5}}}, "gets no traffic"),
        ({"variants": {"canary": 0.2}, "treatment": {"canary": {"load@speed": 0.5}}}, "op@cost"),
        ({"variants": {"a": 0.7, "b": 0.6}}, "sum to at most 1"),
        ({"variants": {"control": 0.5}}, "remaining traffic"),
        ({"sample_rate": 0.0}, "sample_rate"),
        ({"duration_s": 0}, "duration"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(RecipemutError, match=needle):
        generate_spans(GUARDED, 10, **kwargs)


def test_sampling_keeps_a_share_and_records_the_rate() -> None:
    n, rate = 2_000_000, 0.01
    df = generate_spans(ONE_OP, n, seed=14, sample_rate=rate, growth_per_day=0.04)
    assert df["request_id"].nunique() == pytest.approx(n * rate, rel=0.05)
    assert (df["sample_rate"] == rate).all()
    # scaled back by the sample rate, the kept requests follow the unsampled rate function
    day = np.floor((df["start_ms"].to_numpy() - DEFAULT_START_MS) / DAY_MS).astype(int)
    per_day = np.bincount(day, minlength=14) / rate
    edges = DEFAULT_START_MS + np.arange(15) * DAY_MS
    t = np.linspace(edges[0], edges[-1], 14 * 1440 + 1)
    r = rate_function(t, n_requests=n, growth_per_day=0.04)
    expected = [
        np.trapezoid(r[i * 1440 : (i + 1) * 1440 + 1], t[i * 1440 : (i + 1) * 1440 + 1] / 1000) for i in range(14)
    ]
    np.testing.assert_allclose(per_day, expected, rtol=0.12)


def test_same_seed_same_log_other_seed_other_log() -> None:
    a = generate_spans(KEYED, 800, seed=21, params=KEYED_PARAMS)
    b = generate_spans(KEYED, 800, seed=21, params=KEYED_PARAMS)
    c = generate_spans(KEYED, 800, seed=22, params=KEYED_PARAMS)
    pd.testing.assert_frame_equal(a, b)
    assert not a["latency_ms"].equals(c["latency_ms"])
    assert set(a["request_id"]).isdisjoint(c["request_id"])


def test_zero_requests_gives_an_empty_table() -> None:
    df = generate_spans(GUARDED, 0)
    assert len(df) == 0 and list(df.columns) == SPAN_SCHEMA.names


# ---- parameters file ----------------------------------------------------------------------------------


def test_load_params_merges_defaults(tmp_path: Path) -> None:
    p = tmp_path / "loggen.yaml"
    p.write_text(
        "defaults: {error_prob: 0.01}\n"
        "operations:\n"
        "  guard: {halt_prob: 0.2, latency_median_ms: 40}\n"
        "fields:\n"
        "  user_id: {universe: 500, zipf: 1.2}\n"
    )
    params = load_params(p)
    assert params.ops["guard"] == OpParams(error_prob=0.01, halt_prob=0.2, latency_median_ms=40.0)
    assert params.fields["user_id"] == FieldParams(universe=500, zipf=1.2)
    # an op not in the file: defaults, plus a guard's halt probability derived from the recipe
    side = GUARDED.ops["side"]
    assert params.for_op(side).error_prob == 0.01
    assert LoggenParams().for_op(GUARDED.ops["guard"]).halt_prob == 0.15


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("operations:\n  a:\n    latency_median: 3\n", 3, "unknown key 'latency_median'"),
        ("fields:\n  x: {bytes_mean: big}\n", 2, "expected a number"),
        ("defaults:\n  error_prob: -1\n", 2, "must not be negative"),
        ("operation: {}\n", 1, "unknown key 'operation'"),
        ("operations: [a, b]\n", 1, "expected a mapping"),
        ("- 1\n", 1, "expected a mapping"),
        ("a: [\n", 2, "YAML syntax error"),
        ("defaults: {error_prob: 0.1}\ndefaults: {error_prob: 0.2}\n", 2, "duplicate key 'defaults'"),
        ("operations:\n  a: {halt_prob: 0.1, halt_prob: 0.2}\n", 2, "duplicate key 'halt_prob'"),
        ("a: &x [1]\nb: *y\n", 2, "no anchor"),
    ],
)
def test_bad_params_name_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    p = tmp_path / "loggen.yaml"
    p.write_text(text)
    with pytest.raises(RecipemutError, match=needle) as e:
        load_params(p)
    assert e.value.file == str(p)
    assert e.value.line == line


def test_an_empty_params_file_means_every_default(tmp_path: Path) -> None:
    p = tmp_path / "loggen.yaml"
    p.write_text("# nothing to change\n")
    assert load_params(p) == LoggenParams()


def test_params_read_numbers_as_yaml_1_2(tmp_path: Path) -> None:
    p = tmp_path / "loggen.yaml"
    p.write_text("defaults: {error_prob: 1e-4}\n")  # YAML 1.1 (PyYAML) would read the text '1e-4'
    assert load_params(p).defaults.error_prob == 1e-4


def test_missing_params_file(tmp_path: Path) -> None:
    with pytest.raises(RecipemutError, match="no such file"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(RecipemutError, match="directory"):
        load_params(tmp_path)


def test_params_from_dict_rejects_booleans() -> None:
    with pytest.raises(RecipemutError, match="expected a number"):
        params_from_dict({"operations": {"a": {"halt_prob": True}}})


# ---- writing ------------------------------------------------------------------------------------------


def test_written_log_reads_back_through_ingest(tmp_path: Path) -> None:
    df = generate_spans(KEYED, 300, seed=15, params=KEYED_PARAMS, sample_rate=0.5)
    out = tmp_path / "logs.jsonl.gz"
    n = write_jsonl(df, out)
    assert n == len(df)
    with gzip.open(out, "rt") as fh:
        first = json.loads(fh.readline())
    assert "source_file" not in first and first["recipe"] == "t"
    back, _ = read_logs(out, recipe=KEYED)
    cols = ["request_id", "op", "start_ms", "latency_ms", "status", "cost_usd", "bytes_in", "cache_key", "sample_rate"]
    pd.testing.assert_frame_equal(
        back[cols].sort_values(["request_id", "op"]).reset_index(drop=True),
        df[cols].sort_values(["request_id", "op"]).reset_index(drop=True),
        check_dtype=False,
    )


def test_write_escapes_strings_and_writes_nulls(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": ['say "hi"\\', None, "two\nlines"], "b": [1.5, float("nan"), 2.0], "c": [None] * 3})
    out = tmp_path / "x.jsonl"
    write_jsonl(df, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [{"a": 'say "hi"\\', "b": 1.5}, {"a": None, "b": None}, {"a": "two lines", "b": 2}]


def test_write_replaces_atomically_and_keeps_permissions(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    out.write_text("old\n")
    out.chmod(0o640)
    write_jsonl(generate_spans(ONE_OP, 5), out)
    assert out.stat().st_mode & 0o777 == 0o640
    assert len(out.read_text().splitlines()) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["x.jsonl"]  # no temp file left


# ---- synthetic recipes --------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_ops", "seed"), [(1, 0), (8, 1), (40, 0), (60, 5)])
def test_synthetic_recipe_is_valid(n_ops: int, seed: int) -> None:
    doc = synthetic_recipe(n_ops, seed=seed)
    recipe, findings = check_document(doc, {}, file="synthetic.yaml")
    assert findings == [], [str(f) for f in findings]
    assert recipe is not None and len(recipe.topo_order) == n_ops
    if n_ops >= 8:
        ops = recipe.operations
        assert any(o.may_halt for o in ops) and any(o.deterministic for o in ops)
        assert any(o.after for o in ops)
        assert ops[-1].side_effects == "external"


def test_synthetic_recipe_generates_logs() -> None:
    r = recipe_from_dict(synthetic_recipe(40, seed=3))
    df = generate_spans(r, 300, seed=1)
    assert df["op"].nunique() >= 20
    assert df["cache_key"].notna().any()


# ---- `recipemut generate` -----------------------------------------------------------------------------

CHECKOUT = CHECKOUT_EXAMPLE / "recipe.yaml"
runner = CliRunner()


def test_cli_generates_a_log_with_the_params_beside_the_recipe(tmp_path: Path) -> None:
    out = tmp_path / "logs.jsonl"
    result = runner.invoke(
        app,
        ["generate", str(CHECKOUT), "-n", "300", "--days", "1", "--seed", "4", "--out", str(out), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["params"] == str(CHECKOUT.parent / "loggen.yaml")
    assert summary["requests"] == 300
    spans, _ = read_logs(out)
    assert len(spans) == summary["spans"]
    # the loggen.yaml was used: lookup_tax's median is ~110 ms there, 20 ms by default
    assert spans[spans["op"] == "lookup_tax"]["latency_ms"].median() > 80


def test_cli_canary_treatment(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl.gz"
    result = runner.invoke(
        app,
        [
            "generate",
            str(CHECKOUT),
            "-n",
            "3000",
            "--days",
            "2",
            "--canary",
            "0.5",
            "--treatment",
            "charge_card=0.5",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "3,000 requests of checkout" in result.stdout
    spans, _ = read_logs(out)
    med = spans[spans["op"] == "charge_card"].groupby("variant")["latency_ms"].median()
    assert med["canary"] / med["control"] == pytest.approx(0.5, rel=0.1)


@pytest.mark.parametrize(
    ("extra", "code", "needle"),
    [
        (["--treatment", "charge_card=0.5"], 2, "needs --canary"),
        (["--canary", "0.1", "--treatment", "charge_card"], 2, "expected OP=FACTOR"),
        (["--canary", "0.1", "--treatment", "nope=0.5"], 1, "no operation 'nope'"),
        (["--start", "yesterday"], 2, "ISO 8601"),
        (["--params", "missing.yaml"], 1, "missing.yaml"),
        (["--sample-rate", "0"], 2, "outside (0, 1]"),
        (["--sample-rate", "1.5"], 2, "outside (0, 1]"),
        (["-n", "-5"], 2, "--requests"),
        (["-n", "0"], 2, "--requests"),
    ],
)
def test_cli_errors(tmp_path: Path, extra: list[str], code: int, needle: str) -> None:
    result = runner.invoke(app, ["generate", str(CHECKOUT), "-n", "10", "--out", str(tmp_path / "x.jsonl"), *extra])
    assert result.exit_code == code, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_cli_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", str(CHECKOUT), "-n", "10", "--out", str(tmp_path / "no" / "x.jsonl")])
    assert result.exit_code == 1, result.output
    assert "folder does not exist" in result.output


def test_cli_start_date(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = runner.invoke(
        app, ["generate", str(CHECKOUT), "-n", "50", "--days", "1", "--start", "2026-01-05", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    spans, _ = read_logs(out)
    t0 = pd.Timestamp("2026-01-05", tz="UTC").value / 1e6
    assert t0 <= spans["start_ms"].min() and spans["start_ms"].max() < t0 + DAY_MS + 60_000


def test_a_canary_variant_runs_through_its_own_recipe() -> None:
    """`apply --canary` keeps the mutated recipe under `variants:`; its requests follow it."""
    base = recipe_to_dict(GUARDED)
    base["alternatives"] = [
        {
            "id": "load_fast",
            "service": "s2",
            "action": "L2",
            "consumes": ["order_id"],
            "produces": ["cart"],
            "equivalence": "load",
            "expected": {"latency_ms": {"p50": 5, "p95": 9}},
        }
    ]
    canary = copy.deepcopy(base)
    for op in canary["operations"]:
        if op["id"] == "price":
            op["after"] = []  # parallelize: price no longer waits for the guard
        if op["id"] == "load":
            op.update(service="s2", action="L2", substituted_from="L")
    base["variants"] = [{"name": "canary", "share": 0.4, "recipe": canary}]
    recipe = recipe_from_dict(base)
    params = LoggenParams(ops={"guard": OpParams(halt_prob=0.3)})
    df = generate_spans(recipe, 6000, seed=31, params=params)
    reqs = df.drop_duplicates("request_id").set_index("request_id")["variant"]
    assert (reqs == "canary").mean() == pytest.approx(0.4, abs=0.03)
    w = _by_request(df)
    is_canary = (reqs == "canary").reindex(w["start_ms"].index)
    end = w["start_ms"] + w["latency_ms"]
    ran = w["start_ms"]["price"].notna()
    # control: price waits for the guard; canary: only for load
    ctl = ran & ~is_canary
    np.testing.assert_allclose(w["start_ms"]["price"][ctl], np.maximum(end["load"], end["guard"])[ctl], atol=1e-3)
    can = ran & is_canary
    np.testing.assert_allclose(w["start_ms"]["price"][can], end["load"][can], atol=1e-3)
    # halted guards no longer stop price in the canary
    halted = w["status"]["guard"] == "halted"
    assert w["start_ms"]["price"][halted & is_canary].notna().mean() > 0.99
    assert w["start_ms"]["price"][halted & ~is_canary].isna().all()
    # the substituted load is drawn from the alternative's prior, on its service
    load = df[df["op"] == "load"]
    med = load.groupby("variant")["latency_ms"].median()
    assert med["canary"] == pytest.approx(5, rel=0.1) and med["control"] == pytest.approx(20, rel=0.1)
    assert set(load.loc[load["variant"] == "canary", "service"]) == {"s2"}
    assert set(load.loc[load["variant"] == "control", "service"]) == {"s"}


def test_a_variant_recipe_with_a_cycle_is_a_user_error() -> None:
    base = recipe_to_dict(GUARDED)
    bad = copy.deepcopy(base)
    bad["operations"][0]["after"] = ["late"]
    base["variants"] = [{"name": "canary", "share": 0.1, "recipe": bad}]
    with pytest.raises(RecipemutError, match="cycle"):
        generate_spans(recipe_from_dict(base), 50)


# ---- what mutations write shows in generated logs --------------------------------------------------


def _with(op_extra: dict[str, Any], fields: dict[str, Any] | None = None) -> Recipe:
    doc = recipe_to_dict(KEYED)
    for op in doc["operations"]:
        if op["id"] == "tax":
            op.update(op_extra)
    if fields:
        doc["fields"].update(fields)
    return recipe_from_dict(doc)


def test_a_cache_in_the_recipe_answers_repeated_keys() -> None:
    cached = _with({"cache": {"ttl_s": 1800, "max_entries": 10_000, "hit_latency_ms": 1.0}})
    params = LoggenParams(fields=KEYED_PARAMS.fields, ops={"tax": OpParams(latency_median_ms=50, error_prob=0.0)})
    tax = generate_spans(cached, 20_000, seed=41, params=params).query("op == 'tax'").sort_values("start_ms")
    hit = tax["latency_ms"] == 1.0
    # the same replay the simulator does, on the logged keys: the hits are exactly those
    codes = pd.factorize(tax["cache_key"])[0]
    expected = cachesim.hits(tax["start_ms"].to_numpy(), codes, ttl_s=1800, max_entries=10_000)
    np.testing.assert_array_equal(hit.to_numpy(), expected)
    assert 0.3 < hit.mean() < 0.95
    assert (tax.loc[hit, "cost_usd"] == 0).all()
    uncached = generate_spans(KEYED, 20_000, seed=41, params=params).query("op == 'tax'")
    assert tax["latency_ms"].median() < uncached["latency_ms"].median()


def test_a_hedge_in_the_recipe_cuts_the_tail_for_extra_calls() -> None:
    slow = OpParams(latency_median_ms=20, latency_sigma=0.2, tail_share=0.05, tail_scale=10, tail_alpha=1.5)
    params = LoggenParams(ops={"tax": slow, "geo": slow})
    priced = {"cost_per_call_usd": 0.001}
    plain = generate_spans(_with(priced), 20_000, seed=42, params=params).query("op == 'tax'")
    hedged = generate_spans(_with({**priced, "hedge": {"after_ms": 40}}), 20_000, seed=42, params=params)
    hedged = hedged.query("op == 'tax'")
    assert hedged["latency_ms"].quantile(0.99) < 0.5 * plain["latency_ms"].quantile(0.99)
    assert hedged["latency_ms"].median() == pytest.approx(plain["latency_ms"].median(), rel=0.05)
    # a duplicate call costs a call: about the share of calls slower than 40 ms
    extra = hedged["cost_usd"].sum() / plain["cost_usd"].sum() - 1
    assert extra == pytest.approx((plain["latency_ms"] > 40).mean(), abs=0.02)


def test_a_compact_transfer_format_shrinks_bytes_and_latency() -> None:
    params = LoggenParams(
        ops={"end": OpParams(latency_median_ms=10, latency_sigma=0.1, tail_share=0, throughput_bytes_per_ms=1000)},
        fields={"t": FieldParams(bytes_mean=200_000, bytes_sigma=0.2)},
    )
    json_ = generate_spans(_with({}, {"t": {"type": "object", "format": "json"}}), 3000, seed=43, params=params)
    proto = generate_spans(
        _with({}, {"t": {"type": "object", "format": "protobuf", "compression": "zstd"}}), 3000, seed=43, params=params
    )
    tbl = transfer.table()
    factor = transfer.size_factor(tbl, "json", "none", "protobuf", "zstd")
    tj, tp = (d.query("op == 'tax'")["bytes_out"].mean() for d in (json_, proto))
    assert tp / tj == pytest.approx(factor, rel=0.02)
    ej, ep = (d.query("op == 'end'")["latency_ms"].median() for d in (json_, proto))
    assert ep < ej - 100  # ~200 KB less to read at 1000 bytes/ms, minus the decode cost


def test_generated_values_are_valid_spans_over_many_seeds(tmp_path: Path) -> None:
    """A fast transfer format can save more than a tiny service time: latency, cpu and the rest stay in range."""
    fast = {"t": {"type": "object", "format": "protobuf", "compression": "none"}}
    recipe = _with({"hedge": {"after_ms": 0.05}, "cost_per_call_usd": 0.001}, fast)
    for seed in range(40):
        rng = np.random.default_rng(seed)
        tiny = OpParams(latency_median_ms=float(rng.uniform(0.01, 2.0)), cost_noise=float(rng.uniform(0, 3)))
        params = LoggenParams(
            defaults=tiny, fields={"t": FieldParams(bytes_mean=float(rng.uniform(1e5, 5e6)), bytes_sigma=1.0)}
        )
        df = generate_spans(recipe, 200, seed=seed, params=params, variants={"canary": 0.5})
        for col in ("latency_ms", "cpu_ms", "mem_mb", "cost_usd", "bytes_in", "bytes_out"):
            assert (df[col].dropna() >= 0).all(), (seed, col, df[col].min())
        assert (df["latency_ms"] > 0).all()
        out = write_jsonl(df, tmp_path / f"s{seed}.jsonl")
        _, report = read_logs(tmp_path / f"s{seed}.jsonl", strict=True)  # ingest accepts every span
        assert report.spans_kept == out


# ---- property: every generated request follows the DAG semantics ------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=recipe_docs(max_ops=10, variants=True), seed=st.integers(0, 2**16))
def test_generated_requests_follow_the_dag(doc: dict[str, Any], seed: int) -> None:
    """An operation runs iff every DAG predecessor ran and ended ok; it starts when the last one ends;
    roots start at the request's arrival; only guards halt."""
    recipe = recipe_from_dict(doc)
    params = LoggenParams(defaults=OpParams(error_prob=0.05, halt_prob=0.3))
    df = generate_spans(recipe, 80, seed=seed, params=params)
    order = list(recipe.topo_order)
    start = df.pivot(index="request_id", columns="op", values="start_ms").reindex(columns=order)
    end = start + df.pivot(index="request_id", columns="op", values="latency_ms").reindex(columns=order)
    status = df.pivot(index="request_id", columns="op", values="status").reindex(columns=order)
    arrival = start.min(axis=1)
    guards = {o.id for o in recipe.operations if o.may_halt}
    assert set(df.loc[df["status"] == "halted", "op"]) <= guards
    for op_id in order:
        preds = list(recipe.dag.predecessors(op_id))
        ran = start[op_id].notna()
        if not preds:
            assert ran.all()
            np.testing.assert_allclose(start[op_id], arrival, atol=1e-3)
            continue
        should = (status[preds] == "ok").fillna(False).all(axis=1)
        assert (ran == should).all(), op_id
        np.testing.assert_allclose(start[op_id][ran], end[preds][ran].max(axis=1), atol=1e-3)


def test_cli_help_spells_out_the_treatment_forms() -> None:
    result = runner.invoke(app, ["generate", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "OP@cost=FACTOR" in result.output and "OP@cost=," not in result.output
