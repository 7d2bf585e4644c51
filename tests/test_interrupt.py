"""A Ctrl-C after a file was written says what was written (or that nothing was), in one line, exit 130.

Issue 16: "Ctrl-C in the last half second after a write exits 130 with no message": the command had
returned and the interpreter was tearing down pandas and pyarrow with Python's Ctrl-C handler
already removed, so the signal killed the process silently. The interrupt is simulated here
(KeyboardInterrupt raised right after the write), never timed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from recipemut import _entry, cli
from recipemut.apply import transaction
from recipemut.commands import graph
from recipemut.files import write
from recipemut.recipe import loader
from recipes import CHECKOUT_EXAMPLE


def _then_interrupt(real: Any, after: int = 1) -> Any:
    """``real`` (a writer), raising KeyboardInterrupt once it has returned ``after`` times: Ctrl-C right after."""
    calls = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(args)
        if len(calls) == after:
            raise KeyboardInterrupt
        return result

    return wrapper


def test_ctrl_c_right_after_a_write_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dag.mmd"
    monkeypatch.setattr(graph, "atomic_write", _then_interrupt(write.atomic_write))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["graph", str(CHECKOUT_EXAMPLE / "recipe.yaml"), "-o", str(out)])
    assert exit_.value.code == 130
    assert capfd.readouterr().err == f"interrupted; {out} was written in full before it\n"
    assert out.read_text(encoding="utf-8").startswith("flowchart")  # the whole diagram, as the line says


def test_ctrl_c_after_two_writes_names_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """rollback writes the history, then the recipe: interrupted right after the recipe, it names both."""
    recipe = tmp_path / "recipe.yaml"
    shutil.copy(CHECKOUT_EXAMPLE / "recipe.yaml", recipe)
    assert _run(["apply", str(recipe), "--plan", str(_plan(tmp_path, recipe))]) == 0  # a write to roll back
    capfd.readouterr()
    monkeypatch.setattr(transaction, "atomic_write", _then_interrupt(write.atomic_write))  # the recipe
    with pytest.raises(SystemExit) as exit_:
        cli.main(["rollback", str(recipe)])
    assert exit_.value.code == 130
    history = f"{recipe}.history.jsonl"
    assert capfd.readouterr().err == f"interrupted; {history} and {recipe} were written in full before it\n"


def _run(args: list[str]) -> object:
    try:
        cli.main(args)
    except SystemExit as e:
        return e.code or 0
    return 0


def _plan(folder: Path, recipe: Path) -> Path:
    plan = folder / "plan.json"
    args = ["suggest", str(recipe), "--logs", str(CHECKOUT_EXAMPLE / "logs.jsonl.gz"), "-O", "eliminate",
            "--out", str(plan), "--seed", "1"]
    assert _run(args) == 0 and plan.is_file()
    return plan


def test_a_run_names_only_its_own_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    write.note_written(tmp_path / "from-an-earlier-run.json")

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "load_recipe", interrupted)  # graph imports it when it runs
    with pytest.raises(SystemExit) as exit_:
        cli.main(["graph", str(CHECKOUT_EXAMPLE / "recipe.yaml")])
    assert exit_.value.code == 130
    assert capfd.readouterr().err == "interrupted; nothing was written\n"


class _Finished(Exception):
    """Stands for ``os._exit``, which would end the test run."""


def _fake_cli(main: Any) -> types.ModuleType:
    module = types.ModuleType("recipemut.cli")
    module.main = main  # type: ignore[attr-defined]
    return module


def test_after_the_command_the_process_leaves_without_teardown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The command's exit code, stdout flushed, and no interpreter teardown (where Ctrl-C was silent)."""
    codes: list[int] = []

    def fake_exit(code: int) -> None:
        codes.append(code)
        raise _Finished

    def command() -> None:
        print("wrote it", end="")  # unflushed until leave() flushes it
        raise SystemExit(4)

    monkeypatch.setattr(os, "_exit", fake_exit)
    monkeypatch.setitem(sys.modules, "recipemut.cli", _fake_cli(command))
    with pytest.raises(_Finished):
        _entry.main()
    assert codes == [4]
    assert capfd.readouterr().out == "wrote it"


def test_ctrl_c_once_the_command_returned_names_what_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"

    def command() -> None:
        write.forget_written()
        write.atomic_write(out, b"{}")

    def interrupted_while_leaving(code: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "recipemut.cli", _fake_cli(command))
    monkeypatch.setattr(_entry, "leave", interrupted_while_leaving)
    with pytest.raises(SystemExit) as exit_:
        _entry.main()
    assert exit_.value.code == 130
    assert capfd.readouterr().err == f"interrupted; {out} was written in full before it\n"


def test_the_installed_cli_skips_the_interpreter_teardown(tmp_path: Path) -> None:
    """atexit handlers (the start of the teardown) do not run: the process ends when the command does."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('teardown ran\\n'))\n"
        "from recipemut import _entry\n"
        "sys.argv = ['recipemut', '--version']\n"
        "_entry.main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("recipemut ") and done.stderr == ""
