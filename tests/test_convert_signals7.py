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

import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut import cli
from recipemut.cli import app
from recipemut.files.write import forget_written, signals_held
from recipemut.usecases.convert import convert_to_folder
from recipemut.usecases.inputs import LogSource

DAY_MS = 86_400_000
T0 = 1_735_689_600_000  # 2025-01-01


def _log(path: Path, *, latency: float, days: int) -> Path:
    with path.open("w") as f:
        for d in range(days):
            for r in range(3):
                for i, op in enumerate(("load", "pay")):
                    span = {"request_id": f"r{d}-{r}", "op": op, "start_ms": T0 + d * DAY_MS + r * 1000 + i * 10,
                            "latency_ms": latency, "status": "ok"}  # fmt: skip
                    f.write(json.dumps(span) + "\n")
    return path


def _state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("spans-")}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("spans-"))


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


@pytest.mark.parametrize("name", ["replace"])
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
