"""search.py: the loop finds the obvious win, rejects the harmful, composes steps, keeps reasons;
property: every accepted mutation keeps data dependencies and acyclicity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from _suggest_helpers import profile_from_matrices, recipe
from hypothesis import HealthCheck, given, settings
from strategies import recipe_docs

from recipemut.forecast.headroom import Headroom
from recipemut.judge.abtest import JudgeSettings
from recipemut.judge.stats import NO_DIFFERENCE, REGRESSES
from recipemut.loggen import generate_spans
from recipemut.loggen.params import FieldParams, LoggenParams, OpParams
from recipemut.plan.search import ACCEPTED, REJECTED, SearchResult, SearchSettings, objective_level, search
from recipemut.predict.cachesim import hits
from recipemut.predict.simulate import replay
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.edits import apply_edits
from recipemut.recipe.model import Recipe, recipe_from_dict

LATENCY = JudgeSettings(objective="latency")


def _settings(objective: str, *, min_effect: float = JudgeSettings.min_effect, **kw: Any) -> SearchSettings:
    """Search settings with the judge's objective (and minimum effect) beside the search's own."""
    return SearchSettings(judge=JudgeSettings(objective=objective, min_effect=min_effect), **kw)


def _shop() -> tuple[Recipe, object]:
    """load -> score only by habit (`after`); a slow substitute in the catalogue; a cheap tail op."""
    r = recipe(
        [
            {"id": "load", "consumes": ["x"], "produces": ["cart"], "cost_per_call_usd": 0.001},
            {
                "id": "score",
                "consumes": ["x"],
                "produces": ["risk"],
                "after": ["load"],
                "equivalence": "fraud",
                "cost_per_call_usd": 0.002,
            },
            {
                "id": "pay",
                "consumes": ["cart", "risk"],
                "produces": ["receipt"],
                "side_effects": "external",
                "cost_per_call_usd": 0.003,
            },
        ],
        outputs=("receipt",),
        alternatives=[
            {
                "id": "score_slow",
                "service": "legacy",
                "action": "ScoreOld",
                "consumes": ["x"],
                "produces": ["risk"],
                "equivalence": "fraud",
                "expected": {"latency_ms": {"p50": 400, "p95": 900}},
                "cost_per_call_usd": 0.001,
            }
        ],
    )
    rng = np.random.default_rng(0)
    n = 4000
    p = profile_from_matrices(
        r,
        {"load": rng.lognormal(4.0, 0.3, n), "score": rng.lognormal(3.7, 0.3, n), "pay": rng.lognormal(3.0, 0.2, n)},
        cost={"load": np.full(n, 0.001), "score": np.full(n, 0.002), "pay": np.full(n, 0.003)},
    )
    return r, p


def test_finds_the_parallelization_and_rejects_the_slow_substitute() -> None:
    r, p = _shop()
    res = search(r, p, _settings("latency"))
    by_id = {c.mutation.id: c for c in res.singles}
    par = [c for c in res.singles if c.mutation.operator == "parallelize"]
    assert par and par[0].status == ACCEPTED
    assert par[0].evaluation is not None and par[0].evaluation.predicted["latency_p50_ms"].hi < 0
    assert [c.mutation.operator for c in res.plan][:1] == ["parallelize"]
    subs = [c for c in by_id.values() if c.mutation.operator == "substitute"]
    assert subs and all(c.status == REJECTED for c in subs)
    assert any(REGRESSES in c.reasons for c in subs)
    assert res.plan_evaluation is not None and res.plan_evaluation.verdict == "improves"
    assert objective_level(res.plan_replay, LATENCY, baseline=res.baseline) < objective_level(
        res.baseline, LATENCY, baseline=res.baseline
    )


def test_cost_objective_takes_the_cheaper_substitute_unless_it_breaks_the_slo() -> None:
    r, p = _shop()
    res = search(r, p, _settings("cost", operators=("substitute",)))
    assert [c.mutation.operator for c in res.plan] == ["substitute"]
    # with an SLO the slow substitute would break, it is rejected with that reason
    strict = recipe_from_dict({**_doc(r), "constraints": {"slo": {"latency_p95_ms": 300}}})
    res2 = search(strict, p, _settings("cost", operators=("substitute",)))
    assert res2.plan == ()
    assert any(reason.startswith("SLO/budget:") for c in res2.rejected for reason in c.reasons)


def _doc(r: Recipe) -> dict:
    from recipemut.recipe.model import recipe_to_dict

    return recipe_to_dict(r)


def test_budget_bounds_the_candidates_evaluated() -> None:
    r, p = _shop()
    res = search(r, p, _settings("latency", budget=1))
    assert res.evaluated == 1 and res.budget_exhausted
    ticks = iter(range(1000))
    res_t = search(r, p, _settings("latency", time_budget_s=0.5), clock=lambda: float(next(ticks)))
    assert res_t.budget_exhausted and res_t.evaluated == 0


def test_nothing_to_do_gives_an_empty_plan() -> None:
    r = recipe([{"id": "a", "consumes": ["x"], "produces": ["z"]}], outputs=("z",))
    p = profile_from_matrices(r, {"a": np.full(100, 5.0)})
    res = search(r, p)
    assert res.plan == () and res.plan_evaluation is None and res.evaluated == 0


def test_no_significant_difference_is_a_rejection_reason() -> None:
    # parallelizing an op that takes 0.01 ms beside one of 100 ms changes nothing worth a verdict
    r = recipe(
        [
            {"id": "a", "consumes": ["x"], "produces": ["ya"]},
            {"id": "b", "consumes": ["x"], "produces": ["yb"], "after": ["a"]},
        ],
        outputs=("ya", "yb"),
    )
    n = 2000
    p = profile_from_matrices(r, {"a": np.full(n, 100.0), "b": np.full(n, 0.01)})
    res = search(r, p, _settings("latency", operators=("parallelize",)))
    assert res.plan == ()
    assert res.singles[0].reasons == (NO_DIFFERENCE,)


def _keeps_dependencies(r: Recipe) -> None:
    g = r.dag
    assert nx.is_directed_acyclic_graph(g)
    for op in r.operations:
        for f in op.consumes:
            if f in r.inputs:
                continue
            src = r.producers[f]
            assert src != op.id and nx.has_path(g, src, op.id), (op.id, f)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(recipe_docs())
def test_property_accepted_mutations_keep_data_dependencies_and_acyclicity(doc: dict) -> None:
    doc = {k: v for k, v in doc.items() if k != "variants"}
    r = recipe_from_dict(doc)
    spans = generate_spans(r, 300, seed=1, duration_s=3600)
    p = build_profile(spans, r)
    res = search(r, p, _settings("balanced", budget=40, max_rounds=3, min_effect=0.0), doc=doc)
    for c in res.singles + res.plan:
        if c.status == ACCEPTED:
            _keeps_dependencies(c.mutation.recipe)
    _keeps_dependencies(res.plan_recipe)
    # the plan's document is the original document with every step's edits applied in order
    d = dict(doc)
    for c in res.plan:
        d = apply_edits(d, c.mutation.edits)
    assert recipe_from_dict(d).operations == res.plan_recipe.operations


@pytest.mark.parametrize("beam", [1, 3])
def test_beam_and_greedy_both_compose_to_a_fixpoint(beam: int) -> None:
    r, p = _shop()
    res = search(r, p, _settings("latency", beam_width=beam))
    assert res.plan and res.rounds <= 8
    ids = [c.mutation.id for c in res.plan]
    assert len(ids) == len(set(ids))


EXAMPLES = Path(__file__).resolve().parents[1] / "recipes"
WINS = {
    "checkout": (
        {
            "parallelize:lookup_tax->quote_shipping",
            "eliminate:fetch_recommendations",
            "hedge:quote_shipping",
            "cache:lookup_tax",
        },
        {"substitute:price_items->price_items_legacy"},
    ),
    "media": (
        {
            "substitute:transcode_hd->transcode_hd_nvenc",
            "parallelize:transcode_hd->transcode_sd",
            "reorder:check_quota->transcode_hd",
            "cache:lookup_rights",
            "eliminate:perceptual_hash",
        },
        {"substitute:transcode_hd->transcode_hd_cpu"},
    ),
    "ml_inference": (
        {
            "substitute:score_candidates->score_candidates_distilled",
            "eliminate:explain_scores",
            "datapipe:item_features=arrow+zstd",
            "reorder:screen_query->score_candidates",
        },
        {"substitute:score_candidates->score_candidates_ensemble"},
    ),
}


@pytest.mark.parametrize("example", sorted(WINS))
def test_shipped_examples_obvious_wins_found_harmful_rejected(example: str) -> None:
    from recipemut.logs.ingest import read_logs
    from recipemut.recipe.loader import load_recipe_text, read_document

    path = EXAMPLES / example / "recipe.yaml"
    doc, _, text = read_document(path)
    r = load_recipe_text(text, file=str(path))
    spans, _ = read_logs(EXAMPLES / example / "logs.jsonl.gz", recipe=r)
    res = search(r, build_profile(spans, r), _settings("balanced", max_rounds=1), doc=doc)
    status = {c.mutation.id: c for c in res.singles}
    wins, harmful = WINS[example]
    assert wins <= {i for i, c in status.items() if c.status == ACCEPTED}, sorted(status)
    for h in harmful:
        assert status[h].status == REJECTED
        assert any(r == REGRESSES or r.startswith("SLO/budget:") for r in status[h].reasons), status[h].reasons
    # every accepted single keeps the recipe valid
    for c in res.singles:
        if c.status == ACCEPTED:
            _keeps_dependencies(c.mutation.recipe)


def test_same_seed_same_numbers_whatever_order_the_candidates_come_in() -> None:
    # the bandit (a learning store) reorders candidates; no candidate's numbers may depend on it
    from recipemut.logs.ingest import read_logs
    from recipemut.recipe.loader import load_recipe_text, read_document

    path = EXAMPLES / "checkout" / "recipe.yaml"
    doc, _, text = read_document(path)
    r = load_recipe_text(text, file=str(path))
    spans, _ = read_logs(EXAMPLES / "checkout" / "logs.jsonl.gz", recipe=r)
    prof = build_profile(spans, r)

    def numbers(order: object) -> dict[tuple[str, int], object]:
        res = search(r, prof, _settings("balanced", max_rounds=2, seed=3), doc=doc, order=order)  # type: ignore[arg-type]
        cands = [*res.singles, *res.plan, *res.rejected]
        return {(c.mutation.id, c.round): c.evaluation.to_dict() for c in cands if c.evaluation is not None}

    forward = numbers(None)
    backward = numbers(lambda cs: list(reversed(cs)))
    assert any(v["imputed_share"] > 0.5 for v in forward.values())  # type: ignore[index]  # random draws matter
    shared = forward.keys() & backward.keys()
    assert len(shared) >= 10
    assert {k: forward[k] for k in shared} == {k: backward[k] for k in shared}


@pytest.mark.parametrize("objective", ["latency", "p95", "cost", "balanced", "headroom"])
def test_one_definition_of_each_objective(objective: str) -> None:
    from recipemut.judge import abtest
    from recipemut.predict.simulate import Replay

    rng = np.random.default_rng(2)
    n = 3000
    ids = np.array([f"r-{i}" for i in range(n)], dtype=object)

    def rep(lat: np.ndarray, cost: np.ndarray, busy: np.ndarray) -> Replay:
        one = np.ones((n, 1), dtype=bool)
        return Replay(("a",), np.arange(n), lat, cost, one, ~one, service_busy={"tax": busy})

    b = rep(rng.lognormal(4.6, 0.5, n), rng.uniform(0.001, 0.002, n), rng.lognormal(3.0, 0.4, n))
    m = rep(b.latency_ms * 0.9, b.cost_usd * 0.95, b.service_busy["tax"] * 0.8)
    svc = "tax" if objective == "headroom" else None
    judge = JudgeSettings(objective=objective, weight=0.3, service=svc)
    lb = objective_level(b, judge, baseline=b)
    lm = objective_level(m, judge, baseline=b)
    norm = (float(b.latency_ms.mean()), float(b.cost_usd.mean()))
    assert lm == abtest.objective_level(m, objective, weight=0.3, norm=norm, service=svc)
    ev = abtest.evaluate(b, m, ids, judge)
    assert ev.score == pytest.approx((lm - lb) / lb, rel=1e-12)  # the score ranks as the search does


def test_busy_time_per_service_has_one_definition() -> None:
    from recipemut.predict.simulate import replay
    from recipemut.profile.busy import busy_by_service

    r, p = _shop()
    rep = replay(r, p, rng=np.random.default_rng(0))
    assert rep.service_busy_ms(r) == busy_by_service(rep.busy_ms, r)
    assert rep.service_busy_ms(r) == pytest.approx({"svc": sum(rep.busy_ms.values())})


def _catalog_world() -> tuple[Recipe, object]:
    """Generated logs of a deterministic, slow `enrich` with popular keys, and a faster, cheaper
    equivalent in the catalogue: a cache and the substitute each help, and both together most."""
    from recipemut.loggen import params_from_dict

    r = recipe(
        [
            {
                "id": "enrich",
                "service": "catalog",
                "action": "Enrich",
                "consumes": ["sku"],
                "produces": ["listing"],
                "deterministic": True,
                "equivalence": "catalog.enrich",
                "cost_per_call_usd": 0.0003,
            },
            {"id": "render", "consumes": ["x", "listing"], "produces": ["page"], "cost_per_call_usd": 0.00002},
        ],
        inputs=("x", "sku"),
        outputs=("page",),
        alternatives=[
            {
                "id": "enrich_fast",
                "service": "catalog-v2",
                "action": "EnrichV2",
                "consumes": ["sku"],
                "produces": ["listing"],
                "equivalence": "catalog.enrich",
                "deterministic": True,
                "cost_per_call_usd": 0.0001,
                "expected": {"latency_ms": {"p50": 30, "p95": 50}},
            }
        ],
    )
    params = params_from_dict(
        {
            "defaults": {"error_prob": 0.0},
            "operations": {
                "enrich": {"latency_median_ms": 80, "latency_sigma": 0.25},
                "render": {"latency_median_ms": 10, "latency_sigma": 0.2},
            },
            "fields": {"sku": {"universe": 500, "zipf": 1.1}},
        }
    )
    spans = generate_spans(r, 6000, seed=3, params=params, duration_s=86400)
    return r, build_profile(spans, r)


@pytest.mark.parametrize(("objective", "first"), [("cost", "cache"), ("p95", "substitute")])
def test_a_cache_and_a_substitute_of_one_operation_compose_in_either_order(objective: str, first: str) -> None:
    r, p = _catalog_world()
    res = search(r, p, _settings(objective, operators=("cache", "substitute")))
    singles = {c.mutation.operator: c for c in res.singles}
    assert {op: c.status for op, c in singles.items()} == {"cache": ACCEPTED, "substitute": ACCEPTED}
    # the plan takes both, the better single first, and the second step still improves on the first
    assert [c.mutation.operator for c in res.plan] == [first, ({"cache", "substitute"} - {first}).pop()]
    assert res.plan[1].evaluation is not None and res.plan[1].evaluation.verdict == "improves"
    plan, base = res.plan_replay, res.baseline
    hit = plan.cost_usd < 0.0001  # a hit costs nothing: only `render` is paid
    col = plan.op_ids.index("enrich")
    # the cache hits on the recorded keys in front of the substitute as in front of the original;
    # hits take hit_latency_ms, misses the substitute's price and latency (prior p50 30 ms, not 80 ms)
    spec = res.plan_recipe.ops["enrich"].cache
    assert spec is not None
    j = p.col("enrich")
    expected = hits(p.request_start_ms + p.start_offset_ms[:, j], p.cache_key[:, j], spec.ttl_s, spec.max_entries)
    assert hit.tolist() == expected[base.rows].tolist() and hit.mean() > 0.5
    assert plan.cache_hit_rate["enrich"] == pytest.approx(hit.mean())
    assert plan.cost_usd[~hit] == pytest.approx(0.0001 + 0.00002, rel=0.1)
    enrich_ms = plan.latency_ms - (base.latency_ms - p.latency_ms[base.rows, p.col("enrich")])
    assert np.median(enrich_ms[~hit]) == pytest.approx(30.0, rel=0.1)
    assert np.allclose(enrich_ms[hit], 1.0)
    assert not plan.imputed[hit, col].any() and plan.imputed[~hit, col].all()
    # better than either mutation alone, on cost and on p95
    for single in singles.values():
        assert single.evaluation is not None
        assert plan.cost_usd.mean() < single.evaluation.mutated["cost_mean_usd"]
        assert np.quantile(plan.latency_ms, 0.95) < single.evaluation.mutated["latency_p95_ms"]


# ---- headroom: the bottleneck is re-picked after every step ----------------------------------


World = tuple[Recipe, Profile, Headroom]


def _growing_doc() -> dict[str, Any]:
    """``audit`` (eliminable: nobody reads ``audit_ref``) loads the audit service, ``rates``
    (deterministic: cacheable) the tax service; both declare their capacity."""
    return {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": "growing",
        "version": 1,
        "fields": {
            "order_id": {"type": "string"},
            "region": {"type": "string"},
            "cart": {"type": "object"},
            "audit_ref": {"type": "string"},
            "tax_rates": {"type": "object"},
            "quote": {"type": "object"},
        },
        "inputs": ["order_id", "region"],
        "outputs": ["quote"],
        "operations": [
            {"id": "load", "service": "cart", "action": "Get", "consumes": ["order_id"], "produces": ["cart"]},
            {"id": "audit", "service": "audit", "action": "Log", "consumes": ["order_id"],
             "produces": ["audit_ref"]},
            {"id": "rates", "service": "tax", "action": "Rates", "consumes": ["region"], "produces": ["tax_rates"],
             "deterministic": True},
            {"id": "price", "service": "pricing", "action": "Price", "consumes": ["cart", "tax_rates"],
             "produces": ["quote"]},
        ],
        "services": {
            "audit": {"replicas": 1, "concurrency_per_replica": 21, "target_utilization": 0.7},
            "tax": {"replicas": 1, "concurrency_per_replica": 32, "target_utilization": 0.7},
        },
    }  # fmt: skip


def _growing_world() -> World:
    """:func:`_growing_doc`'s recipe, its logs and its capacity forecast: traffic growing 5%/day for
    14 days, logged at 1 in 10 000, 2000 regions; both services cross their 70% target in 12-13
    days, audit first."""
    r = recipe_from_dict(_growing_doc())
    params = LoggenParams(
        ops={"audit": OpParams(latency_median_ms=20.0), "rates": OpParams(latency_median_ms=30.0)},
        fields={"region": FieldParams(bytes_mean=8, universe=2000)},
    )
    spans = generate_spans(r, 200_000_000, seed=1, params=params, duration_s=14 * 86400.0, growth_per_day=0.05,
                           diurnal_amplitude=0.5, sample_rate=0.0001)  # fmt: skip
    p = build_profile(spans, r)
    return r, p, Headroom(r, replay(r, p, rng=np.random.default_rng([1, 0])), p)


@pytest.fixture(scope="module")
def growing_world() -> World:
    return _growing_world()


def _headroom_search(world: World, **kw: Any) -> SearchResult:
    r, p, hr = world
    judge = JudgeSettings(objective="headroom", service=hr.bottleneck())
    return search(r, p, SearchSettings(judge=judge, seed=1), **kw)


def test_headroom_world_has_two_services_crossing_about_together(growing_world: World) -> None:
    from recipemut.forecast.capacity import service_outlooks

    r, _, hr = growing_world
    days = {o.service: o.days_to(o.crossing, hr.forecast.now) for o in service_outlooks(hr.forecast, r, hr.before)}
    assert days["audit"] == pytest.approx(12, abs=1.5) and days["tax"] == pytest.approx(12.5, abs=1.5)
    assert days["audit"] <= days["tax"] and hr.bottleneck() == "audit"


def test_headroom_with_a_fixed_bottleneck_stops_after_relieving_it(growing_world: World) -> None:
    res = _headroom_search(growing_world)  # no re-pick: every candidate judged on audit's busy time
    assert [c.mutation.id for c in res.plan] == ["eliminate:audit"]
    cache = {c.mutation.id: c for c in res.rejected}["cache:rates"]
    assert cache.service == "audit"
    assert cache.reasons == (NO_DIFFERENCE, "judged on the busy time of audit, the bottleneck service at this step")
    first = growing_world[2].first_crossing(res)
    assert first is not None
    assert (first["before"]["service"], first["after"]["service"]) == ("audit", "tax")
    assert first["after"]["crossing_in_days"] < 14  # tax still crosses in about 12.5 days


def test_headroom_repicks_the_bottleneck_after_every_step(growing_world: World) -> None:
    hr = growing_world[2]
    res = _headroom_search(growing_world, bottleneck=hr.pressure)
    assert [(c.mutation.id, c.service) for c in res.plan] == [("eliminate:audit", "audit"), ("cache:rates", "tax")]
    assert all(c.evaluation is not None and c.evaluation.score < 0 for c in res.plan)  # each relieved its bottleneck
    assert res.plan_evaluation is not None and res.plan_evaluation.verdict == "improves"
    first = hr.first_crossing(res)  # the plan's headroom: the earliest crossing over all services
    assert first is not None
    b, a = first["before"], first["after"]
    assert (b["service"], a["service"]) == ("audit", "tax")
    assert b["crossing_in_days"] == pytest.approx(12, abs=1.5)
    assert a["crossing_in_days"] > b["crossing_in_days"] + 8  # the second service's crossing moved out
    assert a["load"] < b["load"]
    days = f"audit in {b['crossing_in_days']:.1f} days -> tax in {a['crossing_in_days']:.1f} days"
    assert first["sentence"] == f"first to need replicas: {days}"
    lines = hr.plan_lines(res)
    assert lines[0] == first["sentence"]
    assert any(line.startswith("audit: scaling needed in") for line in lines)
    assert any(line.startswith("tax: scaling needed in") for line in lines)


def test_bottleneck_only_matters_under_headroom(growing_world: World) -> None:
    r, p, hr = growing_world
    settings = SearchSettings(judge=JudgeSettings(objective="latency"), seed=1, budget=20)

    def numbers(**kw: Any) -> list[tuple[str, str, dict[str, Any] | None]]:
        res = search(r, p, settings, **kw)
        cands = [*res.singles, *res.plan, *res.rejected]
        return [(c.mutation.id, c.status, c.evaluation.to_dict() if c.evaluation else None) for c in cands]

    assert numbers(bottleneck=hr.pressure) == numbers()


def test_headroom_report_and_plan_file_name_each_steps_bottleneck(growing_world: World) -> None:
    import json

    from recipemut.plan.assemble import plan_document, search_report

    hr = growing_world[2]
    res = _headroom_search(growing_world, bottleneck=hr.pressure)
    text = json.dumps(_growing_doc(), indent=2)  # JSON is YAML: the recipe file's text
    rep = search_report(res, hr, Path("growing.yaml"), text, bottleneck="audit")
    first = rep["plan_first_crossing"]
    assert (first["before"]["service"], first["after"]["service"]) == ("audit", "tax")
    assert rep["plan_headroom"][0] == first["sentence"]
    assert {c["id"]: c["bottleneck_service"] for c in rep["singles"]} == {
        "eliminate:audit": "audit",
        "cache:rates": "audit",
    }
    doc = plan_document(res, hr, Path("growing.yaml"), name="growing", version=1, sha256="0" * 64, report=rep)
    assert [(m["id"], m["predicted"]["bottleneck_service"]) for m in doc["mutations"]] == [
        ("eliminate:audit", "audit"),
        ("cache:rates", "tax"),
    ]
    other = search(res.original, growing_world[1], _settings("latency", budget=5))
    assert "plan_first_crossing" not in search_report(other, hr, Path("growing.yaml"), text)
    assert all("bottleneck_service" not in c for c in search_report(other, hr, Path("g.yaml"), text)["singles"])


def test_a_candidate_apply_would_refuse_is_rejected_with_the_loaders_reason() -> None:
    # a cache whose hit latency is below 0 (an operator option out of the schema's range) is faster in
    # the replay, but no recipe apply writes: the search rejects it, as apply would refuse it
    r = recipe([{"id": "a", "consumes": ["x"], "produces": ["z"], "deterministic": True}], outputs=("z",))
    p = profile_from_matrices(r, {"a": np.full(200, 50.0)}, cache_key={"a": np.arange(200) % 3})
    ok = search(r, p, _settings("latency", operators=("cache",)))
    assert [c.mutation.id for c in ok.plan] == ["cache:a"]
    bad = search(r, p, _settings("latency", operators=("cache",), operator_options={"cache_hit_latency_ms": -5.0}))
    assert bad.plan == ()
    (c,) = bad.rejected
    assert c.reasons == ("invalid: operations[0] (a).cache.hit_latency_ms: must be >= 0, got -5 [out-of-range]",)


def test_the_plan_never_leaves_a_recipe_apply_refuses() -> None:
    # each dead operation may go alone, but a plan removing both leaves no operation
    from recipemut.recipe.loader import check_document

    r = recipe([{"id": "a", "consumes": ["x"]}, {"id": "b", "consumes": ["x"]}])
    p = profile_from_matrices(r, {"a": np.full(50, 40.0), "b": np.full(50, 60.0)})
    res = search(r, p, _settings("latency", operators=("eliminate",)))
    assert [c.mutation.id for c in res.plan] == ["eliminate:b"]
    _, findings = check_document(dict(res.plan_doc), {}, file="r.yaml")
    assert [f for f in findings if f.severity == "error"] == []
