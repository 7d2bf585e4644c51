"""A branch (`when`) the recorded request did not take is not replayed as a missing span: the
operation does not run there, nothing is imputed, and what follows it goes on from its predecessors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _profile_helpers import line, write_lines

from recipemut.logs.ingest import read_logs
from recipemut.predict.simulate import replay
from recipemut.profile.build import build_profile
from recipemut.recipe.loader import load_recipe_text

RECIPE = """\
apiVersion: recipemut/v1
kind: Recipe
name: branchy
version: 1
fields:
  x: {type: string}
  y: {type: string}
  z: {type: string}
inputs: [x]
outputs: [z]
operations:
  - id: check
    service: s
    action: Check
    consumes: [x]
    produces: [y]
  - id: slow_path
    service: s
    action: Slow
    consumes: [y]
    after: [check]
    when: the card needs a manual review
  - id: finish
    service: s
    action: Finish
    consumes: [y]
    produces: [z]
    after: [slow_path]
"""

T0 = 1_700_000_000_000.0


def _lines(n: int) -> list[dict[str, Any]]:
    """check 10 ms; on every 4th request slow_path 500 ms; then finish 20 ms."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        rid, t = f"r{i}", T0 + 10_000 * i
        out.append({"request_id": rid, "op": "check", "start_ms": t, "latency_ms": 10.0, "status": "ok"})
        if i % 4 == 0:
            out.append({"request_id": rid, "op": "slow_path", "start_ms": t + 10, "latency_ms": 500.0, "status": "ok"})
            t += 500
        out.append({"request_id": rid, "op": "finish", "start_ms": t + 10, "latency_ms": 20.0, "status": "ok"})
    return out


def test_the_unchanged_recipe_replays_the_recorded_branches(tmp_path: Path) -> None:
    r = load_recipe_text(RECIPE, file="branchy.yaml")
    df, _ = read_logs(write_lines(tmp_path / "b.jsonl", [line(d) for d in _lines(40)]), recipe=r)
    prof = build_profile(df, r)
    rep = replay(r, prof, rng=np.random.default_rng(0))
    assert rep.imputed_share == 0.0
    assert rep.latency_ms == pytest.approx(prof.e2e_latency_ms)
    assert sorted(set(np.round(rep.latency_ms))) == [30.0, 530.0]
    assert rep.ran[:, rep.op_ids.index("slow_path")].sum() == 10  # 1 request in 4
    assert rep.ran[:, rep.op_ids.index("finish")].all()  # what follows the branch still runs


def test_a_branch_of_several_steps_is_skipped_whole(tmp_path: Path) -> None:
    """The branch's second step has no span either, because its first did not run: skipped, not imputed."""
    text = (
        RECIPE.replace(
            "  - id: finish\n",
            "  - id: slow_path_2\n    service: s\n    action: Slow2\n    consumes: [y]\n    after: [slow_path]\n"
            "    when: the card needs a manual review\n  - id: finish\n",
        )
        .replace("    after: [slow_path]\n", "    after: [slow_path_2]\n", 2)
        .replace("    after: [slow_path_2]\n    when", "    after: [slow_path]\n    when", 1)
    )
    r = load_recipe_text(text, file="branchy.yaml")
    lines = _lines(40)
    for d in [d for d in lines if d["op"] == "slow_path"]:
        lines.append(d | {"op": "slow_path_2", "start_ms": d["start_ms"] + 500, "latency_ms": 0.0})
    df, _ = read_logs(write_lines(tmp_path / "b.jsonl", [line(d) for d in lines]), recipe=r)
    prof = build_profile(df, r)
    rep = replay(r, prof, rng=np.random.default_rng(0))
    assert r.ops["finish"].after == ("slow_path_2",)
    assert rep.imputed_share == 0.0
    assert rep.latency_ms == pytest.approx(prof.e2e_latency_ms)
