"""The partitioned engines' whole-log figures against the local profile: cases found in review
(recipemut/logs/partials.py, profile/whole.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipemut.logs.distributed import read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.profile.build import build_profile
from recipemut.profile.whole import with_log_figures
from recipemut.recipe.loader import load_recipe

RECIPE = """\
apiVersion: recipemut/v1
kind: Recipe
name: tiny
version: 1
fields:
  x: {type: string}
services:
  s: {}
operations:
  - id: a
    service: s
    action: A
    produces: [x]
  - id: b
    service: s
    action: B
    consumes: [x]
"""


def _span(i: int, op: str, start: float, latency: float, status: str = "ok") -> dict[str, object]:
    return {"request_id": f"r{i}", "recipe": "tiny", "op": op, "start_ms": start, "latency_ms": latency,
            "status": status}


@pytest.mark.filterwarnings("ignore")
def test_duplicate_spans_without_span_ids_are_not_counted_in_the_whole_log_figures(tmp_path: Path) -> None:
    # b is logged twice per request (a failed first try, then the last-ending one), without span ids:
    # the local profile keeps the last-ending span; the partials counted both, so the partitioned
    # engines said count 200, p50 260 ms, error rate 0.5 and run share 2.0 where the local engine says
    # 100, 20 ms, 0 and 1.0
    (tmp_path / "r.yaml").write_text(RECIPE)
    rows = []
    for i in range(100):
        rows += [_span(i, "a", 1000.0 * i, 10.0), _span(i, "b", 1000.0 * i + 10, 500.0, "error"),
                 _span(i, "b", 1000.0 * i + 510, 20.0)]
    log = tmp_path / "l.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = load_recipe(tmp_path / "r.yaml")
    spans, _ = read_logs([log], recipe=recipe)
    local = {o.op: o for o in build_profile(spans, recipe).ops}
    sample, _, figures = read_partitioned([log], recipe=recipe, engine="local")
    whole = {o.op: o for o in with_log_figures(build_profile(sample, recipe), figures, recipe).ops}
    for op in ("a", "b"):
        assert whole[op].count == local[op].count == 100
        assert whole[op].error_rate == local[op].error_rate == 0.0
        assert whole[op].run_share == local[op].run_share == 1.0
        assert whole[op].p50_ms == pytest.approx(local[op].p50_ms, rel=1e-3)
        assert whole[op].mean_ms == pytest.approx(local[op].mean_ms, rel=1e-9)
