"""The shipped examples: valid, small, reproducible from the documented commands, and hiding the
waste recipemut exists to find."""

from __future__ import annotations

import gzip
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.loggen import DAY_MS, DEFAULT_START_MS, rate_function
from recipemut.logs.ingest import read_logs
from recipemut.mutate.operators import OperatorContext, generate_all
from recipemut.profile.build import build_profile
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("checkout", "media", "ml_inference")
DOC = ROOT / "docs" / "examples.md"  # lists the exact commands that made each log
runner = CliRunner()


def _commands() -> dict[str, list[str]]:
    """The `recipemut generate` commands documented for each example."""
    out = {}
    for line in DOC.read_text().splitlines():
        if line.startswith("$ recipemut generate recipes/") and "logs.jsonl.gz" in line:
            args = shlex.split(line[2:])[2:]  # after `recipemut generate`
            out[Path(args[0]).parent.name] = args
    return out


@pytest.fixture(scope="module", params=EXAMPLES)
def example(request: pytest.FixtureRequest) -> dict:  # type: ignore[type-arg]
    name = request.param
    recipe = load_recipe(ROOT / "recipes" / name / "recipe.yaml")
    log = ROOT / "recipes" / name / "logs.jsonl.gz"
    spans, report = read_logs(log, recipe=recipe)
    return {"name": name, "recipe": recipe, "log": log, "spans": spans, "report": report}


def test_every_example_validates() -> None:
    files = [str(ROOT / "recipes" / n / "recipe.yaml") for n in EXAMPLES]
    result = runner.invoke(app, ["validate", *files])
    assert result.exit_code == 0, result.output


def test_each_example_is_documented_with_its_command() -> None:
    assert set(_commands()) == set(EXAMPLES)


@pytest.mark.parametrize(
    "name",
    # about 5 s each: checkout in the default tier, all three in the slow tier
    ["checkout", pytest.param("media", marks=pytest.mark.slow), pytest.param("ml_inference", marks=pytest.mark.slow)],
)
def test_committed_log_is_what_the_documented_command_writes(name: str, tmp_path: Path) -> None:
    args = _commands()[name]
    out = tmp_path / "logs.jsonl.gz"
    args[args.index("--out") + 1] = str(out)
    args[0] = str(ROOT / args[0])
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 0, result.output
    with gzip.open(out) as new, gzip.open(ROOT / "recipes" / name / "logs.jsonl.gz") as old:
        assert new.read() == old.read()


def test_logs_are_small_clean_and_span_two_weeks(example: dict) -> None:  # type: ignore[type-arg]
    assert example["log"].stat().st_size < 2_000_000
    spans, recipe = example["spans"], example["recipe"]
    assert len(spans) > 0 and set(spans["op"]) == set(recipe.ops)
    assert (spans["recipe"] == recipe.name).all()
    assert 3000 <= spans["request_id"].nunique() <= 8000
    days = (spans["start_ms"].max() - spans["start_ms"].min()) / DAY_MS
    assert 13.5 < days <= 14.0
    assert spans["sample_rate"].notna().all()
    assert sum(example["report"].rejected.values()) == 0


def test_operation_count_and_comments(example: dict) -> None:  # type: ignore[type-arg]
    recipe = example["recipe"]
    assert 8 <= len(recipe.operations) <= 25
    text = (ROOT / "recipes" / example["name"] / "recipe.yaml").read_text()
    assert sum(line.strip().startswith("#") for line in text.splitlines()) >= 10


def test_slo_and_budget_hold_on_the_recorded_traffic(example: dict) -> None:  # type: ignore[type-arg]
    recipe = example["recipe"]
    profile = build_profile(example["spans"], recipe)
    c = recipe.constraints
    assert c.latency_p95_ms is not None and c.max_cost_per_request_usd is not None
    assert np.nanpercentile(profile.e2e_latency_ms, 95) <= c.latency_p95_ms
    assert np.nanmean(profile.e2e_cost_usd) <= c.max_cost_per_request_usd


def test_the_waste_is_there_in_the_data(example: dict) -> None:  # type: ignore[type-arg]
    recipe, spans = example["recipe"], example["spans"]
    ops = recipe.ops
    consumed = {f for op in recipe.operations for f in op.consumes}
    # a guard that halts some requests
    guards = [o for o in recipe.operations if o.may_halt]
    halted = spans[spans["status"] == "halted"]["op"].unique()
    assert guards and set(halted) <= {g.id for g in guards} and len(halted) > 0
    # an expensive deterministic lookup whose keys repeat
    det = spans[spans["op"].isin([o.id for o in recipe.operations if o.deterministic])]
    repeat = det.groupby("op")["cache_key"].agg(lambda k: 1 - k.nunique() / len(k))
    cost = {o.id: o.cost_per_call_usd or 0 for o in recipe.operations}
    assert any(r > 0.3 and cost[op] >= 0.0004 for op, r in repeat.items()), repeat
    # a heavy tail
    q = spans.groupby("op")["latency_ms"].quantile([0.5, 0.99]).unstack()
    assert (q[0.99] / q[0.5]).max() > 8
    # a JSON field of more than 100 KB
    big = [
        f
        for f, spec in recipe.fields.items()
        if spec.format == "json" and spans[spans["op"] == recipe.producers.get(f, "")]["bytes_out"].mean() > 100_000
    ]
    assert big
    # an operation without side effects whose products nobody reads
    assert any(
        o.side_effects == "none" and not (set(o.produces) & (consumed | set(recipe.outputs))) for o in recipe.operations
    )
    # a frozen external side effect and keep_order pairs
    assert any(ops[f].side_effects == "external" for f in recipe.constraints.frozen)
    assert recipe.constraints.keep_order
    # alternatives: one faster than the operation it could replace, one slower
    alt_p50 = {a.equivalence: [] for a in recipe.alternatives}
    for a in recipe.alternatives:
        assert a.expected is not None and a.expected.latency_p50_ms is not None
        alt_p50[a.equivalence].append(a.expected.latency_p50_ms)
    for op in recipe.operations:
        if op.equivalence in alt_p50:
            observed = spans[spans["op"] == op.id]["latency_ms"].median()
            assert min(alt_p50[op.equivalence]) < observed < max(alt_p50[op.equivalence])


def test_a_service_crosses_its_target_within_weeks(example: dict) -> None:  # type: ignore[type-arg]
    """With the documented growth, some service reaches its target utilisation 3-45 days after the
    log ends, and none is above it yet (Little's law on the generator's known rate)."""
    args = _commands()[example["name"]]
    n = int(args[args.index("--requests") + 1])
    growth = float(args[args.index("--growth") + 1])
    recipe, spans = example["recipe"], example["spans"]
    sample = float(spans["sample_rate"].iloc[0])
    end = DEFAULT_START_MS + 14 * DAY_MS
    peak = float(rate_function(np.linspace(end - DAY_MS, end, 1441), n_requests=n, growth_per_day=growth).max())
    busy_s = spans.groupby("service")["latency_ms"].sum() / 1000.0 / spans["request_id"].nunique()
    days = {}
    for svc, b in busy_s.items():
        s = recipe.services[svc]
        util = b * peak / s.capacity
        assert util < s.target_utilization, (svc, util)
        days[svc] = np.log(s.target_utilization / util) / np.log1p(growth)
    assert 3 < min(days.values()) < 45, days
    assert sample < 1


def test_operators_find_the_planted_wins(example: dict) -> None:  # type: ignore[type-arg]
    recipe = example["recipe"]
    profile = build_profile(example["spans"], recipe)
    ids = {m.id for m in generate_all(OperatorContext.build(recipe, profile=profile))}
    expected = {
        "checkout": [
            "reorder:score_fraud->price_items",
            "parallelize:lookup_tax->quote_shipping",
            "substitute:price_items->price_items_edge",
            "substitute:price_items->price_items_legacy",
            "cache:lookup_tax",
            "hedge:quote_shipping",
            "eliminate:fetch_recommendations",
            "datapipe:cart=",
        ],
        "media": [
            "reorder:check_quota->transcode_hd",
            "parallelize:transcode_hd->transcode_sd",
            "substitute:transcode_hd->transcode_hd_nvenc",
            "substitute:transcode_hd->transcode_hd_cpu",
            "cache:lookup_rights",
            "hedge:transcribe",
            "eliminate:perceptual_hash",
            "datapipe:frame_manifest=",
        ],
        "ml_inference": [
            "reorder:screen_query->score_candidates",
            "parallelize:fetch_user_features->fetch_session_features",
            "substitute:score_candidates->score_candidates_distilled",
            "substitute:score_candidates->score_candidates_ensemble",
            "cache:embed_query",
            "hedge:translate_snippets",
            "eliminate:explain_scores",
            "datapipe:item_features=",
        ],
    }[example["name"]]
    for want in expected:
        assert any(i == want or (want.endswith("=") and i.startswith(want)) for i in ids), (want, sorted(ids))
    # nothing may touch the frozen operation
    frozen = recipe.constraints.frozen[0]
    assert not any(re.search(rf"[:>]{re.escape(frozen)}(->|$)", i) for i in ids if not i.startswith("datapipe"))
