"""``convert -o FOLDER/`` under a reviewer's findings (pass 8): two conversions into one folder, file
systems without ``flock`` or hard links, a spool appended to under an old folder time, a second signal
held during the commit, a held SIGTERM with no handler, a ``.making`` file a kill left."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _convert_helpers import day_files as _state
from _convert_helpers import days_log as _log
from _convert_helpers import leftovers as _leftovers

from recipemut.files.signals import signals_held


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


# ---- signals held: every signal handed on, a failed put-back still said ------------------------------


def test_signals_held_hands_on_a_second_signal_after_a_first_that_raises() -> None:
    got: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    try:
        with pytest.raises(KeyboardInterrupt), signals_held():
            signal.raise_signal(signal.SIGINT)  # Python's handler raises KeyboardInterrupt ...
            signal.raise_signal(signal.SIGTERM)  # ... and this one is still handed on
        assert got == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, old)


def test_signals_held_logs_the_error_of_the_block_before_the_interrupt(caplog: pytest.LogCaptureFixture) -> None:
    from recipemut.errors import InputFileError

    with caplog.at_level(logging.ERROR), pytest.raises(KeyboardInterrupt) as ki, signals_held():
        signal.raise_signal(signal.SIGINT)
        raise InputFileError("cannot write: disk full; 2 of 6 files were replaced, not put back", file="d/x")
    assert isinstance(ki.value.__context__, InputFileError)
    assert [r.getMessage() for r in caplog.records] == [
        "d/x: cannot write: disk full; 2 of 6 files were replaced, not put back"
    ]


def test_ctrl_c_and_a_put_back_that_fails_print_the_error_line_then_the_interrupt(tmp_path: Path) -> None:
    _log(tmp_path / "old.jsonl", latency=5, days=4)
    _log(tmp_path / "new.jsonl", latency=7, days=6)
    run = _python(
        """
        import errno, os, signal, sys
        from recipemut import cli
        cli.main(["convert", "old.jsonl", "-o", "days/", "-q"])
        """,
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    run = _python(
        """
        import errno, os, signal, sys
        from recipemut import cli
        real, n = os.replace, [0]
        def replace(src, dst, *a, **k):
            if os.path.basename(dst).startswith("spans-"):
                n[0] += 1
                if n[0] == 3:  # the third day's rename: a Ctrl-C, then the disk fails ...
                    signal.raise_signal(signal.SIGINT)
                if n[0] >= 3:  # ... and putting the two days back fails too
                    raise OSError(errno.ENOSPC, "No space left on device")
            return real(src, dst, *a, **k)
        os.replace = replace
        cli.main(["convert", "new.jsonl", "-o", "days/", "--force", "-q"])
        """,
        tmp_path,
    )
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 130, run.stderr
    assert len(lines) == 2, run.stderr
    assert re.fullmatch(
        r"error: days/spans-2025-01-0\d\.parquet: cannot write: No space left on device; "
        r"\d of 6 files were replaced, not put back",
        lines[0],
    ), run.stderr
    assert lines[1].startswith("interrupted; "), run.stderr


# ---- a held SIGTERM with no handler; a .making file a kill left ----------------------------------------


def test_a_held_sigterm_with_no_handler_ends_the_process_only_once_the_spool_is_removed(tmp_path: Path) -> None:
    _log(tmp_path / "new.jsonl", latency=7, days=6)
    run = _python(
        """
        import os, signal
        from recipemut.usecases.convert import convert_to_folder
        from recipemut.usecases.inputs import LogSource
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # outside the CLI: the default action
        real, n = os.replace, [0]
        def replace(src, dst, *a, **k):
            if os.path.basename(dst).startswith("spans-"):
                n[0] += 1
                if n[0] == 2:
                    signal.raise_signal(signal.SIGTERM)  # held off: the renames go on
            return real(src, dst, *a, **k)
        os.replace = replace
        convert_to_folder(LogSource.of("new.jsonl"), "days")
        print("not reached")
        """,
        tmp_path,
    )
    assert run.returncode == -signal.SIGTERM, (run.returncode, run.stdout, run.stderr)
    assert "not reached" not in run.stdout
    folder = tmp_path / "days"
    assert len(_state(folder)) == 6 and _leftovers(folder) == []  # every day in place, the spool gone


def test_a_making_file_nobody_holds_is_removed_once_a_minute_old_never_a_held_one(tmp_path: Path) -> None:
    import fcntl

    from recipemut.usecases.convert_spool import MAKING, MAKING_STALE_S, remove_stale_spools

    old, young, held = (tmp_path / f".spool-{n}{MAKING}" for n in ("old00000", "young000", "held0000"))
    then = time.time() - MAKING_STALE_S - 5
    for p in (old, young, held):
        p.write_bytes(b"")
    for p in (old, held):
        os.utime(p, (then, then))
    fd = os.open(held, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a conversion holds it from mkstemp to its rename
        assert remove_stale_spools(tmp_path, ".spool-") == [old]
        assert young.exists() and held.exists() and not old.exists()
    finally:
        os.close(fd)


# ---- two conversions into one folder -------------------------------------------------------------------


def _hold_lock(folder: Path) -> subprocess.Popen[str]:
    """A second process holding the folder's lock (as a conversion does from its check of the days there
    through their renames) until its standard input closes; it says when it holds it."""
    code = (
        "import sys; from pathlib import Path; from recipemut.usecases.convert_spool import folder_locked\n"
        f"with folder_locked(Path({str(folder)!r})):\n"
        "    print('held', flush=True); sys.stdin.read()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_second_convert_into_a_folder_another_is_writing_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from recipemut.cli import app
    from recipemut.usecases import convert_spool

    old = _log(tmp_path / "old.jsonl", latency=5, days=4)
    new = _log(tmp_path / "new.jsonl", latency=7, days=6)
    folder = tmp_path / "days"
    assert CliRunner().invoke(app, ["convert", str(old), "-o", f"{folder}/", "-q"]).exit_code == 0
    before = _state(folder)
    monkeypatch.setattr(convert_spool, "FOLDER_LOCK_TIMEOUT_S", 0.3)
    holder = _hold_lock(folder)
    try:
        result = CliRunner().invoke(app, ["convert", str(new), "-o", f"{folder}/", "--force", "-q"],
                                    env={"COLUMNS": "200"})  # fmt: skip
    finally:
        holder.communicate("")
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert f"another convert is writing {folder} (pid {holder.pid}); waited 0.3s" in result.output, result.output
    assert _state(folder) == before and _leftovers(folder) == []  # nothing written, its spool and no lock left
    assert CliRunner().invoke(app, ["convert", str(new), "-o", f"{folder}/", "--force", "-q"]).exit_code == 0
    assert len(_state(folder)) == 6 and _leftovers(folder) == []  # the lock file goes with its holder


def test_a_second_convert_waits_for_the_first_then_writes_all_its_days(tmp_path: Path) -> None:
    new = _log(tmp_path / "new.jsonl", latency=7, days=6)
    folder = tmp_path / "days"
    folder.mkdir()
    holder = _hold_lock(folder)
    second = subprocess.Popen([sys.executable, "-m", "recipemut", "convert", str(new), "-o", f"{folder}/", "-q"],
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:  # it has read the log and waits on the lock: its descriptor of the lock file is open
        deadline = time.monotonic() + 60
        while ".convert.lock" not in _opened(second.pid):
            assert second.poll() is None and time.monotonic() < deadline, "the second convert did not wait"
            time.sleep(0.02)
        assert _state(folder) == {}
    finally:
        holder.communicate("")
    assert second.wait(timeout=60) == 0, second.stderr.read() if second.stderr else ""
    assert len(_state(folder)) == 6 and _leftovers(folder) == []


def _opened(pid: int) -> set[str]:
    """The names of the files process ``pid`` has open (Linux ``/proc``)."""
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            names.add(os.path.basename(os.readlink(fd)))
    return names


# ---- file systems that take no flock ------------------------------------------------------------------


@pytest.fixture(params=[errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL])
def no_flock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """``flock`` fails as it does on NFS mounted ``nolock`` and some FUSE and SMB mounts."""
    import fcntl

    def flock(fd: int, op: int) -> None:
        raise OSError(request.param, os.strerror(request.param))

    monkeypatch.setattr(fcntl, "flock", flock)
    return int(request.param)


def test_convert_goes_on_unlocked_where_the_file_system_takes_no_flock_and_says_so_once(
    tmp_path: Path, no_flock: int, caplog: pytest.LogCaptureFixture
) -> None:
    from recipemut.usecases.convert import convert_logs, convert_to_folder
    from recipemut.usecases.inputs import LogSource

    new = _log(tmp_path / "new.jsonl", latency=7, days=6)
    with caplog.at_level(logging.WARNING):
        convert_to_folder(LogSource.of(new), tmp_path / "days")
    assert len(_state(tmp_path / "days")) == 6 and _leftovers(tmp_path / "days") == []
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and f"{tmp_path / 'days'}: its file system takes no locks ({os.strerror(no_flock)}); " \
        "converting unlocked" in said[0], said  # fmt: skip
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        convert_logs(LogSource.of(new), tmp_path / "one.parquet")
    assert (tmp_path / "one.parquet").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["days", "new.jsonl", "one.parquet"]
    assert len(caplog.records) == 1 and "converting unlocked" in caplog.records[0].getMessage()


def test_where_no_flock_is_taken_a_locked_spool_is_stale_by_its_age(tmp_path: Path, no_flock: int) -> None:
    from recipemut.usecases.convert_spool import LOCK_SUFFIX, UNLOCKED_STALE_S, remove_stale_spools

    old, young = tmp_path / ".spool-old00000.convert", tmp_path / ".spool-young000.convert"
    then = time.time() - UNLOCKED_STALE_S - 60
    for spool in (old, young):
        spool.mkdir()
        (spool / ".spool-1-0.arrow").write_bytes(b"x")
        Path(f"{spool}{LOCK_SUFFIX}").write_bytes(b"")
    for p in (old / ".spool-1-0.arrow", old, Path(f"{old}{LOCK_SUFFIX}")):
        os.utime(p, (then, then))
    assert remove_stale_spools(tmp_path, ".spool-") == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [young.name, young.name + LOCK_SUFFIX]


def test_a_spool_without_a_lock_is_kept_while_a_file_in_it_changes_under_an_old_folder_time(tmp_path: Path) -> None:
    from recipemut.usecases.convert_spool import UNLOCKED_STALE_S, remove_stale_spools

    spool = tmp_path / ".spool-append00.convert"
    spool.mkdir()
    day = spool / ".spool-1-0.arrow"
    day.write_bytes(b"x")
    then = time.time() - 2 * 3600
    os.utime(day, (then, then))
    os.utime(spool, (then, then))
    assert time.time() - spool.stat().st_mtime > UNLOCKED_STALE_S
    with day.open("ab") as f:  # appended to now: the file's time changes, the folder's does not
        f.write(b"more")
    assert time.time() - spool.stat().st_mtime > UNLOCKED_STALE_S
    assert remove_stale_spools(tmp_path, ".spool-") == []
    assert day.read_bytes() == b"xmore"
    os.utime(day, (then, then))  # nothing changed for two hours: stale
    assert remove_stale_spools(tmp_path, ".spool-") == [spool] and not spool.exists()


# ---- a disk without hard links ------------------------------------------------------------------------


@pytest.mark.parametrize("at", [1, 3, 6])
def test_on_a_disk_without_hard_links_kill_9_in_the_renames_loses_no_day(tmp_path: Path, at: int) -> None:
    _log(tmp_path / "old.jsonl", latency=5, days=6)
    _log(tmp_path / "new.jsonl", latency=7, days=6)
    for name, folder in (("old.jsonl", "days"), ("new.jsonl", "new")):
        run = _python(f"from recipemut import cli; cli.main(['convert', {name!r}, '-o', '{folder}/', '-q'])", tmp_path)
        assert run.returncode == 0, run.stderr
    old, new = _state(tmp_path / "days"), _state(tmp_path / "new")
    run = _python(
        f"""
        import errno, os, signal
        from recipemut import cli
        def link(*a, **k):
            raise OSError(errno.EPERM, "Operation not permitted")  # as vfat, some SMB and FUSE mounts refuse
        real, n = os.replace, [0]
        def replace(src, dst, *a, **k):
            if os.path.basename(dst).startswith("spans-"):
                n[0] += 1
                if n[0] == {at}:
                    os.kill(os.getpid(), signal.SIGKILL)  # the old day kept, the new not yet renamed over it
            return real(src, dst, *a, **k)
        os.link, os.replace = link, replace
        cli.main(["convert", "new.jsonl", "-o", "days/", "--force", "-q"])
        """,
        tmp_path,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    state = _state(tmp_path / "days")
    assert state.keys() == old.keys(), sorted(old.keys() - state.keys())  # no day missing
    assert all(state[n] in (old[n], new[n]) for n in state)
    assert sum(state[n] == new[n] for n in state) == at - 1
