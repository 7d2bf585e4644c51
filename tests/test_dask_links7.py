"""Both engines read the same files of a folder or a glob however it is named (recipemut/logs/urls.py
``local_files``): a ``file://`` URL is found by the local engine's rules (``expand_logs``), not fsspec's
listing, which gave a link to a folder (or to its own parent) as a file, read a link to nothing, and read
a folder's JSONL or text files beside its Parquet ones."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path

import pytest
import test_dask
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError, LogError
from recipemut.logs.parquet import expand_logs
from recipemut.logs.urls import expand_sources, local_files, local_path, log_path

# test_dask's module-scoped fixtures (it skips the module when dask is absent): one in-process LocalCluster,
# and the shipped checkout log as a Parquet folder of three days (day=0..2/part-0.parquet)
cluster, lake, recipe = test_dask.cluster, test_dask.lake, test_dask.recipe
RECIPE = test_dask.RECIPE
runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _tree(root: Path, lake: Path, layout: str) -> Path:
    """``root/logs``, a Parquet file in it, and what ``layout`` adds."""
    logs = root / "logs"
    logs.mkdir(parents=True)
    shutil.copy(lake / "day=0" / "part-0.parquet", logs / "part-0.parquet")
    if layout in ("linked folder", "linked file"):
        more = root / "more"
        more.mkdir()
        shutil.copy(lake / "day=1" / "part-0.parquet", more / "part-1.parquet")
        if layout == "linked folder":
            os.symlink(more, logs / "linked")  # a folder inside the logs folder, by a link
        else:
            os.symlink(more / "part-1.parquet", logs / "part-1.parquet")  # a file, by a link: that file
    elif layout == "loop to its parent":
        os.symlink("..", logs / "up")
    elif layout == "loop to itself":
        os.symlink(".", logs / "self")
    elif layout == "link to nothing":
        os.symlink(root / "gone.parquet", logs / "gone.parquet")
    elif layout == "not parquet beside it":
        (logs / "README.txt").write_text("these are the checkout logs\n")
        (logs / "extra.jsonl").write_text('{"request_id": "r", "op": "x", "start_ms": 1, "latency_ms": 1}\n')
    elif layout == "hidden and Spark's markers":  # as Spark and Hive write a folder
        shutil.copy(lake / "day=1" / "part-0.parquet", logs / ".part-1.parquet")
        (logs / ".part-0.parquet.crc").write_bytes(b"crc")
        (logs / "_SUCCESS").write_bytes(b"")
    elif layout == "nested":
        (logs / "day=1").mkdir()
        shutil.copy(lake / "day=1" / "part-0.parquet", logs / "day=1" / "part-1.parquet")
    return logs


LAYOUTS = ["linked folder", "linked file", "loop to its parent", "loop to itself", "link to nothing",
           "not parquet beside it", "hidden and Spark's markers", "nested"]  # fmt: skip
FORMS = ["{}", "{}/*.parquet", "{}/**/*.parquet", "{}/*"]


def _quick(call: object, *args: object) -> object:
    """``call(*args)``, which must end within 30 s (a loop followed would not): its value or its error."""
    got: list[object] = []

    def run() -> None:
        try:
            got.append(call(*args))  # type: ignore[operator]
        except (InputFileError, LogError) as e:
            got.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), f"{call} {args} did not end"
    return got[0]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_file_url_names_the_files_the_local_engine_reads(tmp_path: Path, lake: Path, layout: str, form: str) -> None:
    logs = _tree(tmp_path, lake, layout)
    text = form.format(logs)
    local = _quick(lambda p: expand_logs([p], note_skipped=False), Path(text))  # the local engine's files
    by_path = _quick(expand_sources, [Path(text)])  # --engine dask, by path
    by_url = _quick(expand_sources, [log_path(form.format(logs.as_uri()))])  # --engine dask, by file:// URL
    assert isinstance(local, list), local
    assert [Path(p) for p in by_path] == local  # type: ignore[attr-defined]
    assert [local_path(u) for u in by_url] == local  # type: ignore[attr-defined]
    assert logs / "part-0.parquet" in local
    assert not any(f.name.startswith((".", "_")) and f.parent == logs for f in local if form == "{}")


def test_what_the_layouts_mean(tmp_path: Path, lake: Path) -> None:
    """The rules themselves, on a folder named by URL: a link to a folder (or a loop) is not followed, a
    link to a file is that file, a link to nothing, hidden files, Spark's markers and other files are not read."""
    names = {}
    for layout in LAYOUTS:
        logs = _tree(tmp_path / layout.replace(" ", "_").replace("'", ""), lake, layout)
        names[layout] = [str(f.relative_to(logs)) for f in local_files(logs.as_uri())]
    assert names == {
        "linked folder": ["part-0.parquet"], "linked file": ["part-0.parquet", "part-1.parquet"],
        "loop to its parent": ["part-0.parquet"], "loop to itself": ["part-0.parquet"],
        "link to nothing": ["part-0.parquet"], "not parquet beside it": ["part-0.parquet"],
        "hidden and Spark's markers": ["part-0.parquet"], "nested": ["day=1/part-1.parquet", "part-0.parquet"],
    }  # fmt: skip


def test_a_linked_folder_on_dask_by_url_reads_what_the_local_engine_reads(
    tmp_path: Path, lake: Path, cluster: str
) -> None:
    """The attacker's case: ``--logs file:///abs/folder --engine dask`` with a link to another folder in
    it was 'error: .../linked: is a directory, not a log file'; the local engine reads the folder."""
    logs = _tree(tmp_path, lake, "linked folder")
    os.symlink("..", logs / "up")  # and a loop: ended, not followed
    args = ["profile", str(RECIPE), "--format", "json", "--memory-budget", "off"]
    runs = {
        "local": runner.invoke(app, [*args, "--logs", str(logs)]),
        "dask by path": runner.invoke(app, [*args, "--logs", str(logs), "--engine", "dask", "--scheduler", cluster]),
        "dask by URL": runner.invoke(app, [*args, "--logs", logs.as_uri(), "--engine", "dask", "--scheduler", cluster]),
    }  # fmt: skip
    for how, r in runs.items():
        assert r.exit_code == 0, (how, r.output)
    spans = {how: json.loads(r.stdout)["summary"]["spans"] for how, r in runs.items()}
    alone = runner.invoke(app, [*args, "--logs", str(logs / "part-0.parquet")])
    assert set(spans.values()) == {json.loads(alone.stdout)["summary"]["spans"]}, spans  # the linked one unread


def test_a_text_file_in_a_folder_is_skipped_on_dask_by_url_as_on_the_local_engine(
    tmp_path: Path, lake: Path, cluster: str, caplog: pytest.LogCaptureFixture
) -> None:
    logs = _tree(tmp_path, lake, "not parquet beside it")
    args = ["profile", str(RECIPE), "--format", "json", "--memory-budget", "off"]
    said = {}
    dask = [logs.as_uri(), "--engine", "dask", "--scheduler", cluster]
    for engine, value in (("local", [str(logs)]), ("dask", dask)):
        caplog.clear()
        with caplog.at_level(logging.WARNING):  # the CLI prints core warnings as "warning: ..." on stderr
            r = runner.invoke(app, [*args, "--logs", *value], env=WIDE)
        assert r.exit_code == 0, r.output  # dask by URL was: README.txt: unsupported log format
        said[engine] = (json.loads(r.stdout)["summary"]["spans"],
                        [m.getMessage() for m in caplog.records if "skipped" in m.getMessage()])  # fmt: skip
    assert said["dask"] == said["local"]
    skipped = "2 files that are not Parquet were skipped (README.txt, extra.jsonl): a folder is read for its Parquet"
    assert said["local"][1] == [f"{logs}: {skipped} files; name the others on --logs too (or convert them)"]


def test_a_folder_of_only_jsonl_by_url_is_still_its_files(tmp_path: Path) -> None:
    """Kept as it was (tests/test_file_url_decoding.py reads such a folder by URL): the local engine
    refuses it and names the glob that reads it; a link and a hidden file in it are left out all the same."""
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / ".b.jsonl").write_text("{}\n")
    os.symlink(".", tmp_path / "self")
    assert local_files(tmp_path.as_uri()) == [tmp_path / "a.jsonl"]


@pytest.mark.parametrize(
    ("form", "words", "url_words"),
    [("{}", "is a directory, not a log file (and holds no Parquet file)", None),
     ("{}/*.parquet", "no such file (and no file matches it as a pattern)", "matches no file"),
     ("{}/**/*.parquet", "no such file (and no file matches it as a pattern)", "matches no file")],
)  # fmt: skip
def test_an_empty_folder_is_one_line_on_both_engines(
    tmp_path: Path, form: str, words: str, url_words: str | None, cluster: str
) -> None:
    """An empty folder is the same line on both engines (by URL it was 'matches no file'); a glob matching
    nothing by URL is 'matches no file' as for every URL (tests/test_dask_commands.py holds it to that)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    os.symlink(".", empty / "self")  # a loop, and a link to nothing: no file either
    os.symlink(tmp_path / "gone.parquet", empty / "gone.parquet")
    (empty / "_SUCCESS").write_bytes(b"")
    args = ["profile", str(RECIPE), "--logs"]
    path, url = form.format(empty), form.format(empty.as_uri())
    dask = ["--engine", "dask", "--scheduler", cluster]
    for value, said in ([path], words), ([path, *dask], words), ([url, *dask], url_words or words):
        r = runner.invoke(app, [*args, *value], env=WIDE)
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert r.exit_code == 1 and lines == [f"error: {value[0]}: {said}"], r.output


@pytest.mark.parametrize("by_url", [True, False])
def test_a_double_star_inside_a_name_is_one_line_on_dask(tmp_path: Path, by_url: bool, cluster: str) -> None:
    """By path or by URL (pathlib's ValueError was a traceback); the local engine's is parquet.py's to say."""
    value = f"{tmp_path.as_uri() if by_url else tmp_path}/**x.parquet"
    with pytest.raises(LogError, match=r"\*\* stands for whole folders") as e:
        expand_sources([log_path(value)])
    assert e.value.file == value
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", value, "--engine", "dask", "--scheduler", cluster],
                      env=WIDE)  # fmt: skip
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith(f"error: {value}: is not a pattern"), r.output


def test_a_double_star_inside_a_name_is_one_line_on_the_local_engine(tmp_path: Path) -> None:
    """The local engine's glob (parquet.expand_logs) says the same line; it was pathlib's ValueError, a traceback."""
    value = f"{tmp_path}/**x.parquet"
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", value], env=WIDE)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith(f"error: {value}: is not a pattern"), r.output
    assert "** stands for whole folders" in lines[0]


def test_a_linked_folder_not_followed_is_said_on_both_engines(
    tmp_path: Path, lake: Path, cluster: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not following a linked folder was silent: a user whose logs are behind a link got fewer spans and no word."""
    logs = _tree(tmp_path, lake, "linked folder")
    os.symlink("..", logs / "up")
    said = f"{logs}: 2 linked folders were not followed (linked, up): name them on --logs too to read their files"
    args = ["profile", str(RECIPE), "--memory-budget", "off"]
    for extra in ([str(logs)], [logs.as_uri(), "--engine", "dask", "--scheduler", cluster]):
        caplog.clear()
        with caplog.at_level(logging.WARNING):  # the CLI prints core warnings as "warning: ..." on stderr
            r = runner.invoke(app, [*args, "--logs", *extra], env=WIDE)
        assert r.exit_code == 0, r.output
        assert [m.getMessage() for m in caplog.records if "linked" in m.getMessage()] == [said]


@pytest.mark.parametrize("hidden", ["_temporary", ".spool-abc.convert"])
def test_files_in_a_folder_named_dot_or_underscore_are_not_logs(tmp_path: Path, lake: Path, hidden: str) -> None:
    """Spark's _temporary/ and a spool a killed convert left hold partial files: a folder leaves them out,
    by path and by URL (a file named so was left out already; one inside such a folder was read)."""
    logs = _tree(tmp_path, lake, "nested")
    (logs / hidden).mkdir()
    shutil.copy(lake / "day=0" / "part-0.parquet", logs / hidden / "part-9.parquet")
    by_path = [str(f.relative_to(logs)) for f in expand_logs([logs])]
    by_url = [str(f.relative_to(logs)) for f in local_files(logs.as_uri())]
    assert by_path == by_url == ["day=1/part-1.parquet", "part-0.parquet"]
