"""Fixes of an attacker's findings (second pass): a full disk failing at ``write()`` in ``convert -o
FOLDER/`` and ``generate --out``, a tiny ``sample_rate``, ``--memory-budget`` below one byte, a hard
link among ``convert``'s inputs to a day file of its output folder.

A real full disk was checked by hand on a 20 MiB tmpfs (``mount -t tmpfs -o size=20m``); tests cannot
mount one, so ENOSPC is injected where the code writes: the file object's ``write`` (the day files,
the generated log) and the spool's Arrow writer (which fails again when closed, as a real one does).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from _telemetry_helpers import otlp_doc, otlp_span, recipe, write_json
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.files import write as write_mod
from recipemut.files.write import atomic_files
from recipemut.loggen import jsonl as jsonl_mod
from recipemut.logs.ingest import read_logs
from recipemut.logs.sample import parse_size
from recipes import checkout_ops

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
runner = CliRunner()
ENV = {"COLUMNS": "200"}
FULL = "No space left on device"


def _enospc() -> OSError:
    return OSError(errno.ENOSPC, FULL)


class _FullFile:
    """A file object whose ``write`` fails as on a full disk (after ``room`` bytes), and whose flush at
    close fails again when something is left unwritten, as a buffered file's does."""

    def __init__(self, real: Any, room: int = 0) -> None:
        self.real, self.room, self.failed = real, room, False

    def write(self, data: Any) -> int:
        if len(memoryview(data)) > self.room:
            self.failed = True
            raise _enospc()
        self.room -= len(memoryview(data))
        return int(self.real.write(data))

    def flush(self) -> None:
        if self.failed:
            raise _enospc()
        self.real.flush()

    def close(self) -> None:
        self.real.close()
        if self.failed:
            raise _enospc()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _full_opener(real_open: Callable[..., Any], *, fail_on: int = 1) -> Callable[..., Any]:
    """``open`` whose ``fail_on``-th file written fills the disk; the ones before are written."""
    opened = []

    def opener(*args: Any, **kwargs: Any) -> Any:
        f = real_open(*args, **kwargs)
        opened.append(f)
        return _FullFile(f) if len(opened) == fail_on else f

    return opener


@pytest.fixture
def three_days(tmp_path: Path) -> Path:
    """About three days of the shipped log (12,000 spans), in a folder of its own."""
    src = tmp_path / "in" / "logs.jsonl"
    src.parent.mkdir()
    src.write_bytes(b"".join(gzip.decompress(LOGS.read_bytes()).splitlines(keepends=True)[:12000]))
    return src


def _state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _one_line(res: Any) -> str:
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    return str(lines[0])


def _days(three_days: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "days"
    res = runner.invoke(app, ["convert", str(three_days), "-o", f"{folder}/", "-q"], env=ENV)
    assert res.exit_code == 0, res.output
    assert len(list(folder.iterdir())) >= 3
    return folder


# ---- 1. a full disk: convert -o FOLDER/, generate --out --------------------------------------------


def test_a_day_file_failing_at_write_is_one_line_and_the_days_stay(
    three_days: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _days(three_days, tmp_path)
    before = _state(folder)
    monkeypatch.setattr(write_mod, "open", _full_opener(open, fail_on=2), raising=False)  # the second day
    res = runner.invoke(app, ["convert", str(three_days), "-o", f"{folder}/", "--force", "-q"], env=ENV)
    monkeypatch.undo()
    line = _one_line(res)
    assert f"{FULL}; nothing was changed" in line and str(folder / "spans-2025-11-") in line, line
    assert _state(folder) == before  # every day byte for byte; no spool folder, no temporary file


def test_the_spool_failing_at_write_and_again_at_close_is_one_line(
    three_days: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _days(three_days, tmp_path)
    before = _state(folder)
    real_new_file = pa.ipc.new_file
    closed = []

    class FullWriter:  # the spool's Arrow writer on a full disk: its flush at close fails too
        def __init__(self, sink: Any, schema: pa.Schema, **kwargs: Any) -> None:
            self.real = real_new_file(sink, schema, **kwargs)

        def write_table(self, table: pa.Table) -> None:
            raise OSError(errno.ENOSPC, f"Error writing bytes to file. Detail: [errno 28] {FULL}")

        def close(self) -> None:
            closed.append(self)
            raise OSError(errno.ENOSPC, f"Error writing bytes to file. Detail: [errno 28] {FULL}")

    monkeypatch.setattr(pa.ipc, "new_file", FullWriter)
    res = runner.invoke(app, ["convert", str(three_days), "-o", f"{folder}/", "--force", "-q"], env=ENV)
    monkeypatch.undo()
    line = _one_line(res)
    assert line == f"error: {folder}: cannot write: {FULL}; nothing was changed", line
    assert closed  # the writer was closed (its error not said twice)
    assert _state(folder) == before


def test_day_files_whose_rename_fails_are_all_put_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").write_bytes(b"old a")  # replaced first, then put back: all the files or none (attacker pass 7)
    real_replace = os.replace

    def second_fails(src: Any, dst: Any) -> None:
        if str(dst).endswith("/b"):
            raise _enospc()
        real_replace(src, dst)

    monkeypatch.setattr(write_mod.os, "replace", second_fails)
    with pytest.raises(InputFileError) as e, atomic_files() as files:
        files.write(tmp_path / "a", b"new a")
        files.write(tmp_path / "b", b"new b")
    monkeypatch.undo()
    assert str(e.value) == f"{tmp_path / 'b'}: cannot write: {FULL}; nothing was changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # b's temporary file and a's kept copy removed
    assert (tmp_path / "a").read_bytes() == b"old a"


def test_day_files_whose_sync_fails_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise _enospc()

    monkeypatch.setattr(write_mod.os, "fsync", full)
    with pytest.raises(InputFileError, match=f"a: cannot write: {FULL}; nothing was changed"), atomic_files() as files:
        files.write(tmp_path / "a", b"new a")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_generate_on_a_full_disk_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    out = tmp_path / f"g{suffix}"
    out.write_bytes(b"")  # an empty file (what mktemp makes): replaced, here left as it was
    real_fdopen = os.fdopen
    monkeypatch.setattr(jsonl_mod.os, "fdopen", lambda *a, **k: _FullFile(real_fdopen(*a, **k), room=10))
    res = runner.invoke(app, ["generate", str(RECIPE), "-n", "40", "--seed", "1", "--out", str(out)], env=ENV)
    monkeypatch.undo()
    assert _one_line(res) == f"error: {out}: cannot write: {FULL}; nothing was changed"
    assert [p.name for p in tmp_path.iterdir()] == [out.name] and out.read_bytes() == b""


# ---- 2. a tiny sample_rate ---------------------------------------------------------------------------


def _log_with_rate(tmp_path: Path, rate: float) -> Path:
    lines = gzip.decompress(LOGS.read_bytes()).splitlines()[:600]
    first = json.loads(lines[0])
    first["sample_rate"] = rate
    p = tmp_path / "rate.jsonl"
    p.write_bytes(json.dumps(first).encode() + b"\n" + b"\n".join(lines[1:]) + b"\n")
    return p


@pytest.mark.parametrize("rate", [1e-320, 1e-300, 1e-10])
def test_a_sample_rate_below_one_in_a_billion_is_a_rejected_line(tmp_path: Path, rate: float) -> None:
    df, rep = read_logs([_log_with_rate(tmp_path, rate)])
    assert dict(rep.rejected) == {"bad-sample-rate": 1}
    (ex,) = rep.examples
    assert ex.line == 1 and ex.message == (
        f"sample_rate {rate!r} is below 1e-09, the least sample rate taken (one request kept in a billion)"
    )
    assert len(df) == 599 and df["sample_rate"].min() >= 1e-9


def test_one_in_a_billion_is_taken(tmp_path: Path) -> None:
    df, rep = read_logs([_log_with_rate(tmp_path, 1e-9)])
    assert not rep.rejected and len(df) == 600 and df["sample_rate"].min() == 1e-9


def test_a_tiny_otlp_sampling_probability_is_rejected(tmp_path: Path) -> None:
    r = recipe(checkout_ops("load_cart", "price"))
    t1, t2 = "a" * 32, "b" * 32
    spans = [
        otlp_span(t1, "a1", "load_cart", 10**18, 10**6, attrs={"sampling.probability": 1e-320}),
        otlp_span(t2, "b1", "load_cart", 10**18, 10**6, attrs={"sampling.probability": 0.5}),
    ]
    p = write_json(tmp_path / "t.json", otlp_doc({"cart": spans}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw RuntimeWarning (overflow encountered in divide)
        df, rep = read_logs([p], recipe=r)
    assert dict(rep.rejected) == {"bad-sample-rate": 1}
    assert df["sample_rate"].tolist() == [0.5]


@pytest.mark.parametrize("command", ["profile", "generate", "convert"])
def test_sample_rate_option_below_one_in_a_billion_is_a_usage_error(tmp_path: Path, command: str) -> None:
    out = tmp_path / ("g.jsonl" if command == "generate" else "c.parquet")
    args = {
        "profile": ["profile", str(RECIPE), "--logs", str(LOGS), "-q", "--sample-rate"],
        "generate": ["generate", str(RECIPE), "-n", "10", "--out", str(out), "--sample-rate"],
        "convert": ["convert", str(LOGS), "-o", str(out), "--sample-requests"],  # a share of requests too
    }[command]
    res = runner.invoke(app, [*args, "1e-320"], env=ENV)
    assert res.exit_code == 2, res.output
    assert "1e-320 is below 1e-09, the least sample rate taken (one request kept in a billion)" in res.output
    assert "Traceback" not in res.output and not out.exists()


# ---- 3. --memory-budget below one byte ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["0.9", "0.4", "0.0001K"])
def test_a_budget_below_one_byte_is_a_usage_error(value: str) -> None:
    with pytest.raises(ValueError, match="under one byte"):
        parse_size(value)
    res = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(LOGS), "--memory-budget", value, "-q"], env=ENV)
    assert res.exit_code == 2 and "under one byte" in res.output, res.output


def test_budgets_of_a_byte_and_off_still_mean_what_they_did() -> None:
    assert (parse_size("1"), parse_size("1.9"), parse_size("0"), parse_size("off"), parse_size("0.5K")) == (
        1,
        1,
        0,
        0,
        512,
    )


def test_a_budget_below_one_byte_from_the_environment_is_one_line() -> None:
    res = runner.invoke(
        app, ["profile", str(RECIPE), "--logs", str(LOGS), "-q"], env={**ENV, "RECIPEMUT_MEMORY_BUDGET": "0.4"}
    )
    assert _one_line(res) == (
        "error: RECIPEMUT_MEMORY_BUDGET: '0.4' is under one byte, not a size (e.g. 512M, 2G; off for no limit)"
    )


# ---- 4. a hard link among convert's inputs to a day file -----------------------------------------------


def test_an_input_that_is_a_day_file_under_another_name_is_refused(three_days: Path, tmp_path: Path) -> None:
    folder = _days(three_days, tmp_path)
    before = _state(folder)
    day = sorted(folder.iterdir())[0]
    hl = tmp_path / "hl.parquet"
    os.link(day, hl)
    res = runner.invoke(app, ["convert", str(hl), "-o", f"{folder}/", "--force", "-q"], env=ENV)
    assert _one_line(res) == (
        f"error: --out {folder}/: holds one of the logs ({day.name} is {hl}, another name for it); write elsewhere"
    )
    assert _state(folder) == before


def test_a_copy_of_a_day_file_is_still_converted_into_its_folder(three_days: Path, tmp_path: Path) -> None:
    folder = _days(three_days, tmp_path)
    day = sorted(folder.iterdir())[0]
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(day.read_bytes())  # the same bytes, another file: no refusal
    res = runner.invoke(app, ["convert", str(copy), "-o", f"{folder}/", "--force", "-q"], env=ENV)
    assert res.exit_code == 0, res.output
