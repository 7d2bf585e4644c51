"""The lock beside a recipe is never followed through a link, nor a FIFO, device or folder opened as one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.files.write import locked

runner = CliRunner()


def _lock(recipe: Path) -> Path:
    return recipe.with_name(recipe.name + ".lock")


@pytest.mark.parametrize("command", ["apply", "rollback"])
def test_a_lock_that_is_a_symlink_is_refused_and_its_target_untouched(recipe: Path, tmp_path: Path,
                                                                      command: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET\n")
    _lock(recipe).symlink_to(secret)
    args = [command, str(recipe)] + (["--plan", str(recipe.with_name("plan.json"))] if command == "apply" else [])
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert secret.read_text() == "SECRET\n"
    assert recipe.read_text() == RECIPE_TEXT
    assert "symbolic link" in res.output and "checkout.yaml.lock" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_a_dangling_lock_link_creates_nothing(recipe: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "made.txt"
    (tmp_path / "elsewhere").mkdir()
    _lock(recipe).symlink_to(target)
    with pytest.raises(InputFileError, match="symbolic link"), locked(recipe, timeout_s=0):
        pass
    assert not target.exists()


def test_a_lock_that_is_a_folder_or_a_hard_link_is_refused(recipe: Path, tmp_path: Path) -> None:
    _lock(recipe).mkdir()
    with pytest.raises(InputFileError, match="not a regular file"), locked(recipe, timeout_s=0):
        pass
    _lock(recipe).rmdir()
    other = tmp_path / "other.txt"
    other.write_text("keep me\n")
    os.link(other, _lock(recipe))
    with pytest.raises(InputFileError, match="hard link"), locked(recipe, timeout_s=0):
        pass
    assert other.read_text() == "keep me\n"


def test_a_lock_that_is_a_fifo_is_refused_without_blocking(recipe: Path) -> None:
    os.mkfifo(_lock(recipe))
    proc = subprocess.run(
        [sys.executable, "-m", "recipemut", "apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))],
        capture_output=True, text=True, timeout=120, env={**os.environ, "RECIPEMUT_STORE": "off"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "not a regular file" in proc.stderr and "Traceback" not in proc.stderr
    assert recipe.read_text() == RECIPE_TEXT


def test_the_lock_descriptor_is_not_inherited(recipe: Path) -> None:
    import fcntl

    with locked(recipe, timeout_s=1):
        fds = [int(n) for n in os.listdir("/proc/self/fd")] if os.path.isdir("/proc/self/fd") else []
        lock_fds = [fd for fd in fds if _points_at(fd, _lock(recipe))]
        assert lock_fds
        assert all(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC for fd in lock_fds)


def _points_at(fd: int, path: Path) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == str(path)
    except OSError:
        return False
