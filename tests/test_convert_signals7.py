"""``convert LOG -o FOLDER/ --force`` stopped at any file-system call: the folder holds exactly its old
days or exactly the new ones, and no spool is left (or the next conversion into the folder removes it).

Attacker pass 7 found a Ctrl-C late in the commit of the day files left half old days, half new
(each day was renamed into place in turn), and a Ctrl-C during the spool's removal left
``FOLDER/.spool-*.convert/`` for good (``--logs FOLDER`` warned about its files ever after; no later
conversion removed it). The interrupt is injected at the k-th ``os.replace`` / ``os.unlink`` of a
run, for every k: as a ``KeyboardInterrupt`` raised there (what a failing call does), and as a real
SIGINT delivered there (what a Ctrl-C does: held off until the renames, or the cleanup, are done).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _convert_helpers import day_files as _state
from _convert_helpers import days_log as _log
from _convert_helpers import leftovers as _leftovers
from typer.testing import CliRunner

from recipemut import cli
from recipemut.cli import app
from recipemut.files.write import forget_written, signals_held
from recipemut.logs.parquet import expand_logs
from recipemut.usecases.convert import convert_to_folder
from recipemut.usecases.convert_spool import LOCK_SUFFIX, UNLOCKED_STALE_S, SpoolFolder, remove_stale_spools
from recipemut.usecases.inputs import LogSource


@pytest.fixture
def case(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, bytes], dict[str, bytes]]]:
    """(a folder of 5 old days, the new log: 6 days, the first 5 written over; old state, new state)."""
    old_log = _log(tmp_path / "old.jsonl", latency=5, days=5)
    new_log = _log(tmp_path / "new.jsonl", latency=7, days=6)
    golden = tmp_path / "golden"
    convert_to_folder(LogSource.of(old_log), golden)
    old = _state(golden)
    convert_to_folder(LogSource.of(new_log), golden, force=True)
    new = _state(golden)
    assert len(old) == 5 and len(new) == 6 and all(old[n] != new[n] for n in old)
    shutil.rmtree(golden)
    convert_to_folder(LogSource.of(old_log), golden)
    yield golden, new_log, old, new


def _counting(monkeypatch: pytest.MonkeyPatch, name: str, at: int, act: Callable[[], None]) -> list[int]:
    """Wrap ``os.<name>``: ``act()`` runs before its ``at``-th call (0: never); returns the call count."""
    real = getattr(os, name)
    calls = [0]

    def wrapped(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == at:
            act()
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, wrapped)
    return calls


def _raise() -> None:
    raise KeyboardInterrupt


def _sigint() -> None:
    signal.raise_signal(signal.SIGINT)  # a real Ctrl-C landing here: Python's handler raises KeyboardInterrupt


def _calls(tmp_path: Path, case: tuple[Path, Path, dict[str, bytes], dict[str, bytes]], name: str) -> int:
    """How many ``os.<name>`` calls a whole run makes (on a copy of the folder)."""
    golden, new_log, _, new = case
    folder = tmp_path / "count"
    shutil.copytree(golden, folder)
    with pytest.MonkeyPatch.context() as mp:
        calls = _counting(mp, name, 0, _raise)
        convert_to_folder(LogSource.of(new_log), folder, force=True)
    assert _state(folder) == new
    return calls[0]


@pytest.mark.parametrize("name", ["replace", "unlink"])
@pytest.mark.parametrize("act", [_raise, _sigint], ids=["raised", "sigint"])
def test_stopped_at_every_call_the_folder_holds_the_old_days_or_the_new_ones(
    tmp_path: Path, case: tuple[Path, Path, dict[str, bytes], dict[str, bytes]], name: str,
    act: Callable[[], None],
) -> None:  # fmt: skip
    golden, new_log, old, new = case
    n = _calls(tmp_path, case, name)
    assert n >= 6  # a rename a day (and a removal a spool file), at least
    seen = []
    for k in range(1, n + 1):
        folder = tmp_path / f"k{k}"
        shutil.copytree(golden, folder)
        with pytest.MonkeyPatch.context() as mp:
            _counting(mp, name, k, act)
            with pytest.raises(KeyboardInterrupt):
                convert_to_folder(LogSource.of(new_log), folder, force=True)
        state = _state(folder)
        assert state in (old, new), f"k={k}: {sorted(n for n in state if state[n] == new.get(n))} new, the rest old"
        seen.append("old" if state == old else "new")
        if act is _sigint:  # held off: the renames, the cleanup are finished before the interrupt
            assert _leftovers(folder) == [], f"k={k}"
        else:  # a failing call in the cleanup may leave the spool: the next conversion removes it
            convert_to_folder(LogSource.of(new_log), folder, force=True)
            assert _state(folder) == new and _leftovers(folder) == [], f"k={k}"
    if name == "replace":  # the commit is reached: a failing rename puts the old days back, a Ctrl-C is held off
        assert seen.count("old" if act is _raise else "new") >= 6, seen


def test_a_rename_that_fails_midway_puts_the_old_days_back_and_says_nothing_changed(
    tmp_path: Path, case: tuple[Path, Path, dict[str, bytes], dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    golden, new_log, old, _ = case

    def fail() -> None:
        raise OSError(28, "No space left on device")

    _counting(monkeypatch, "replace", 4, fail)  # the fourth day's rename
    result = CliRunner().invoke(app, ["convert", str(new_log), "-o", f"{golden}/", "--force"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "No space left on device; nothing was changed" in result.output, result.output
    assert _state(golden) == old


def test_ctrl_c_in_the_commit_through_the_cli_writes_every_day_then_says_so(
    tmp_path: Path, case: tuple[Path, Path, dict[str, bytes], dict[str, bytes]], monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    golden, new_log, _, new = case
    forget_written()  # what earlier tests in this process wrote
    _counting(monkeypatch, "replace", 3, _sigint)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["convert", str(new_log), "-o", f"{golden}/", "--force", "-q"])
    assert exit_.value.code == 130
    assert _state(golden) == new and _leftovers(golden) == []
    err = capfd.readouterr().err
    assert err.startswith("interrupted; ") and err.count("spans-2025-01-0") == 6, err


def test_signals_held_hands_a_sigterm_to_the_handler_in_place_after_the_block() -> None:
    got: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    try:
        with signals_held():
            signal.raise_signal(signal.SIGTERM)
            assert got == []
        assert got == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back as it was
    finally:
        signal.signal(signal.SIGTERM, old)


# stale spools: removed by the next conversion when their process is gone, never while it lives


def _spool_in_child(folder: Path, *, stay: bool) -> subprocess.Popen[str]:
    code = (
        "import os, sys; from pathlib import Path; from recipemut.usecases.convert_spool import SpoolFolder\n"
        f"s = SpoolFolder(Path({str(folder)!r}), '.spool-')\n"
        "Path(s.name, '.day-1-0.arrow').write_bytes(b'x' * 1000); Path(s.name, 'stray.parquet').write_bytes(b'PAR1')\n"
        "print(s.name, flush=True)\n"
        f"{'sys.stdin.read()' if stay else 'os._exit(0)'}\n"  # gone without its cleanup, as kill -9 leaves it
    )
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_the_next_conversion_removes_the_spool_of_a_dead_process_not_of_a_live_one(
    tmp_path: Path, case: tuple[Path, Path, dict[str, bytes], dict[str, bytes]]
) -> None:
    golden, new_log, _, new = case
    live = _spool_in_child(golden, stay=True)  # first: a spool made later removes the dead one itself
    try:
        assert live.stdout is not None
        live_spool = Path(live.stdout.readline().strip())
        dead = _spool_in_child(golden, stay=False)
        dead_spool = Path(dead.communicate()[0].strip())
        assert dead_spool.is_dir() and live_spool.is_dir() and any(dead_spool.iterdir())
        convert_to_folder(LogSource.of(new_log), golden, force=True)
        assert not dead_spool.exists() and not Path(f"{dead_spool}{LOCK_SUFFIX}").exists()
        assert live_spool.is_dir() and Path(f"{live_spool}{LOCK_SUFFIX}").is_file()
        assert _leftovers(golden) == sorted([live_spool.name, live_spool.name + LOCK_SUFFIX])
        assert _state(golden).keys() >= new.keys()
    finally:
        live.communicate("")
    assert remove_stale_spools(golden, ".spool-") == [live_spool]  # its process ended: stale now
    assert _leftovers(golden) == []


def test_a_spool_without_a_lock_is_removed_once_left_unchanged_for_an_hour(tmp_path: Path) -> None:
    young, old = tmp_path / ".spool-young.convert", tmp_path / ".spool-old000.convert"
    for spool in (young, old):
        spool.mkdir()
        (spool / "spool-1-0.arrow").write_bytes(b"x")
    then = time.time() - UNLOCKED_STALE_S - 60
    os.utime(old / "spool-1-0.arrow", (then, then))  # nothing in it changed since either
    os.utime(old, (then, then))
    assert remove_stale_spools(tmp_path, ".spool-") == [old]
    assert young.is_dir() and not old.exists()


def test_a_link_named_as_a_spool_is_left_and_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep").write_text("mine")
    (tmp_path / "days").mkdir()
    (tmp_path / "days" / ".spool-link0000.convert").symlink_to(target)
    assert remove_stale_spools(tmp_path / "days", ".spool-") == []
    assert (target / "keep").read_text() == "mine"


def test_a_spool_left_in_the_folder_is_not_listed_by_logs_folder(
    tmp_path: Path, case: tuple[Path, Path, dict[str, bytes], dict[str, bytes]], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    golden, new_log, _, new = case
    with pytest.MonkeyPatch.context() as mp:
        left: list[SpoolFolder] = []
        mp.setattr(SpoolFolder, "cleanup", lambda self: left.append(self))  # killed before it
        convert_to_folder(LogSource.of(new_log), golden, force=True)
    spool = Path(left[0].name)
    assert spool.parent == golden and spool.is_dir() and any(spool.iterdir())
    (spool / "spans-2025-01-01.parquet").write_bytes((golden / "spans-2025-01-01.parquet").read_bytes())
    with caplog.at_level(logging.WARNING):  # a Parquet file in it, as a reader looking inside would list
        listed = expand_logs([golden])
    assert sorted(p.name for p in listed) == sorted(new), listed
    assert not [r for r in caplog.records if "skipped" in r.getMessage()], caplog.text
    assert left[0].fd is not None
    os.close(left[0].fd)  # as the kill would: its lock is dropped, and the next conversion removes it
    convert_to_folder(LogSource.of(new_log), golden, force=True)
    assert not spool.exists() and _leftovers(golden) == [] and _state(golden) == new
