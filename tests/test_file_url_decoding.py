"""``file://`` URLs on ``--logs`` are percent-encoded (RFC 8089; what ``Path.as_uri()`` writes), and
recipemut/logs/urls.py decodes them where a file is named: for its own checks (``local_path``: FIFOs,
the memory budget) and for fsspec (which takes a local path literally) alike. ``*`` as typed is a glob,
``%2A`` a star in a name; ``%2F`` and ``%00`` are refused in one line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import test_dask
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError, LogError
from recipemut.logs.distributed import plan_partitions, read_partitioned
from recipemut.logs.urls import as_url, expand_sources, file_path, file_url, filesystem, local_path, log_path
from recipemut.recipe.model import Recipe

# test_dask's module-scoped fixtures (it skips the module when dask is absent): an in-process LocalCluster,
# the checkout recipe, and the shipped checkout log as plain JSONL with bad lines in it
cluster, recipe, plain = test_dask.cluster, test_dask.recipe, test_dask.plain
RECIPE = test_dask.RECIPE
runner = CliRunner()
WIDE = {"COLUMNS": "200"}
NAMES = ["a b/ü.jsonl", "100%.jsonl", "*.jsonl", "q?[1]#x.jsonl", "day=1/ok+ok.jsonl"]


@pytest.mark.parametrize("name", NAMES)
def test_as_uri_names_the_file_through_log_path_and_back(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    url = as_url(log_path(path.as_uri()))  # the --logs option's Path, read back by the engines
    assert url is not None and local_path(url) == path
    assert filesystem(url)[1] == str(path)  # fsspec is given the same file
    assert file_path(file_url(str(path))) == str(path)


def test_a_name_that_is_not_utf8_survives(tmp_path: Path) -> None:
    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.jsonl")  # Latin-1 bytes: a surrogate escape
    assert Path(path).as_uri().endswith("/caf%E9.jsonl")
    assert file_path(Path(path).as_uri()) == path and file_path(file_url(path)) == path


@pytest.mark.parametrize(
    ("url", "code"),
    [("file:///data/a%2Fb.jsonl", "url-slash"), ("file:///data/a%2fb/*.jsonl", "url-slash"),
     ("file://localhost/data/a%00.jsonl", "url-nul"), ("file:///data/%C3%00.jsonl", "url-nul")],
)  # fmt: skip
def test_an_encoded_slash_or_nul_is_refused(url: str, code: str) -> None:
    with pytest.raises(LogError) as e:
        log_path(url)
    assert (e.value.code, e.value.file) == (code, url)


@pytest.mark.parametrize("engine", ["local", "dask"])
@pytest.mark.parametrize(
    ("url", "words"),
    [("file:///tmp/a%2Fb.jsonl", "percent-encodes a slash (%2F)"), ("file:///tmp/a%00.jsonl", "percent-encodes a NUL")],
)  # fmt: skip
def test_the_refusals_are_one_line_on_either_engine(url: str, words: str, engine: str) -> None:
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", url, "--engine", engine], env=WIDE)
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {url}: {words}"), r.output


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """``a b/`` holding ``*.jsonl`` (a star in its name), ``x.jsonl`` and ``ü.jsonl``."""
    where = tmp_path / "a b"
    where.mkdir()
    for name in ("*.jsonl", "x.jsonl", "ü.jsonl"):
        (where / name).write_text('{"request_id": "r", "op": "a", "start_ms": 1, "latency_ms": 1, "status": "ok"}\n')
    return where


def test_a_typed_star_globs_and_an_encoded_one_is_a_star(folder: Path) -> None:
    base = folder.as_uri()  # file:///.../a%20b
    everything = expand_sources([log_path(f"{base}/*.jsonl")])
    assert [local_path(s) for s in everything] == sorted(folder.iterdir())
    assert everything == [p.as_uri() for p in sorted(folder.iterdir())]
    star = expand_sources([log_path(f"{base}/%2A.jsonl")])  # as_uri's own spelling of the file '*.jsonl'
    assert [local_path(s) for s in star] == [folder / "*.jsonl"]
    assert expand_sources([log_path(f"{base}/%2A%2A.jsonl")]) == [f"{base}/%2A%2A.jsonl"]  # a name: listed as is
    starred = expand_sources([log_path(f"{base}/%2A*")])  # names that start with a star (decoded: '**', all)
    assert [local_path(s) for s in starred] == [folder / "*.jsonl"]


def test_a_folder_url_lists_its_files_encoded(folder: Path) -> None:
    found = expand_sources([log_path(folder.as_uri())])
    assert [local_path(s) for s in found] == sorted(folder.iterdir())
    assert all(as_url(s) == s and " " not in s and "*" not in s for s in found)  # read back, never a glob


def test_the_checks_and_fsspec_name_the_same_file(tmp_path: Path) -> None:
    """The FIFO check (local_path) sees the file fsspec would open: refused by its own name, not
    'no such file' for a%20b, and not opened (which would wait for a writer)."""
    (tmp_path / "a b").mkdir()
    fifo = tmp_path / "a b" / "ü.fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="is a FIFO") as e:
        plan_partitions([log_path(fifo.as_uri())])
    assert e.value.file == str(fifo)


def test_the_memory_budget_counts_the_file_an_encoded_url_names(plain: Path, recipe: Recipe, tmp_path: Path) -> None:
    spaced = tmp_path / "my logs" / "ü.jsonl"
    spaced.parent.mkdir()
    shutil.copy(plain, spaced)
    budget = str(plain.stat().st_size * 27 // 100)  # about a tenth of the estimate
    _, by_path, _ = read_partitioned([plain], recipe=recipe, engine="local", memory_budget=budget)
    _, by_url, _ = read_partitioned([log_path(spaced.as_uri())], recipe=recipe, engine="local", memory_budget=budget)
    assert by_path.sample is not None and by_url.sample is not None and by_url.sample.automatic
    assert (by_url.sample.fraction, by_url.sample.requests_kept) == (by_path.sample.fraction,
                                                                      by_path.sample.requests_kept)  # fmt: skip
    assert list(by_url.files) == [spaced.as_uri()]


def test_profile_of_as_uri_on_dask_reads_what_the_local_engine_reads_by_path(
    plain: Path, tmp_path: Path, cluster: str
) -> None:
    path = tmp_path / "a b" / "ü.jsonl"
    path.parent.mkdir()
    shutil.copy(plain, path)
    args = ["profile", str(RECIPE), "--format", "json", "--memory-budget", "off"]
    local = runner.invoke(app, [*args, "--logs", str(path)])
    dask = runner.invoke(app, [*args, "--logs", path.as_uri(), "--engine", "dask", "--scheduler", cluster])
    assert local.exit_code == 0 and dask.exit_code == 0, dask.output
    a, b = json.loads(local.stdout), json.loads(dask.stdout)
    assert b["summary"]["spans"] == a["summary"]["spans"] > 50_000
    assert b["summary"]["rejected_lines"] == a["summary"]["rejected_lines"] > 0
    assert [o["count"] for o in b["ops"]] == [o["count"] for o in a["ops"]]
    for x, y in zip(a["ops"], b["ops"], strict=True):
        assert (y["p50_ms"], y["p95_ms"]) == pytest.approx((x["p50_ms"], x["p95_ms"]), rel=0.01)
    # the local engine reads paths, and names the engine that reads a URL (as for any URL)
    r = runner.invoke(app, [*args, "--logs", path.as_uri()], env=WIDE)
    assert r.exit_code == 1 and "are read by --engine dask" in r.output, r.output
