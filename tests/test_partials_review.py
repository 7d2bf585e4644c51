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


def _gap_log(tmp_path: Path) -> tuple[Path, int]:
    """200 spans, 1,200 lines that are no JSON (a damaged stretch), 200 spans; and the bytes of the first 200."""
    def good(i: int) -> str:
        return json.dumps(_span(i, "a", 1000.0 * i, 10.0)) + "\n"

    head = "".join(good(i) for i in range(200))
    log = tmp_path / "gap.jsonl"
    log.write_text(head + "not json at all\n" * 1200 + "".join(good(i) for i in range(200, 400)))
    return log, len(head.encode())


@pytest.mark.filterwarnings("ignore")
def test_a_partition_opening_with_a_damaged_stretch_is_read_on_not_dropped(tmp_path: Path) -> None:
    # a byte range whose first 1,000 lines were all bad was taken as 'not a span log' and read as
    # empty: its spans after the stretch were lost and its rejected lines never counted (376 spans,
    # 1 rejected line, 377 lines read, where the file holds 400, 1,200 and 1,600)
    (tmp_path / "r.yaml").write_text(RECIPE)
    recipe = load_recipe(tmp_path / "r.yaml")
    log, head = _gap_log(tmp_path)
    _, local = read_logs([log], recipe=recipe)
    sample, report, figures = read_partitioned([log], recipe=recipe, engine="local", partition_bytes=head + 10)
    assert figures.partitions > 1
    assert (len(sample), report.lines_read, sum(report.rejected.values())) == (400, 1600, 1200)
    assert (local.spans_kept, local.lines_read, sum(local.rejected.values())) == (400, 1600, 1200)
    assert int(figures.count.sum()) == 400
    assert sorted(e.line for e in report.examples)[0] == 201  # the file's line numbers


def test_a_damaged_file_start_is_still_not_a_span_log(tmp_path: Path) -> None:
    from recipemut.errors import LogError

    (tmp_path / "r.yaml").write_text(RECIPE)
    recipe = load_recipe(tmp_path / "r.yaml")
    log = tmp_path / "bad.jsonl"
    log.write_text("not json at all\n" * 1200 + json.dumps(_span(1, "a", 0.0, 1.0)) + "\n")
    with pytest.raises(LogError) as e:
        read_partitioned([log], recipe=recipe, engine="local")
    assert e.value.code == "not-a-log"


def test_streamed_chunks_read_on_after_a_damaged_stretch(tmp_path: Path) -> None:
    from recipemut.logs.report import Rejects
    from recipemut.logs.stream import checked_chunks

    log, head = _gap_log(tmp_path)
    rej = Rejects(str(log))
    spans = lines = 0
    for table, _, read, blank in checked_chunks(log, str(log), rej, chunk_bytes=head + 10):
        spans += table.num_rows
        lines += read + blank
    assert (spans, lines, sum(rej.counts.values())) == (400, 1600, 1200)


@pytest.mark.parametrize("blank", ["", "\n"])
def test_streamed_chunks_read_on_through_long_and_repeated_stretches(tmp_path: Path, blank: str) -> None:
    # the second chunk opens with 2,500 bad lines (more than one block), then 50 spans, 1,500 bad lines
    # again and 50 spans; blank lines among the bad ones when ``blank``: every span kept, every bad
    # line rejected at its own line number
    from recipemut.logs.report import Rejects
    from recipemut.logs.stream import checked_chunks

    def good(i: int) -> str:
        return json.dumps(_span(i, "a", 1000.0 * i, 10.0)) + "\n"

    head = "".join(good(i) for i in range(100))
    bad = "not json at all\n" + blank
    text = (head + bad * 2500 + "".join(good(i) for i in range(100, 150)) + bad * 1500
            + "".join(good(i) for i in range(150, 200)))
    log = tmp_path / "gaps.jsonl"
    log.write_text(text)
    rej = Rejects(str(log))
    spans, numbers, read, blanks = 0, [], 0, 0
    for table, lines, r, b in checked_chunks(log, str(log), rej, chunk_bytes=len(head.encode()) + 10):
        spans += table.num_rows
        numbers.extend(lines.tolist())
        read, blanks = read + r, blanks + b
    step = 1 + len(blank)
    assert (spans, read, sum(rej.counts.values())) == (200, 4200, 4000)
    assert blanks == (4000 if blank else 0)
    expected = [i + 1 for i, line in enumerate(text.splitlines()) if line.startswith("{")]
    assert numbers == expected
    assert rej.first is not None and rej.first.line == 101
    assert expected[100] == 101 + 2500 * step
