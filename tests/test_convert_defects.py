"""Defects of the streamed ``recipemut convert`` (``recipemut/usecases/partition.py``) and their fixes:
``--sample-rate`` reaches the spans of trace files (OTLP, Jaeger, Zipkin) in both forms; a log of
many days never holds more than :data:`~recipemut.usecases.partition.OPEN_SPOOLS` spool files open
and writes what an unbounded spool writes; a conversion into a folder spools inside that folder
(not the system's temporary folder) where ``--logs FOLDER`` does not read, and leaves nothing on
failure; one sampler (:func:`~recipemut.logs.sample.sampler_for`) for ingest and convert, with the
range check of ``--sample-requests``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _profile_helpers import line, span, write_lines
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError, LogError
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import expand_logs
from recipemut.logs.sample import over_budget, sample_fraction, sampler_for
from recipemut.usecases import partition
from recipemut.usecases.convert import convert_logs, convert_to_folder
from recipemut.usecases.inputs import LogSource

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "realdata"
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}
DAY = 86_400_000
T0 = 1_764_000_000_000 - 1_764_000_000_000 % DAY  # a midnight, UTC (2025-11-24)
TRACES = ["otlp_proto_examples_trace.json", "jaeger_ui_criticalpath_happyTrace.json", "zipkin_lens_skew.json"]


def _rates(out: Path) -> list[float]:
    files = sorted(out.glob("*.parquet")) if out.is_dir() else [out]
    return [r for f in files for r in pq.read_table(f).column("sample_rate").to_pylist()]


# 1. --sample-rate fills the spans of trace files, as the one-file form held in memory did


@pytest.mark.parametrize("form", ["file", "folder"])
@pytest.mark.parametrize("name", TRACES)
def test_sample_rate_fills_the_spans_of_a_trace_file(tmp_path: Path, name: str, form: str) -> None:
    out = tmp_path / ("z.parquet" if form == "file" else "zd")
    target = str(out) + ("/" if form == "folder" else "")
    res = CliRunner().invoke(app, ["convert", str(REAL / name), "--sample-rate", "0.5", "-o", target, "-q"], env=ENV)
    assert res.exit_code == 0, res.output
    rates = _rates(out)
    assert rates and rates == [0.5] * len(rates)


def test_sample_rate_fills_only_where_a_span_carries_none(tmp_path: Path) -> None:
    """A native log beside the trace file: its span's own rate kept, the rest filled."""
    log = write_lines(tmp_path / "own.jsonl", [line(span("n1", "load", T0, 5, sample_rate=0.25)),
                                               line(span("n2", "load", T0 + 10, 5))])  # fmt: skip
    out = tmp_path / "both.parquet"
    run = convert_logs(LogSource.of([REAL / "zipkin_lens_skew.json", log], sample_rate=0.5), out)
    t = pq.read_table(out)
    by_file = {(f, r) for f, r in zip(t.column("source_file").to_pylist(), t.column("sample_rate").to_pylist(),
                                     strict=True)}  # fmt: skip
    assert by_file == {(str(REAL / "zipkin_lens_skew.json"), 0.5), (str(log), 0.25), (str(log), 0.5)}
    assert run.report.sample_rates == {0.5: 4, 0.25: 1}


# 2. the spool files open at once are bounded


def _many_days_log(tmp_path: Path, days: int = 40) -> Path:
    """``days`` days, three rounds over them (each chunk of the stream touches many days): requests
    begun just before midnight with a span after it (carried back a day), a request whose spans
    come in different rounds (in different segments of its day), and a duplicate span (the same
    end: which one is kept goes by ingest order)."""
    lines = []
    for r in range(3):
        for d in range(days):
            day = T0 + d * DAY
            lines.append(line(span(f"d{d:03d}-r{r}", "load", day + 3_600_000 + r, 10, attempt=r + 1)))
            late = f"d{d:03d}-late{r}"
            lines.append(line(span(late, "load", day + DAY - 500 + r, 10)))
            lines.append(line(span(late, "left", day + DAY + 200 + r, 30)))  # past midnight: the next day's spool
            lines.append(line(span(f"d{d:03d}-split", ["load", "left", "right"][r], day + 7_200_000 + 100 * r, 10)))
            lines.append(line(span(f"d{d:03d}-dup", "load", day + 9_000_000, 20 - 10 * (r % 2), cost_usd=r)))
            if r == 2 and d % 7 == 0:  # a span three days after its request's start (carried back three days)
                lines.append(line(span(f"d{d:03d}-long", "load", day + 60_000, 10)))
                lines.append(line(span(f"d{d:03d}-long", "join", day + 3 * DAY + 60_000, 10)))
    return write_lines(tmp_path / "many.jsonl", lines)


def _spool_files_open(folder: Path) -> int:
    """Files the process holds open in ``folder`` (its descriptors, through /proc)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # a descriptor closed between listdir and readlink
            n += Path(os.readlink(f"/proc/self/fd/{fd}")).parent == folder.resolve()
    return n


@pytest.fixture
def open_spools(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Counts, after each chunk spooled, the spool files the process holds open; and the most
    segment files one day took."""
    seen: dict[str, Any] = {"most_open": 0, "most_segments": 0}
    real = partition._Spool.add

    def add(self: Any, table: pa.Table) -> None:
        real(self, table)
        seen["most_open"] = max(seen["most_open"], _spool_files_open(self.folder))
        seen["most_segments"] = max(seen["most_segments"], *(len(self.paths(d)) for d in self.segments))

    monkeypatch.setattr(partition._Spool, "add", add)
    yield seen


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc (Linux)")
@pytest.mark.parametrize("form", ["file", "folder"])
def test_many_days_keep_at_most_the_cap_open_and_write_what_an_unbounded_spool_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_spools: dict[str, Any], form: str
) -> None:
    log = _many_days_log(tmp_path)
    write = convert_logs if form == "file" else convert_to_folder

    def convert(cap: int, name: str) -> dict[str, pa.Table]:
        monkeypatch.setattr(partition, "OPEN_SPOOLS", cap)
        out = tmp_path / name
        write(LogSource.of(log), out, chunk_bytes=2048)
        files = sorted(out.iterdir()) if form == "folder" else [out]
        return {f.name: pq.read_table(f) for f in files}

    unbounded = convert(10_000, "a.parquet" if form == "file" else "a")
    assert open_spools["most_open"] > 3  # without a cap, a chunk's days are all open
    open_spools.update(most_open=0, most_segments=0)
    bounded = convert(3, "b.parquet" if form == "file" else "b")
    assert 0 < open_spools["most_open"] <= 3
    assert open_spools["most_segments"] > 1  # days were closed and went on in new segments
    assert list(bounded) == (list(unbounded) if form == "folder" else ["b.parquet"])
    assert [t.num_rows for t in bounded.values()] == [t.num_rows for t in unbounded.values()]
    for a, b in zip(unbounded.values(), bounded.values(), strict=True):
        assert a.equals(b, check_metadata=True)
    if form == "folder":  # each request's spans together, in the order of the log (ingest order)
        day = bounded["spans-2025-11-24.parquet"].to_pylist()
        split = [(r["op"], r["source_line"]) for r in day if r["request_id"] == "d000-split"]
        assert split == [("load", 4), ("left", 204), ("right", 404)]
        assert [r["op"] for r in day if r["request_id"] == "d000-long"] == ["load", "join"]
        # every span, in its request's day; the duplicate (d*-dup, 3 times) once, as in one file
        assert sum(t.num_rows for t in bounded.values()) == 40 * 3 * 5 + 6 * 2 - 40 * 2


# 3. a conversion into a folder spools inside it


@pytest.fixture
def tmpdir_watched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$TMPDIR``, empty: the system's temporary folder a conversion must not spool into."""
    tmp = tmp_path / "systmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", None)
    return tmp


@pytest.fixture
def spools(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The spool folder of each conversion, what it held and what ``--logs`` of the output folder
    read, seen once the logs are spooled."""
    seen: list[dict[str, Any]] = []
    real = partition._write_out

    def write_out(sp: Any, *args: Any, **kwargs: Any) -> Any:
        work = sp.spool.folder
        try:
            read = expand_logs([work.parent])
        except InputFileError:  # no Parquet file there (yet): the spool's files are not taken for one
            read = []
        seen.append({"work": work, "held": sorted(p.name for p in work.iterdir()), "read": read})
        return real(sp, *args, **kwargs)

    monkeypatch.setattr(partition, "_write_out", write_out)
    return seen


def test_the_folder_form_spools_inside_the_output_folder_where_logs_does_not_read(
    tmp_path: Path, tmpdir_watched: Path, spools: list[dict[str, Any]]
) -> None:
    log = _many_days_log(tmp_path, days=3)
    folder = tmp_path / "days"
    folder.mkdir()
    pq.write_table(pa.table({"x": [1]}), folder / "other.parquet")  # --logs FOLDER reads what is there
    run = convert_to_folder(LogSource.of(log), folder, chunk_bytes=2048)
    (seen,) = spools
    work = seen["work"]
    assert work.parent == folder and work.name.startswith(".")
    assert seen["held"] and all(n.endswith(".arrow") for n in seen["held"])
    assert seen["read"] == [folder / "other.parquet"]  # the spool's files are not logs of the folder
    assert not work.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted([p.name for p in run.files] + ["other.parquet"])
    assert list(tmpdir_watched.iterdir()) == []


@pytest.mark.parametrize("failure", ["bad-line", "ctrl-c"])  # SIGTERM raises KeyboardInterrupt too (_entry)
def test_a_failed_folder_conversion_leaves_no_spool(
    tmp_path: Path, tmpdir_watched: Path, spools: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    log = _many_days_log(tmp_path, days=3)
    folder = tmp_path / "days"
    made: list[Path] = []
    real_spool = partition._spool_logs

    def spool_logs(source: LogSource, work: Path, *args: Any, **kwargs: Any) -> Any:
        made.append(work)
        if failure == "bad-line":  # pass 1 fails midway, the spool holding days
            with open(log, "a") as f:
                f.write('{"request_id": "bad", "op": "load", "start_ms": "soon", "latency_ms": 1}\n')
        return real_spool(source, work, *args, **kwargs)

    def interrupted(*args: Any, **kwargs: Any) -> None:  # in pass 2
        raise KeyboardInterrupt

    monkeypatch.setattr(partition, "_spool_logs", spool_logs)
    if failure != "bad-line":
        monkeypatch.setattr(partition, "sorted_day", interrupted)
    source = LogSource.of(log, strict=failure == "bad-line")
    with pytest.raises(LogError if failure == "bad-line" else KeyboardInterrupt):
        convert_to_folder(source, folder, chunk_bytes=2048)
    (work,) = made
    assert work.parent == folder  # where it was spooled ...
    assert not folder.exists()  # ... is gone, with the folder made for nothing
    assert list(tmpdir_watched.iterdir()) == []
    folder.mkdir()  # an existing folder: left as it was
    (folder / "keep.txt").write_text("mine")
    made.clear()
    if failure == "bad-line":
        monkeypatch.setattr(partition, "_spool_logs", real_spool)
        monkeypatch.setattr(partition, "checked_chunks", _then_fails(partition.checked_chunks))
    with pytest.raises(LogError if failure == "bad-line" else KeyboardInterrupt):
        convert_to_folder(LogSource.of(log), folder, chunk_bytes=2048)
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def _then_fails(real: Any) -> Any:
    def chunks(*args: Any, **kwargs: Any) -> Iterator[object]:
        it = iter(real(*args, **kwargs))
        yield next(it)
        yield next(it)
        raise LogError("a problem after two chunks", code="test")

    return chunks


# 4. one sampler, with the range check


@pytest.mark.parametrize("form", ["file", "folder"])
@pytest.mark.parametrize("fraction", [1.5, 0.0, -0.1])
def test_convert_refuses_a_sample_fraction_outside_0_1(tmp_path: Path, form: str, fraction: float) -> None:
    log = _many_days_log(tmp_path, days=1)
    write, out = (convert_logs, tmp_path / "o.parquet") if form == "file" else (convert_to_folder, tmp_path / "o")
    with pytest.raises(LogError, match=r"--sample-requests .* is outside \(0, 1\]"):
        write(LogSource.of(log, sample_requests=fraction), out)
    assert not out.exists()


def test_sample_fraction_decides_as_ingest_did() -> None:
    asked: list[int] = []

    def estimate() -> int:
        asked.append(1)
        return 10_000

    assert sample_fraction(0.3, "1K", estimate) == (0.3, "--sample-requests 0.3")
    assert sample_fraction(1, "1K", estimate) == (None, "")
    assert sample_fraction(None, "off", estimate) == (None, "")
    assert asked == []  # the estimate (a stat, a read of each file's trailer) only when there is a budget
    fraction, why = sample_fraction(None, 2_500, estimate)
    assert fraction == 0.25 and why == over_budget(10_000, 2_500, 2_500)
    assert sample_fraction(None, 20_000, estimate) == (None, "")
    with pytest.raises(LogError, match="outside"):
        sample_fraction(2.0, None, estimate)


def test_ingest_and_convert_sample_alike_under_a_budget(tmp_path: Path) -> None:
    log = _many_days_log(tmp_path, days=20)
    budget = str(log.stat().st_size)  # under the estimate (2.7 times the size): sampled
    sampler, why = sampler_for([log], None, budget)
    assert sampler is not None and 0 < sampler.fraction < 1
    _, rep = read_logs([log], memory_budget=budget)
    run = convert_logs(LogSource.of(log, memory_budget=budget), tmp_path / "s.parquet")
    assert rep.sample is not None and run.report.sample is not None
    assert rep.sample.fraction == run.report.sample.fraction == sampler.fraction
    assert rep.sample.reason == run.report.sample.reason == why
    assert rep.spans_kept == run.rows
