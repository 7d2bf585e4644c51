"""The memory budget lowers the peak of a sampled read: a log is read in chunks of a share of the budget
(64 MiB whatever the budget before: `profile --memory-budget 50M` peaked at 513 MB on a 300,000-span log,
542 MB unsampled), and a budget under what the process needs before it reads any log is said to be
unkeepable, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs import sample, stream
from recipemut.logs.ingest import read_logs

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOG = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"  # 17.6 MB of content, 57,102 spans
FLOOR = "cannot be kept: the process needs about 230 MiB before any log"
runner = CliRunner()


def _chunk_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    seen: list[int | None] = []
    real = stream.line_chunks

    def spy(path: Path, name: str, chunk_bytes: int | None = None):  # type: ignore[no-untyped-def]
        seen.append(chunk_bytes)
        return real(path, name, chunk_bytes)

    monkeypatch.setattr(stream, "line_chunks", spy)
    return seen


def test_chunks_are_a_share_of_the_budget_within_bounds() -> None:
    assert sample.chunk_bytes_for(50 << 20) == int((50 << 20) * sample.CHUNK_SHARE)
    assert sample.chunk_bytes_for(4 << 20) == sample.MIN_CHUNK_BYTES
    assert sample.chunk_bytes_for(4 << 30) == sample.chunk_bytes_for(0) == stream.CHUNK_BYTES == 64 << 20
    for budget, chunk in (("50M", 50 << 16), ("4G", 64 << 20), ("off", 64 << 20)):
        sampler, _ = sample.sampler_for([LOG], 0.5, budget)
        assert sampler is not None and sampler.chunk_bytes == chunk


def test_a_sampled_read_is_read_in_chunks_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _chunk_sizes(monkeypatch)
    df_small, rep_small = read_logs(LOG, memory_budget="20M")  # over it: sampled, in 1.25 MiB chunks
    assert seen == [int((20 << 20) * sample.CHUNK_SHARE)]
    assert rep_small.sample is not None and rep_small.sample.automatic
    seen.clear()
    df_big, rep_big = read_logs(LOG, sample_requests=rep_small.sample.fraction, memory_budget="4G")
    assert seen == [64 << 20]
    assert len(df_small) == len(df_big) and rep_small.lines_read == rep_big.lines_read  # the same sample


def test_a_budget_under_the_process_floor_is_said_once() -> None:
    _, sampled = read_logs(LOG, memory_budget="20M")  # over budget: said in the budget's own note
    assert sum(FLOOR in n for n in sampled.notes) == 1
    assert sampled.sample is not None and "over the budget of 20 MiB (--memory-budget 20M" in sampled.sample.summary()
    assert FLOOR in sampled.sample.summary()
    _, told = read_logs(LOG, sample_requests=0.5, memory_budget="50M")  # sampled by the option: said apart
    assert [n for n in told.notes if FLOOR in n] == [
        f"memory budget of 50 MiB (--memory-budget 50M): a budget under ~230 MiB {FLOOR}"]  # fmt: skip
    _, fits = read_logs(LOG, memory_budget="50M")  # not sampled: said all the same
    assert fits.sample is None and sum(FLOOR in n for n in fits.notes) == 1
    _, enough = read_logs(LOG, memory_budget="1G")
    assert not any(FLOOR in n for n in enough.notes)


def test_the_cli_says_it_once(tmp_path: Path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"".join(__import__("gzip").open(LOG).readlines()[:1000]))
    for logs in (LOG, small):  # sampled by the budget, and fitting in it
        r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(logs), "--memory-budget", "20M", "-q"],
                          env={"COLUMNS": "200"})  # fmt: skip
        assert r.exit_code == 0, r.stderr
        assert r.stderr.count(FLOOR) == 1, r.stderr
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(small), "--memory-budget", "50M", "-f", "json"])
    assert sum(FLOOR in n for n in json.loads(r.stdout)["ingest"]["notes"]) == 1


def test_convert_under_a_budget_reads_in_its_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _chunk_sizes(monkeypatch)
    out = tmp_path / "x.parquet"
    r = runner.invoke(app, ["convert", str(LOG), "-o", str(out), "--memory-budget", "20M", "-q"])
    assert r.exit_code == 0, r.stderr
    assert seen == [int((20 << 20) * sample.CHUNK_SHARE)]
    seen.clear()
    r = runner.invoke(app, ["convert", str(LOG), "-o", str(tmp_path / "y.parquet"), "-q"])
    assert r.exit_code == 0, r.stderr
    assert seen == [None]  # no budget: the default chunk


@pytest.mark.parametrize("engine", ["local", "dask"])
@pytest.mark.parametrize("extra", [[], ["--sample-requests", "0.5"]], ids=["fits", "sampled-by-option"])
def test_both_engines_say_it_once_without_a_budget_sample(tmp_path: Path, engine: str, extra: list[str]) -> None:
    # the dask engine gave the note only inside the budget's own sampling note: a log that fit a budget
    # under the floor (or one sampled by --sample-requests) was read without a word of it
    pytest.importorskip("dask.distributed")
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"".join(__import__("gzip").open(LOG).readlines()[:1000]))
    args = ["profile", str(RECIPE), "--logs", str(small), "--memory-budget", "50M", "--engine", engine, *extra]
    r = runner.invoke(app, [*args, "-q"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count(FLOOR) == 1, r.stderr
    assert "note: memory budget of 50 MiB (--memory-budget 50M): a budget under ~230 MiB " + FLOOR in r.stderr
    r = runner.invoke(app, [*args, "-f", "json"])
    assert r.exit_code == 0, r.stderr
    assert sum(FLOOR in n for n in json.loads(r.stdout)["ingest"]["notes"]) == 1


def test_the_dask_engine_says_it_once_when_the_budget_samples() -> None:
    pytest.importorskip("dask.distributed")
    args = ["profile", str(RECIPE), "--logs", str(LOG), "--memory-budget", "20M", "--engine", "dask", "-q"]
    r = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count(FLOOR) == 1 and "over the budget of 20 MiB" in r.stderr, r.stderr
