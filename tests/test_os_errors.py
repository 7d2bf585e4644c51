"""A path the system refuses to look up (a name too long, a loop of links, a folder that can be listed
but not entered) is one line naming it, exit 1: it was an OSError traceback from the output checks,
the log folder listing and the readers."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from recipemut.cli import main
from recipemut.errors import InputFileError
from recipemut.logs.parquet import list_folder

ROOT = Path(__file__).resolve().parents[1]
RECIPE = str(ROOT / "recipes" / "checkout" / "recipe.yaml")
LOGS = str(ROOT / "recipes" / "checkout" / "logs.jsonl.gz")
LONG = "a" * 300  # over NAME_MAX (255) on every file system recipemut runs on


def _one_line(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    with pytest.raises(SystemExit) as ex:
        main(args)
    err = capsys.readouterr().err
    assert ex.value.code == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize(
    "args",
    [
        ["generate", RECIPE, "-n", "5", "-o", f"{LONG}.jsonl"],
        ["suggest", RECIPE, "--logs", LOGS, "--out", f"{LONG}.json", "-q"],
        ["report", RECIPE, "--logs", LOGS, "-o", f"{LONG}.html", "-q"],
        ["convert", LOGS, "-o", f"{LONG}.parquet"],
    ],
)
def test_an_output_name_too_long_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    line = _one_line(capsys, args)
    assert line.endswith(": cannot write there (file name too long)") and line.startswith("error: -"), line
    assert os.listdir(tmp_path) == []


def test_an_output_in_a_loop_of_links_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    os.symlink("loopy", "loopy")
    line = _one_line(capsys, ["generate", RECIPE, "-n", "5", "-o", "loopy/x.jsonl"])
    assert line == "error: --out loopy/x.jsonl: cannot write there (too many levels of symbolic links)", line


def test_a_log_name_too_long_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["profile", RECIPE, "--logs", f"{LONG}.jsonl", "-q"], ["convert", f"{LONG}.jsonl", "-o", "q.parquet"]):
        assert _one_line(capsys, args) == f"error: {LONG}.jsonl: File name too long"


def test_a_log_in_a_folder_that_cannot_be_entered_is_named_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root every folder can be entered: the refusal of the look-up is what a user without the
    folder's x bit meets (``chmod 444 days/sub``)."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.parquet").write_bytes(b"PAR1")
    (tmp_path / "sub" / "b.parquet").write_bytes(b"PAR1")
    real = Path.is_file

    def refused(self: Path) -> bool:
        if self.parent.name == "sub":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "is_file", refused)
    with pytest.raises(InputFileError, match=r"cannot read: Permission denied") as e:
        list_folder(tmp_path)
    assert e.value.file == str(tmp_path / "sub" / "b.parquet")



def test_the_name_offered_instead_of_a_refused_output_is_another(tmp_path: Path) -> None:
    """A link named plan.json was refused with 'write elsewhere (e.g. plan.json)'."""
    from recipemut.files.write import check_output_path

    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "plan.json").symlink_to(tmp_path / "real.json")
    with pytest.raises(InputFileError, match=r"write elsewhere \(e\.g\. plan-2\.json\)"):
        check_output_path(tmp_path / "plan.json", example="plan.json")


def test_a_folder_of_the_logs_that_cannot_be_listed_is_named_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.walk left out a folder it could not list (chmod 000) in silence."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.parquet").write_bytes(b"PAR1")
    real = os.scandir

    def refused(path: object = ".") -> object:
        if str(path).endswith("sub"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", refused)
    with pytest.raises(InputFileError, match=r"cannot read: Permission denied") as e:
        list_folder(tmp_path)
    assert e.value.file == str(tmp_path / "sub")
