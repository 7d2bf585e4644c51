"""Parquet logs: told by content, read in batches, every span-table column kept, directories and
globs as --logs, and bad files refused in one line naming the file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from _profile_helpers import DIAMOND, REQUESTS, diamond, line, span, write_lines, write_spans
from typer.testing import CliRunner

from recipemut.errors import InputFileError, LogError
from recipemut.logs import parquet as parquet_mod
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import expand_logs, is_parquet, parquet_bytes

CALLS = [
    span("r1", "load", 1000, 10, span_id="s1"),
    span("r1", "left", 1010, 30, span_id="s2", parent_span_id="s1", attempt=1, items=3),
    span("r1", "left", 1045, 20, span_id="s3", parent_span_id="s1", attempt=2, items=3),
    span("r1", "right", 1010, 50, span_id="s4", parent_span_id="s1"),
    span("r2", "load", 2000, 10, span_id="t1", cost_usd=0.5, recipe_version=3, variant="canary"),
]


def _to_parquet(tmp_path: Path, spans: list[dict], name: str = "logs.parquet") -> Path:  # type: ignore[type-arg]
    src = write_lines(tmp_path / (name + ".jsonl"), [line(s) for s in spans])
    df, _ = read_logs(src)
    out = tmp_path / name
    out.write_bytes(parquet_bytes(pa.Table.from_pandas(df, preserve_index=False)))
    return out


def test_parquet_is_told_by_content_and_keeps_every_column(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "calls.jsonl", [line(s) for s in CALLS])
    want, _ = read_logs(src)
    p = _to_parquet(tmp_path, CALLS, name="no_suffix.bin")  # the name says nothing
    assert is_parquet(p.read_bytes()[:4])
    got, rep = read_logs(p)
    assert rep.formats == {str(p): "parquet"}
    assert list(got.columns) == list(want.columns)
    assert {"span_id", "parent_span_id", "attempt", "items"} <= set(got.columns)
    for col in want.columns:
        if col in ("source_file", "source_line"):
            continue
        assert (
            got[col].astype(object).where(got[col].notna(), None).tolist()
            == want[col].astype(object).where(want[col].notna(), None).tolist()
        ), col
    assert got["source_line"].tolist() == [1, 2, 3, 4, 5]  # a span's line is its row
    assert str(got["attempt"].dtype) == "Int64" and got["attempt"].tolist()[1:3] == [1, 2]


def test_parquet_is_read_in_batches_and_sampled_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spans = [span(f"r{i // 4}", op, 1_700_000_000_000 + i, 3) for i, op in
             zip(range(800), ["load", "left", "right", "join"] * 200, strict=True)]  # fmt: skip
    p = _to_parquet(tmp_path, spans)
    whole, _ = read_logs(p, recipe=diamond(), sample_requests=0.4)
    monkeypatch.setattr(parquet_mod, "BATCH_ROWS", 64)
    batched, rep = read_logs(p, recipe=diamond(), sample_requests=0.4)
    assert batched["request_id"].tolist() == whole["request_id"].tolist()
    assert rep.sample is not None and rep.sample.requests_total == 200
    assert batched.groupby("request_id").size().eq(4).all()


def test_a_directory_or_a_glob_of_parquet_files_is_a_log(tmp_path: Path) -> None:
    d = tmp_path / "lake"
    (d / "day=1").mkdir(parents=True)
    (d / "day=2").mkdir()
    a = _to_parquet(d / "day=1", REQUESTS[:6], name="part-0.parquet")
    b = _to_parquet(d / "day=2", REQUESTS[6:], name="part-0.parquet")
    for extra in (d / "day=1").glob("*.jsonl"):
        extra.unlink()
    for extra in (d / "day=2").glob("*.jsonl"):
        extra.unlink()
    assert expand_logs([d]) == [a, b]
    df, rep = read_logs(d, recipe=diamond())
    assert len(df) == len(REQUESTS) and rep.files == (str(a), str(b))
    g, _ = read_logs(str(d / "*" / "*.parquet"), recipe=diamond())
    assert g["request_id"].tolist() == df["request_id"].tolist()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match=r"is a directory, not a log file \(and holds no Parquet file"):
        read_logs(empty)
    with pytest.raises(InputFileError, match="no file matches it"):
        read_logs(str(tmp_path / "nothing-*.parquet"))


def _cli(*args: str) -> object:
    from recipemut.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _one_error_line(res: object, *needles: str) -> None:
    assert res.exit_code == 1, res.output  # type: ignore[attr-defined]
    err = [x for x in res.stderr.splitlines() if x.strip()]  # type: ignore[attr-defined]
    assert len(err) == 1 and "Traceback" not in res.output, res.output  # type: ignore[attr-defined]
    for n in needles:
        assert n in err[0], err[0]


def test_bad_parquet_files_are_one_clear_line(tmp_path: Path) -> None:
    recipe = tmp_path / "demo.yaml"
    recipe.write_text(yaml.safe_dump(DIAMOND))
    good = _to_parquet(tmp_path, REQUESTS)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _one_error_line(
        _cli("profile", str(recipe), "--logs", str(truncated)), "truncated.parquet", "not a readable Parquet"
    )

    missing = tmp_path / "missing.parquet"
    pq.write_table(pa.table({"request_id": ["r1"], "op": ["load"], "start_ms": [1.0], "status": ["ok"]}), missing)
    _one_error_line(_cli("profile", str(recipe), "--logs", str(missing)), "missing.parquet", "latency_ms")

    wrong = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"request_id": ["r1"], "op": ["load"], "start_ms": [1.0], "latency_ms": ["slow"],
                             "status": ["ok"]}), wrong)  # fmt: skip
    _one_error_line(_cli("profile", str(recipe), "--logs", str(wrong)), "wrong.parquet", "'latency_ms'", "not a number")

    numbers_as_ids = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"request_id": [1], "op": ["load"], "start_ms": [1.0], "latency_ms": [2.0],
                             "status": ["ok"]}), numbers_as_ids)  # fmt: skip
    _one_error_line(_cli("profile", str(recipe), "--logs", str(numbers_as_ids)), "ids.parquet", "'request_id'", "text")


def test_parquet_rows_are_checked_like_lines(tmp_path: Path) -> None:
    p = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"request_id": ["r1", "r1", ""], "recipe": ["demo"] * 3, "op": ["load", "left", "load"],
                             "start_ms": [1000.0, 1010.0, 5.0], "latency_ms": [10.0, -4.0, 1.0],
                             "status": ["ok", "ok", "ok"]}), p)  # fmt: skip
    df, rep = read_logs(p, recipe=diamond())
    assert len(df) == 1 and rep.rejected == {"bad-latency": 1, "missing-key": 1}
    assert sorted(e.line for e in rep.examples) == [2, 3]
    with pytest.raises(LogError) as e:
        read_logs(p, strict=True)
    assert e.value.line == 2


def test_parquet_file_with_spans_of_a_jsonl_twin_profiles_alike(tmp_path: Path) -> None:
    from recipemut.profile.build import build_profile

    src = write_spans(tmp_path / "a.jsonl", REQUESTS)
    p = _to_parquet(tmp_path, REQUESTS)
    a, _ = read_logs(src, recipe=diamond())
    b, _ = read_logs(p, recipe=diamond())
    pa_, pb = build_profile(a, diamond()), build_profile(b, diamond())
    assert repr(pa_.ops) == repr(pb.ops) and pa_.n_requests == pb.n_requests == 5
