"""The replay of the unchanged recipe against the recorded time: a recipe whose order the logs
contradict (two operations it runs one after the other overlapped) is said, with the pairs and where
the recipe orders them; `profile` and `suggest` warn, and their JSON keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _telemetry_helpers import real
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs.ingest import read_logs
from recipemut.predict.recorded import order_check, overlaps
from recipemut.predict.simulate import replay
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.loader import load_recipe_text
from recipemut.recipe.model import Recipe

runner = CliRunner()

#: jaeger-ui's parent-cycle fixture: someOperationName (34 ms) and anotherOperationName (34 ms, from
#: 0.1 ms later) side by side, which this recipe runs one after the other
CYCLE = """\
apiVersion: recipemut/v1
kind: Recipe
name: cyc
fields: {x: {}, y: {}}
operations:
  - {id: some, service: serviceName, action: someOperationName, produces: [x]}
  - {id: another, service: serviceName, action: anotherOperationName, consumes: [x], produces: [y]}
outputs: [y]
"""
TRACE = "jaeger_ui_contract_parent-cycle.legacy.json"


def _native(tmp_path: Path, rows: list[tuple[str, str, float, float]], recipe: str) -> tuple[Path, Path]:
    """A recipe file and a native log of (request, op, start, latency) rows."""
    rp, lp = tmp_path / "r.yaml", tmp_path / "logs.jsonl"
    rp.write_text(recipe, encoding="utf-8")
    lines = [
        {"request_id": rid, "op": op, "start_ms": 1_763_942_652_000 + s, "latency_ms": lat, "status": "ok"}
        for rid, op, s, lat in rows
    ]
    lp.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return rp, lp


AFTER = """\
apiVersion: recipemut/v1
kind: Recipe
name: ab
operations:
  - {id: a, service: s, action: a}
  - {id: b, service: s, action: b}
  - id: c
    service: s
    action: c
    after: [a, b]
"""


def test_a_recipe_whose_order_the_logs_contradict_is_said_with_the_pair_and_the_fix() -> None:
    r = load_recipe_text(CYCLE, file="c.yaml")
    df, _ = read_logs(real(TRACE), recipe=r)
    prof = build_profile(df, r)
    check = order_check(r, prof)
    assert check is not None
    # the replay ran another after some: 68.0 ms where the trace recorded 34.1 ms
    assert check.replayed_p50_ms == pytest.approx(68.0, abs=0.01)
    assert check.recorded_p50_ms == pytest.approx(34.1, abs=0.01)
    [o] = check.overlaps
    assert (o.before, o.after, o.requests, o.ran, o.via, o.line) == ("some", "another", 1, 1, "consumes: [x]", 7)
    assert o.by_ms == pytest.approx(33.9, abs=0.01)
    said = check.sentence("c.yaml")
    assert said.startswith(
        "the replay of the unchanged recipe gives p50 68.0 ms where the logs recorded 34.1 ms (+99%)"
    )
    assert "another started before some ended in 1 of 1 requests (100%), by 33.9 ms on average" in said
    assert "orders them by another's `consumes: [x]`, c.yaml:7" in said
    assert said.endswith("fix that order in the recipe (the later operation's `after` or `consumes`)")


def _profiled(tmp_path: Path, rows: list[tuple[str, str, float, float]]) -> tuple[Recipe, Profile]:
    rp, lp = _native(tmp_path, rows, AFTER)
    r = load_recipe_text(rp.read_text(), file=str(rp))
    return r, build_profile(read_logs(lp, recipe=r)[0], r)


def test_logs_that_follow_the_order_give_no_warning(tmp_path: Path) -> None:
    rows = [("r1", "a", 0.0, 10.0), ("r1", "b", 0.0, 20.0), ("r1", "c", 20.5, 5.0)]
    rows += [("r2", "a", 1000.0, 30.0), ("r2", "b", 1000.0, 10.0), ("r2", "c", 1030.0, 5.0)]
    r, prof = _profiled(tmp_path, rows)
    assert order_check(r, prof) is None
    assert overlaps(r, prof) == ()


def test_an_after_edge_that_overlapped_in_some_requests_names_its_share_and_line(tmp_path: Path) -> None:
    # c waits for a and b; in r2 it started 20 ms before b ended: the replay ends it 10 ms after b's end
    # (40 ms), not 10 ms before it (30 ms recorded, b's end)
    rows = [("r1", "a", 0.0, 10.0), ("r1", "b", 0.0, 10.0), ("r1", "c", 10.0, 10.0)]
    rows += [("r2", "a", 1000.0, 10.0), ("r2", "b", 1000.0, 30.0), ("r2", "c", 1010.0, 10.0)]
    r, prof = _profiled(tmp_path, rows)
    check = order_check(r, prof)
    assert check is not None and check.recorded_mean_ms == pytest.approx(25.0)
    assert check.replayed_mean_ms == pytest.approx(30.0)
    [o] = check.overlaps
    assert (o.before, o.after, o.requests, o.ran, o.via, o.line) == ("b", "c", 1, 2, "after: [b]", 10)
    assert (o.by_ms, o.added_ms) == (pytest.approx(20.0), pytest.approx(10.0))
    said = check.sentence("r.yaml")
    assert said.startswith(
        "the replay of the unchanged recipe gives p50 30.0 ms where the logs recorded 25.0 ms (+20%)"
    )
    assert "c started before b ended in 1 of 2 requests (50%), by 20.0 ms on average" in said
    # the baseline suggest replays is the same replay
    rep = replay(r, prof, rng=np.random.default_rng(0))
    assert float(rep.latency_ms.mean()) == pytest.approx(check.replayed_mean_ms)


def test_profile_warns_and_says_why_the_tail_shares_pass_100_percent(tmp_path: Path) -> None:
    rp = tmp_path / "c.yaml"
    rp.write_text(CYCLE, encoding="utf-8")
    res = runner.invoke(app, ["profile", str(rp), "--logs", str(real(TRACE)), "--store", "off"])
    assert res.exit_code == 0, res.output
    err, out = " ".join(res.stderr.split()), " ".join(res.stdout.split())
    assert f"warning: {rp}: the replay of the unchanged recipe gives p50 68.0 ms where the logs recorded 34.1 ms" in err
    assert f"(the recipe orders them by another's `consumes: [x]`, {rp}:7)" in err
    # another 100% and some 100% of the tail's latency: why they add up to 200% is said
    assert (
        "another 34.0 ms (100% of their latency), some 34.0 ms (100% of their latency); more than 100% together: "
        "operations the recipe runs one after the other overlapped in the logs (some and another)"
    ) in out
    res = runner.invoke(app, ["profile", str(rp), "--logs", str(real(TRACE)), "--store", "off", "-f", "json"])
    assert res.exit_code == 0, res.output
    found = json.loads(res.stdout)["findings"]["recipe_order"]
    assert found["replayed_p50_ms"] == pytest.approx(68.0, abs=0.01)
    assert [(o["before"], o["after"], o["line"]) for o in found["overlaps"]] == [("some", "another", 7)]
    assert found["message"].startswith("the replay of the unchanged recipe gives p50 68.0 ms")


def test_suggest_warns_and_keeps_it_in_the_report(tmp_path: Path) -> None:
    rp = tmp_path / "c.yaml"
    rp.write_text(CYCLE, encoding="utf-8")
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(real(TRACE)), "--store", "off", "-f", "json"])
    assert res.exit_code == 0, res.output
    err = " ".join(res.stderr.split())
    assert f"warning: {rp}: the replay of the unchanged recipe gives p50 68.0 ms where the logs recorded 34.1 ms" in err
    report = json.loads(res.stdout)["report"]
    assert report["baseline"]["latency_p50_ms"] == pytest.approx(68.0, abs=0.01)
    assert [o["after"] for o in report["findings"]["recipe_order"]["overlaps"]] == ["another"]
    md = runner.invoke(app, ["suggest", str(rp), "--logs", str(real(TRACE)), "--store", "off", "-f", "markdown"])
    assert md.exit_code == 0, md.output
    assert "### Findings\n\n- **Recipe order:** The replay of the unchanged recipe gives p50 68.0 ms" in md.stdout


def test_pairs_past_those_shown_are_counted_in_their_number() -> None:
    """The pairs past the first three read '1 more pair' / '2 more pairs', never 'more pair(s)'."""
    from recipemut.predict.recorded import SHOWN, OrderCheck, Overlap

    pair = Overlap("a", "b", requests=1, ran=2, by_ms=20.0, added_ms=10.0, via="after: [a]", line=3)

    def said(n: int) -> str:
        return OrderCheck(30.0, 25.0, 30.0, 25.0, 2, 0.0, (pair,) * n).sentence("r.yaml")

    assert "; and 1 more pair (--format json lists them)" in said(SHOWN + 1)
    assert "; and 2 more pairs (--format json lists them)" in said(SHOWN + 2)
    assert "more pair" not in said(SHOWN)
