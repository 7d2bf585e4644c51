"""Every reader of a user file refuses devices, FIFOs and directories before reading, and never reads past its cap."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from recipemut.apply.transaction import read_recipe_text
from recipemut.cli import app
from recipemut.errors import InputFileError, RecipeInvalid, RecipemutError
from recipemut.files import read as readers
from recipemut.loggen.params import load_params
from recipemut.logs.mapping import load_mapping
from recipemut.plan.planfile import load_plan, recipe_sha256
from recipemut.recipe.loader import check_recipe, load_recipe

READERS: dict[str, Callable[[str], Any]] = {
    "recipe": load_recipe,
    "apply": read_recipe_text,
    "rollback": lambda p: read_recipe_text(p, text_only=False),
    "mapping": load_mapping,
    "plan": load_plan,
    "loggen": load_params,
    "sha256": recipe_sha256,
}
#: the readers that want text, and what each says a binary file is not
TEXT_READERS = {
    "recipe": "a YAML recipe",
    "apply": "a YAML recipe",
    "mapping": "a YAML or JSON mapping",
    "plan": "a JSON plan",
    "loggen": "a YAML loggen.yaml",
}


def _guarded(call: Callable[[], Any], fifo: Path | None = None) -> BaseException | None:
    """Run ``call`` on a thread; if it is still blocked after 5 s, unblock it (open the FIFO for writing) and fail."""
    out: list[BaseException | None] = [None]

    def target() -> None:
        try:
            call()
        except BaseException as e:  # handed back to the test
            out[0] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(5)
    if t.is_alive():
        if fifo is not None:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        t.join(5)
        pytest.fail("the reader blocked")
    return out[0]


@pytest.mark.parametrize("reader", sorted(READERS))
def test_dev_zero_is_refused_before_reading(reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(readers.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    err = _guarded(lambda: READERS[reader]("/dev/zero"))
    assert isinstance(err, InputFileError), err
    assert str(err) == "/dev/zero: is a character device, not a " + str(err).rsplit("not a ", 1)[1]
    assert err.code == "not-a-file" and reads == []


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_fifo_is_refused_without_blocking(reader: str, tmp_path: Path) -> None:
    fifo = tmp_path / "r.yaml"
    os.mkfifo(fifo)
    err = _guarded(lambda: READERS[reader](str(fifo)), fifo)
    assert isinstance(err, InputFileError), err
    assert f"{fifo}: is a FIFO (named pipe), not a " in str(err)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_directory_is_refused(reader: str, tmp_path: Path) -> None:
    err = _guarded(lambda: READERS[reader](str(tmp_path)))
    assert isinstance(err, InputFileError) and err.code == "not-a-file", err
    assert "is a directory" in str(err)


def test_validate_on_a_fifo_is_one_finding_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)
    result: list[Any] = []
    err = _guarded(lambda: result.append(check_recipe(fifo)), fifo)
    assert err is None
    recipe, findings = result[0]
    assert recipe is None
    assert [str(f) for f in findings] == [f"{fifo}: is a FIFO (named pipe), not a recipe file [not-a-file]"]


@pytest.mark.parametrize("command", ["rollback", "history"])
def test_commands_on_dev_zero_give_one_line(command: str) -> None:
    """(``apply`` reads its plan first; its recipe read is ``read_recipe_text``, tested above.)"""
    args = [command, "/dev/zero"]
    out: list[Any] = []
    err = _guarded(lambda: out.append(CliRunner().invoke(app, args)))
    assert err is None, err
    result = out[0]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert result.output.strip() == "error: /dev/zero: is a character device, not a recipe file"


def test_a_file_swapped_for_a_fifo_after_stat_is_refused_after_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path is stat-ed, then replaced by a FIFO before it is opened: the open does not block, fstat refuses."""
    p = tmp_path / "r.yaml"
    p.write_text("a: 1\n")
    real_stat = os.stat

    def stat_then_swap(path: Any, *a: Any, **k: Any) -> os.stat_result:
        st = real_stat(path, *a, **k)
        if os.fspath(path) == str(p):
            p.unlink()
            os.mkfifo(p)
        return st

    monkeypatch.setattr(readers.os, "stat", stat_then_swap)
    err = _guarded(lambda: readers.read_user_file(p, max_bytes=100, what="recipe"), p)
    assert isinstance(err, InputFileError) and "is a FIFO (named pipe), not a recipe file" in str(err)


def test_never_reads_past_the_cap_of_a_growing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose size grows after fstat: at most cap + 1 bytes are read, then it is refused."""
    p = tmp_path / "r.yaml"
    p.write_bytes(b"a" * 100)
    real_fstat = os.fstat

    def fstat_then_grow(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        with open(p, "ab") as fh:
            fh.write(b"b" * 10_000)
        return st

    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(readers.os, "fstat", fstat_then_grow)
    monkeypatch.setattr(readers.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(InputFileError, match=r"file is over the 1\.0 KiB limit") as e:
        readers.read_user_file(p, max_bytes=1025, what="recipe")
    assert e.value.code == "file-too-large" and sum(reads) <= 1026


@pytest.mark.parametrize("reader", sorted(READERS))
def test_missing_file_is_one_error(reader: str, tmp_path: Path) -> None:
    err = _guarded(lambda: READERS[reader](str(tmp_path / "nope.yaml")))
    assert isinstance(err, RecipemutError) and "no such" in str(err), err


@pytest.mark.parametrize("reader", sorted(TEXT_READERS))
def test_every_text_reader_words_binary_and_non_utf8_alike(reader: str, tmp_path: Path) -> None:
    p = tmp_path / "f.yaml"
    p.write_bytes(b"a: 1\n\x00\x01")
    with pytest.raises(InputFileError) as e:
        READERS[reader](str(p))
    assert str(e.value) == f"{p}:2: binary data, not {TEXT_READERS[reader]}: NUL byte at offset 5 (line 2)"
    assert e.value.code == "binary-file"
    p.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(InputFileError) as e:
        READERS[reader](str(p))
    assert str(e.value) == f"{p}:2:4: not UTF-8 text: byte 0xff at offset 8 (line 2, column 4)"
    p.write_bytes("a: 1\n".encode("utf-16"))
    with pytest.raises(InputFileError, match="is UTF-16 text"):
        READERS[reader](str(p))


YAML_READERS = ("recipe", "mapping", "loggen")


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 10)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("reader", YAML_READERS)
@pytest.mark.parametrize(
    ("text", "code"),
    [
        (_alias_bomb(), "alias-bomb"),
        ("a: " + "[" * 150 + "]" * 150 + "\n", "too-deep"),
        ("a: [" + ",".join(["1"] * 100_001) + "]\n", "too-many-nodes"),
        ("a: " + "9" * 101 + "\n", "bad-value"),
        ("a: &a [1, *a]\n", "recursive-alias"),
    ],
    ids=["aliases", "depth", "nodes", "digits", "recursion"],
)
def test_every_yaml_reader_holds_the_same_limits(reader: str, text: str, code: str, tmp_path: Path) -> None:
    """Recipe, mapping and loggen parameters are parsed by one reader: one set of limits, one error each."""
    p = tmp_path / "f.yaml"
    p.write_text(text)
    with pytest.raises(RecipemutError) as e:
        READERS[reader](str(p))
    err = e.value
    got = err.findings[0].code if isinstance(err, RecipeInvalid) else err.code
    assert got == code and err.line is not None and str(err).startswith(f"{p}:{err.line}:"), str(err)
