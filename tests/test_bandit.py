"""Thompson sampling over operators: concentrates on what pays off, never starves the rest."""

from __future__ import annotations

from collections import Counter, namedtuple

import numpy as np
import pytest

from recipemut.learn.bandit import SIM_WEIGHT, Bandit, load_bandit, mutation_kind, order_candidates
from recipemut.learn.store import Evidence, Store
from recipemut.recipe.model import recipe_from_dict

PAYOFF = {"cache": 0.7, "reorder": 0.1, "parallelize": 0.1, "substitute": 0.1}
ARMS = [(op, None) for op in PAYOFF]
M = namedtuple("M", "id operator targets")


def _run(seed: int, rounds: int = 150) -> list[str]:
    rng = np.random.default_rng(seed)
    b = Bandit()
    picks = []
    for _ in range(rounds):
        op = ARMS[b.choose(ARMS, rng)][0]
        picks.append(op)
        b = b.update([Evidence(op, None, float(rng.random() < PAYOFF[op]), "observed")])
    return picks


@pytest.mark.parametrize("seed", range(20))
def test_concentrates_on_the_operator_that_pays_off_within_50_rounds(seed: int) -> None:
    picks = _run(seed)
    late = Counter(picks[50:150])
    assert late["cache"] >= 75, late  # the documented promise: >= 75% of rounds 51-150
    # and it still tries the others (the floor)
    assert all(Counter(picks)[op] >= 1 for op in PAYOFF)


def test_floor_keeps_every_arm_alive_even_against_overwhelming_evidence() -> None:
    b = Bandit.from_evidence([Evidence("cache", None, 1.0, "observed")] * 500)
    rng = np.random.default_rng(7)
    counts = Counter(ARMS[b.choose(ARMS, rng)][0] for _ in range(4000))
    for op in ("reorder", "parallelize", "substitute"):
        # at least floor / arms = 2.5% each, less sampling noise
        assert counts[op] / 4000 > 0.018, counts
    probs = b.selection_probabilities(ARMS, np.random.default_rng(1))
    assert probs.sum() == pytest.approx(1.0) and probs.min() >= 0.1 / 4 - 1e-12


def test_simulated_evidence_counts_less_than_observed() -> None:
    sim = Bandit.from_evidence([Evidence("cache", None, 1.0, "simulated")] * 10)
    obs = Bandit.from_evidence([Evidence("cache", None, 1.0, "observed")] * 10)
    assert sim.beta("cache") == pytest.approx((1 + 10 * SIM_WEIGHT, 1.0))
    assert obs.beta("cache") == pytest.approx((11.0, 1.0))
    assert 0.5 < sim.posterior_mean("cache") < obs.posterior_mean("cache")


def test_kind_arms_use_their_own_evidence_once_there_is_enough() -> None:
    ev = [Evidence("cache", "pricing", 1.0, "observed")] * 4 + [Evidence("cache", "cart", 0.0, "observed")] * 2
    b = Bandit.from_evidence(ev)
    assert b.beta("cache") == (5.0, 3.0)
    # cart has 2 < MIN_KIND_WEIGHT: shares the operator's posterior
    assert b.beta("cache", "cart") == b.beta("cache")
    # pricing has 4: its own successes on a prior of 2 pseudo-observations at the operator mean (5/8)
    assert b.beta("cache", "pricing") == pytest.approx((1 + 2 * 5 / 8 + 4, 1 + 2 * 3 / 8))
    assert b.posterior_mean("cache", "pricing") > b.posterior_mean("cache")


def test_update_is_pure() -> None:
    b = Bandit()
    b2 = b.update([Evidence("cache", None, 1.0, "observed")])
    assert b.beta("cache") == (1.0, 1.0) and b2.beta("cache") == (2.0, 1.0)


def test_order_candidates_is_a_permutation_keeping_each_arms_order() -> None:
    cands = [M(f"{op}{i}", op, ()) for op in PAYOFF for i in range(5)]
    out = order_candidates(cands, np.random.default_rng(3))
    assert sorted(c.id for c in out) == sorted(c.id for c in cands)
    for op in PAYOFF:
        assert [c.id for c in out if c.operator == op] == [f"{op}{i}" for i in range(5)]


def test_order_candidates_puts_the_learned_operator_first_under_a_budget() -> None:
    b = Bandit.from_evidence(
        [Evidence("cache", None, 1.0, "observed")] * 20 + [Evidence("reorder", None, 0.0, "observed")] * 20
    )
    cands = [M(f"r{i}", "reorder", ()) for i in range(10)] + [M(f"c{i}", "cache", ()) for i in range(10)]
    firsts = [
        sum(c.operator == "cache" for c in order_candidates(cands, np.random.default_rng(s), b)[:5]) for s in range(30)
    ]
    assert np.mean(firsts) > 4.0  # of the first five evaluated, nearly all are caches
    assert order_candidates([], np.random.default_rng(0), b) == []


def test_mutation_kind_is_the_target_service() -> None:
    r = recipe_from_dict(
        {
            "name": "k", "fields": {"a": {"type": "string"}, "b": {"type": "string"}}, "inputs": ["a"],
            "outputs": ["b"], "operations": [{"id": "f", "service": "pricing", "action": "F",
                                              "consumes": ["a"], "produces": ["b"]}],
        }
    )  # fmt: skip
    assert mutation_kind(M("cache:f", "cache", ("f",)), r) == "pricing"
    assert mutation_kind(M("fmt:b", "data_pipeline", ("b",)), r) == "field"
    assert mutation_kind(M("x", "cache", ("nope",)), r) is None


def test_load_bandit_reads_the_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "s.sqlite"
    assert load_bandit(p).beta("cache") == (1.0, 1.0)  # no store yet: a fresh bandit, no file created
    assert not p.exists()
    with Store.open(p) as s:
        for i in range(3):
            s.record_observation(recipe="shop", version=1, sha256="x", mutation_id=f"cache:{i}", operator="cache",
                                 outcome="promoted", observed_delta=-10.0, baseline=100.0)  # fmt: skip
        s.record_observation(recipe="shop", version=1, sha256="x", mutation_id="reorder:a", operator="reorder",
                             outcome="rolled_back", observed_delta=5.0, baseline=100.0)  # fmt: skip
        s.record_observation(recipe="shop", version=1, sha256="x", mutation_id="reorder:b", operator="reorder",
                             outcome="held")  # fmt: skip
        s.record_suggestion(recipe="shop", version=1, sha256="x", mutation_id="hedge:a", operator="hedge",
                            verdict="improves", predicted_delta=-3.0, baseline=100.0)  # fmt: skip
    b = load_bandit(p)
    assert b.beta("cache") == (4.0, 1.0)
    assert b.beta("reorder") == (1.0, 2.0)  # held is no evidence
    assert b.beta("hedge") == pytest.approx((1 + SIM_WEIGHT, 1.0))
