"""Atomic writes keep the old file or the new one, never a mix; the lock makes a second writer wait."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recipemut.errors import InputFileError, LockTimeout
from recipemut.files.read import check_user_file, decode_text, kind_of, read_user_file
from recipemut.files.write import atomic_write, lock_path, locked


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    atomic_write(f, b"one\n")
    assert f.read_bytes() == b"one\n"
    atomic_write(f, b"two\n")
    assert f.read_bytes() == b"two\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]  # no temp file left


def test_atomic_write_keeps_the_file_mode(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_bytes(b"x")
    os.chmod(f, 0o640)
    atomic_write(f, b"y")
    assert stat.S_IMODE(f.stat().st_mode) == 0o640


def test_a_failed_replace_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "r.yaml"
    f.write_bytes(b"old\n")

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(InputFileError, match="No space left on device; nothing was changed"):
        atomic_write(f, b"new\n")
    assert f.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]


def test_second_writer_times_out_naming_lock_and_holder(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("a: 1\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from recipemut.files.write import locked
            with locked({str(recipe)!r}, timeout_s=5):
                print("held", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeout) as ei, locked(recipe, timeout_s=0.2):
            pass
        msg = str(ei.value)
        assert str(lock_path(recipe)) in msg and f"pid {holder.pid}" in msg
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
    with locked(recipe, timeout_s=1):  # released when the holder exits
        pass


def test_lock_is_exclusive_within_one_process_too(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    with locked(recipe, timeout_s=1), pytest.raises(LockTimeout), locked(recipe, timeout_s=0.05):
        pass


def test_atomic_write_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "r.yaml"
    target.write_bytes(b"old\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    atomic_write(link, b"new\n")
    assert link.is_symlink() and target.read_bytes() == b"new\n"
    assert lock_path(link) == lock_path(target) == real / "r.yaml.lock"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.yaml", "real"]


@pytest.mark.parametrize("module", ["recipemut.files.write", "recipemut.learn.store"])
def test_the_module_doctest_leaves_nothing_in_the_temporary_folder(
    module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make test`` runs these doctests on every run: a folder they leave in /tmp piles up."""
    import doctest
    import importlib
    import tempfile

    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # tempfile caches its choice
    result = doctest.testmod(importlib.import_module(module), verbose=False, report=False)
    assert result.attempted > 0 and result.failed == 0, result
    assert sorted(p.name for p in scratch.iterdir()) == []


# ---- the one reader of user files ---------------------------------------------------------------


def test_kind_of_names_what_is_not_a_regular_file() -> None:
    assert [kind_of(m) for m in (stat.S_IFDIR, stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK)] == [
        "a directory", "a FIFO (named pipe)", "a character device", "a block device", "a socket"]


def test_read_without_following_refuses_a_link_as_its_writer_does(tmp_path: Path) -> None:
    target = tmp_path / "t.jsonl"
    target.write_text("x\n")
    link = tmp_path / "h.jsonl"
    link.symlink_to(target)
    assert read_user_file(link, max_bytes=10, what="history") == b"x\n"
    with pytest.raises(InputFileError, match="history is a symbolic link; recipemut does not follow links") as e:
        read_user_file(link, max_bytes=10, what="history", follow=False)
    assert e.value.code == "not-a-file" and e.value.file == str(link)
    os.mkfifo(tmp_path / "f.jsonl")
    with pytest.raises(InputFileError, match="history is a FIFO \\(named pipe\\), not a regular file; remove it"):
        read_user_file(tmp_path / "f.jsonl", max_bytes=10, what="history", follow=False)


def test_os_errors_have_one_wording(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text("a: 1\n")
    cases = [
        (tmp_path / "nope.yaml", "no such file", "missing-file"),
        (f / "x.yaml", "no such file (a part of the path is not a folder)", "missing-file"),
        (str(tmp_path / "a\0b.yaml"), "no such file (the name holds a NUL character)", "missing-file"),
    ]
    reads: list[Callable[[Any], object]] = [
        lambda p: read_user_file(p, max_bytes=10, what="recipe"),
        lambda p: check_user_file(p, what="log"),
    ]
    for path, message, code in cases:
        for read in reads:
            with pytest.raises(InputFileError) as e:
                read(path)
            assert (e.value.message, e.value.code) == (message, code)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_is_one_wording(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text("a: 1\n")
    f.chmod(0)
    for read in (lambda: read_user_file(f, max_bytes=10, what="recipe"), lambda: check_user_file(f, what="log")):
        with pytest.raises(InputFileError) as e:
            read()
        assert (e.value.message, e.value.code) == ("permission denied", "unreadable-file")


def test_check_user_file_returns_the_stat_or_refuses_with_the_hint(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text("{}\n")
    assert check_user_file(f, what="log").st_size == 3
    with pytest.raises(InputFileError) as e:
        check_user_file(tmp_path, what="log", hint="; pipe it")
    assert e.value.message == "is a directory, not a log file"  # no hint: a folder cannot be piped
    with pytest.raises(InputFileError) as e:
        check_user_file("/dev/null", what="log", name="<in>", hint="; pipe it")
    assert str(e.value) == "<in>: is a character device, not a log file; pipe it"


def test_decode_text_drops_a_bom_and_names_what_the_file_should_be() -> None:
    assert decode_text(b"\xef\xbb\xbfa: 1\n", file="m.yaml") == "a: 1\n"
    with pytest.raises(InputFileError, match="binary data, not a JSON plan: NUL byte at offset 0"):
        decode_text(b"\0{}", file="p.json", what="a JSON plan")
