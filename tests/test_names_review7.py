"""A reviewer's findings on file listing, output names and kind detection (review 7).

1. ``--logs file:///folder --engine dask`` on a folder of JSONL (no Parquet file) listed its files with a
   second walk of its own and left a linked folder out in silence; it now reads the one listing the local
   engine reads a folder by (``parquet.list_folder``) and says what it does not follow. One glob for both.
2. The names of a Parquet log were three lists (convert wrote .parquet and .pq, the readers read .parq too,
   generate wrote .parquet alone): one list (``logs.sources.PARQUET_SUFFIXES``), every name of it written
   by convert and generate and read back.
"""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs.sources import PARQUET_SUFFIXES
from recipemut.logs.urls import expand_sources, local_files, log_path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
runner = CliRunner()
WIDE = {"COLUMNS": "200"}


# ---- 1. a folder of JSONL by file:// URL: one listing, and what it leaves out said ---------------------


def _jsonl_folder_with_a_link(root: Path) -> tuple[Path, int]:
    """``root/dd/a.jsonl`` (the shipped log's first half) and ``root/dd/old -> ../other`` holding the
    second half (``b.jsonl``): the reviewer's layout. Returns the folder and the lines in ``a.jsonl``."""
    lines = gzip.decompress(LOGS.read_bytes()).splitlines(keepends=True)
    half = len(lines) // 2
    (root / "dd").mkdir()
    (root / "other").mkdir()
    (root / "dd" / "a.jsonl").write_bytes(b"".join(lines[:half]))
    (root / "other" / "b.jsonl").write_bytes(b"".join(lines[half:]))
    os.symlink("../other", root / "dd" / "old")
    return root / "dd", half


def _linked_said(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if "linked folder" in r.getMessage()]


def test_a_jsonl_folder_by_url_says_the_linked_folder_it_does_not_follow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dd, _ = _jsonl_folder_with_a_link(tmp_path)
    with caplog.at_level(logging.WARNING):
        got = local_files(dd.as_uri())
    assert got == [dd / "a.jsonl"]  # the link is still not followed: a loop would be listed for ever
    assert _linked_said(caplog.records) == [
        f"{dd}: 1 linked folder was not followed (old): name it on --logs too to read its files"
    ]
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]  # a.jsonl is read, not skipped


def test_a_jsonl_folder_by_url_is_walked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The listing the local engine makes is the one read: the fallback walked the folder again (and the
    refusal it fell back from walked it for its hint: three walks of a folder that may hold 10,000 files)."""
    dd, _ = _jsonl_folder_with_a_link(tmp_path)
    walks: list[str] = []
    real = Path.rglob

    def counted(self: Path, pattern: str) -> object:
        walks.append(f"{self.name}:{pattern}")
        return real(self, pattern)

    monkeypatch.setattr(Path, "rglob", counted)
    assert local_files(dd.as_uri()) == [dd / "a.jsonl"]
    assert walks == ["dd:*"]


def test_an_empty_folder_by_url_is_still_the_local_engines_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    os.symlink("..", tmp_path / "empty" / "up")
    url = (tmp_path / "empty").as_uri()
    with pytest.raises(Exception, match="is a directory, not a log file") as e:
        local_files(url)
    assert getattr(e.value, "file", None) == url


def test_a_glob_by_url_with_double_star_inside_a_name_gives_a_url_example(tmp_path: Path) -> None:
    """One glob (parquet.glob_files) for both engines; its line shows a pattern written as it was given."""
    for value, example in ((f"{tmp_path.as_uri()}/**x.jsonl", "'file:///data/**/*.parquet'"),
                           (f"{tmp_path}/**x.jsonl", "'logs/**/*.parquet'")):  # fmt: skip
        with pytest.raises(LogError) as e:
            expand_sources([log_path(value)])
        assert e.value.file == value and e.value.message.endswith(f"** stands for whole folders: {example}")


def test_dask_by_url_reads_half_the_folder_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cluster: str
) -> None:
    """The reviewer's run: ``profile --logs file:///tmp/x/dd --engine dask`` read a.jsonl alone, no warning."""
    dd, half = _jsonl_folder_with_a_link(tmp_path)
    args = ["profile", str(RECIPE), "--logs", dd.as_uri(), "--engine", "dask", "--scheduler", cluster,
            "--memory-budget", "off"]  # fmt: skip
    with caplog.at_level(logging.WARNING):  # the CLI prints core warnings as "warning: ..." on stderr
        r = runner.invoke(app, args, env=WIDE)
    assert r.exit_code == 0, r.output
    assert _linked_said(caplog.records) == [
        f"{dd}: 1 linked folder was not followed (old): name it on --logs too to read its files"
    ]
    assert f"1 file: {half:,} spans" in r.output, r.output  # a.jsonl's, as before: the link is named, not read


# ---- 2. the names of a Parquet log: one list, every name written and read -----------------------------


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped log's first 3,000 lines, plain JSONL."""
    lines = gzip.decompress(LOGS.read_bytes()).splitlines(keepends=True)[:3000]
    path = tmp_path_factory.mktemp("small") / "small.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def _spans(log: Path) -> int:
    from recipemut.logs.ingest import read_logs

    df, _ = read_logs(log, memory_budget="off")
    return len(df)


def test_every_reader_and_writer_takes_the_one_list() -> None:
    from recipemut.commands.generate import WRITTEN_SUFFIXES
    from recipemut.loggen.memory import BYTES_PER_SPAN
    from recipemut.logs.detect import misnamed_parquet
    from recipemut.usecases.generate import WRITTEN, written_suffix

    assert {".parquet", ".parq", ".pq"} <= set(PARQUET_SUFFIXES)
    for suffix in PARQUET_SUFFIXES:
        assert misnamed_parquet(f"x{suffix.upper()}", b"text\n") == f"named {suffix} but is not Parquet (no PAR1 magic)"
        assert written_suffix(Path(f"x{suffix}")) == suffix and WRITTEN[suffix].startswith("Parquet")
        assert suffix in WRITTEN_SUFFIXES and suffix in BYTES_PER_SPAN


@pytest.mark.parametrize("suffix", PARQUET_SUFFIXES)
def test_convert_writes_every_name_the_reader_reads(tmp_path: Path, small_log: Path, suffix: str) -> None:
    """``convert -o y.parq`` was exit 2, though ``--logs y.parq`` is read as Parquet."""
    out = tmp_path / f"y{suffix}"
    r = runner.invoke(app, ["convert", str(small_log), "-o", str(out)], env=WIDE)
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:4] == b"PAR1" and _spans(out) == 3000


@pytest.mark.parametrize("suffix", PARQUET_SUFFIXES)
def test_generate_writes_every_name_convert_writes(tmp_path: Path, suffix: str) -> None:
    """``generate -o y.pq`` was exit 2, though ``convert -o y.pq`` writes it."""
    out = tmp_path / f"y{suffix}"
    r = runner.invoke(app, ["generate", str(RECIPE), "-n", "40", "-o", str(out), "--format", "json"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:4] == b"PAR1" and _spans(out) > 40


@pytest.mark.parametrize("suffix", [s for s in PARQUET_SUFFIXES if s != ".parquet"])
def test_a_log_named_as_parquet_in_the_output_folder_is_refused_by_every_name(
    tmp_path: Path, small_log: Path, suffix: str
) -> None:
    """``--logs days`` reads ``days/x.pq`` beside the day files, so converting it into ``days/`` would read
    each span twice: refused as ``days/x.parquet`` was."""
    days = tmp_path / "days"
    days.mkdir()
    log = days / f"x{suffix}"
    assert runner.invoke(app, ["convert", str(small_log), "-o", str(log)]).exit_code == 0
    r = runner.invoke(app, ["convert", str(log), "-o", f"{days}/"], env=WIDE)
    assert r.exit_code == 1 and "holds one of the logs" in r.output, r.output
    assert sorted(p.name for p in days.iterdir()) == [log.name]


@pytest.fixture(scope="module")
def cluster() -> object:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
        yield c.scheduler_address
