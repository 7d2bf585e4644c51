"""`recipemut convert LOGS -o FOLDER/`: streamed, one Parquet file per day of request start (UTC),
each sorted by request; profiling the folder gives the figures of the logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from _convert_helpers import DAY, ROOT, T0, run
from _profile_helpers import line, span, write_lines, write_recipe

from recipemut.usecases.convert import convert_to_folder
from recipemut.usecases.inputs import LogSource


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    """A profile's JSON without what names or counts the files read."""
    ingest = {k: v for k, v in data["ingest"].items() if k not in ("files", "formats")}
    summary = {k: v for k, v in data["summary"].items() if k != "text"}
    return {**data, "ingest": ingest, "summary": summary}


def test_profile_of_the_day_folder_is_the_profile_of_the_log(tmp_path: Path) -> None:
    recipe, logs = ROOT / "recipes" / "checkout" / "recipe.yaml", ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
    res = run("convert", str(logs), "-o", f"{tmp_path / 'days'}/", "-f", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    files = [Path(f) for f in out["files"]]
    assert len(files) == 14 and [f.name for f in files][:2] == ["spans-2025-11-24.parquet", "spans-2025-11-25.parquet"]
    assert sum(pq.read_metadata(f).num_rows for f in files) == out["rows"] == out["ingest"]["spans_kept"]
    a = run("profile", str(recipe), "--logs", str(logs), "-f", "json")
    b = run("profile", str(recipe), "--logs", str(tmp_path / "days"), "-f", "json")
    assert a.exit_code == b.exit_code == 0, b.output
    assert _figures(json.loads(a.stdout)) == _figures(json.loads(b.stdout))


def _crossing_log(tmp_path: Path) -> Path:
    """Requests around two midnights, their spans in time order (a request begun before midnight
    has spans after it), one bad line in the middle."""
    lines = []
    for i in range(300):
        start = T0 + DAY - 150_000 + 1000 * i  # 2.5 minutes each side of the first midnight
        lines.append(line(span(f"q{i:03d}", "load", start, 10)))
        lines.append(line(span(f"q{i:03d}", "left", start + 20_000, 30)))  # 20 s later: past midnight for some
        if i == 150:
            lines.append('{"request_id": "bad", "op": "load", "start_ms": "soon", "latency_ms": 1}')
    lines.append(line(span("z", "load", T0 + 2 * DAY + 5, 10)))
    return write_lines(tmp_path / "cross.jsonl", lines)


def test_each_day_holds_the_requests_begun_that_day_sorted_by_request(tmp_path: Path) -> None:
    log = _crossing_log(tmp_path)
    run = convert_to_folder(LogSource.of(log), tmp_path / "out", chunk_bytes=4096)  # ~40 chunks
    names = [p.name for p in run.files]
    assert names == ["spans-2025-11-24.parquet", "spans-2025-11-25.parquet", "spans-2025-11-26.parquet"]
    first, second, third = (pq.read_table(p) for p in run.files)
    # q000..q149 begin before midnight: both their spans are in the first day, even those after midnight
    assert sorted(set(first.column("request_id").to_pylist())) == [f"q{i:03d}" for i in range(150)]
    assert first.num_rows == 300 and max(first.column("start_ms").to_pylist()) >= T0 + DAY
    assert second.num_rows == 300 and third.column("request_id").to_pylist() == ["z"]
    ids = first.column("request_id").to_pylist()
    assert ids == sorted(ids)  # by request start, then id; each request's spans together, in file order
    assert first.column("op").to_pylist()[:2] == ["load", "left"]
    assert first.column("source_line").to_pylist()[:2] == [1, 2]
    assert sum(run.report.rejected.values()) == 1
    assert [e.line for e in run.report.examples] == [303]


def test_the_folder_reads_as_the_log_whatever_the_chunks(tmp_path: Path) -> None:
    log = _crossing_log(tmp_path)
    recipe = write_recipe(tmp_path / "recipe.yaml")
    convert_to_folder(LogSource.of(log), tmp_path / "out", chunk_bytes=4096)
    a = run("profile", str(recipe), "--logs", str(log), "-f", "json")
    b = run("profile", str(recipe), "--logs", str(tmp_path / "out"), "-f", "json")
    assert a.exit_code == b.exit_code == 0, b.output
    fa, fb = _figures(json.loads(a.stdout)), _figures(json.loads(b.stdout))
    for k in ("rejected", "rejected_total", "examples", "lines_read"):  # the bad line is in the log, not the folder
        fa["ingest"].pop(k), fb["ingest"].pop(k)
    fa["summary"].pop("rejected_lines"), fb["summary"].pop("rejected_lines")
    assert fa["ingest"]["spans_kept"] == 601 and fa["ingest"]["requests"] == 301
    assert fa == fb


def test_the_report_of_a_bad_line_is_the_one_ingest_gives(tmp_path: Path) -> None:
    log = _crossing_log(tmp_path)
    res = run("convert", str(log), "-o", f"{tmp_path / 'out'}/")
    ref = run("profile", str(write_recipe(tmp_path / "recipe.yaml")), "--logs", str(log), "-q")
    assert res.exit_code == 0, res.output
    warn = [s for s in res.stderr.splitlines() if s.startswith("warning: rejected")]
    assert warn and warn == [s for s in ref.stderr.splitlines() if s.startswith("warning: rejected")]
    assert "in 3 day files" in res.stderr


def test_strict_stops_at_the_bad_line(tmp_path: Path) -> None:
    log = _crossing_log(tmp_path)
    res = run("convert", str(log), "-o", f"{tmp_path / 'out'}/", "--strict")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.stderr.startswith(f"error: {log}:303: ")


@pytest.mark.parametrize("case", ["file", "no-parent"])
def test_a_folder_that_cannot_be_made_is_one_line(tmp_path: Path, case: str) -> None:
    log = _crossing_log(tmp_path)
    target = tmp_path / "f" if case == "file" else tmp_path / "no" / "such"
    if case == "file":
        target.write_text("x")
    res = run("convert", str(log), "-o", f"{target}/")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.stderr.startswith(f"error: --out {target}/: "), res.stderr


def test_the_folder_of_the_logs_is_refused(tmp_path: Path) -> None:
    log = _crossing_log(tmp_path)
    first = run("convert", str(log), "-o", f"{tmp_path / 'lake'}/")
    assert first.exit_code == 0, first.output
    again = run("convert", str(tmp_path / "lake"), "-o", str(tmp_path / "lake"))
    assert again.exit_code == 1 and "Traceback" not in again.output
    assert again.stderr.startswith(f"error: --out {tmp_path / 'lake'}: holds one of the logs"), again.stderr
