"""A reviewer's findings on file listing, output names and kind detection (review 7).

1. ``--logs file:///folder --engine dask`` on a folder of JSONL (no Parquet file) listed its files with a
   second walk of its own and left a linked folder out in silence; it now reads the one listing the local
   engine reads a folder by (``parquet.list_folder``) and says what it does not follow. One glob for both.
2. The names of a Parquet log were three lists (convert wrote .parquet and .pq, the readers read .parq too,
   generate wrote .parquet alone): one list (``logs.sources.PARQUET_SUFFIXES``), every name of it written
   by convert and generate and read back.
3. A recipe in JSON (which ``validate`` takes) given to ``--logs`` was "not a span log", and a ``loggen.yaml``
   "a recipe (YAML)": each is named as what it is, and a span log is never taken for either.
4. docs/big-logs.md's example of a folder with a link shows the warning its text says is printed.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs.sources import PARQUET_SUFFIXES
from recipemut.logs.urls import expand_sources, local_files, log_path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
runner = CliRunner()
WIDE = {"COLUMNS": "200"}


# ---- 1. a folder of JSONL by file:// URL: one listing, and what it leaves out said ---------------------


def _jsonl_folder_with_a_link(root: Path) -> tuple[Path, int]:
    """``root/dd/a.jsonl`` (the shipped log's first half) and ``root/dd/old -> ../other`` holding the
    second half (``b.jsonl``): the reviewer's layout. Returns the folder and the lines in ``a.jsonl``."""
    lines = gzip.decompress(LOGS.read_bytes()).splitlines(keepends=True)
    half = len(lines) // 2
    (root / "dd").mkdir()
    (root / "other").mkdir()
    (root / "dd" / "a.jsonl").write_bytes(b"".join(lines[:half]))
    (root / "other" / "b.jsonl").write_bytes(b"".join(lines[half:]))
    os.symlink("../other", root / "dd" / "old")
    return root / "dd", half


def _linked_said(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if "linked folder" in r.getMessage()]


def test_a_jsonl_folder_by_url_says_the_linked_folder_it_does_not_follow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dd, _ = _jsonl_folder_with_a_link(tmp_path)
    with caplog.at_level(logging.WARNING):
        got = local_files(dd.as_uri())
    assert got == [dd / "a.jsonl"]  # the link is still not followed: a loop would be listed for ever
    assert _linked_said(caplog.records) == [
        f"{dd}: 1 linked folder was not followed (old): name it on --logs too to read their files"
    ]
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]  # a.jsonl is read, not skipped


def test_a_jsonl_folder_by_url_is_walked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The listing the local engine makes is the one read: the fallback walked the folder again (and the
    refusal it fell back from walked it for its hint: three walks of a folder that may hold 10,000 files)."""
    dd, _ = _jsonl_folder_with_a_link(tmp_path)
    walks: list[Path] = []
    real = os.walk

    def counted(top: str, *args: object, **kwargs: object) -> object:
        walks.append(Path(top))
        return real(top, *args, **kwargs)

    monkeypatch.setattr(os, "walk", counted)
    assert local_files(dd.as_uri()) == [dd / "a.jsonl"]
    assert walks.count(dd) == 1 and all(w.is_relative_to(dd) for w in walks)  # os.walk calls itself per folder


def test_an_empty_folder_by_url_is_still_the_local_engines_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    os.symlink("..", tmp_path / "empty" / "up")
    url = (tmp_path / "empty").as_uri()
    with pytest.raises(Exception, match="is a directory, not a log file") as e:
        local_files(url)
    assert getattr(e.value, "file", None) == url


def test_a_glob_by_url_with_double_star_inside_a_name_gives_a_url_example(tmp_path: Path) -> None:
    """One glob (parquet.glob_files) for both engines; its line shows a pattern written as it was given."""
    for value, example in ((f"{tmp_path.as_uri()}/**x.jsonl", "'file:///data/**/*.parquet'"),
                           (f"{tmp_path}/**x.jsonl", "'logs/**/*.parquet'")):  # fmt: skip
        with pytest.raises(LogError) as e:
            expand_sources([log_path(value)])
        assert e.value.file == value and e.value.message.endswith(f"** stands for whole folders: {example}")


def test_dask_by_url_reads_half_the_folder_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cluster: str
) -> None:
    """The reviewer's run: ``profile --logs file:///tmp/x/dd --engine dask`` read a.jsonl alone, no warning."""
    dd, half = _jsonl_folder_with_a_link(tmp_path)
    args = ["profile", str(RECIPE), "--logs", dd.as_uri(), "--engine", "dask", "--scheduler", cluster,
            "--memory-budget", "off"]  # fmt: skip
    with caplog.at_level(logging.WARNING):  # the CLI prints core warnings as "warning: ..." on stderr
        r = runner.invoke(app, args, env=WIDE)
    assert r.exit_code == 0, r.output
    assert _linked_said(caplog.records) == [
        f"{dd}: 1 linked folder was not followed (old): name it on --logs too to read their files"
    ]
    assert f"1 file: {half:,} spans" in r.output, r.output  # a.jsonl's, as before: the link is named, not read


# ---- 2. the names of a Parquet log: one list, every name written and read -----------------------------


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped log's first 3,000 lines, plain JSONL."""
    lines = gzip.decompress(LOGS.read_bytes()).splitlines(keepends=True)[:3000]
    path = tmp_path_factory.mktemp("small") / "small.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def _spans(log: Path) -> int:
    from recipemut.logs.ingest import read_logs

    df, _ = read_logs(log, memory_budget="off")
    return len(df)


def test_every_reader_and_writer_takes_the_one_list() -> None:
    from recipemut.commands.generate import WRITTEN_SUFFIXES
    from recipemut.loggen.memory import BYTES_PER_SPAN
    from recipemut.logs.detect import misnamed_parquet
    from recipemut.usecases.generate import WRITTEN, written_suffix

    assert {".parquet", ".parq", ".pq"} <= set(PARQUET_SUFFIXES)
    for suffix in PARQUET_SUFFIXES:
        assert misnamed_parquet(f"x{suffix.upper()}", b"text\n") == f"named {suffix} but is not Parquet (no PAR1 magic)"
        assert written_suffix(Path(f"x{suffix}")) == suffix and WRITTEN[suffix].startswith("Parquet")
        assert suffix in WRITTEN_SUFFIXES and suffix in BYTES_PER_SPAN


@pytest.mark.parametrize("suffix", PARQUET_SUFFIXES)
def test_convert_writes_every_name_the_reader_reads(tmp_path: Path, small_log: Path, suffix: str) -> None:
    """``convert -o y.parq`` was exit 2, though ``--logs y.parq`` is read as Parquet."""
    out = tmp_path / f"y{suffix}"
    r = runner.invoke(app, ["convert", str(small_log), "-o", str(out)], env=WIDE)
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:4] == b"PAR1" and _spans(out) == 3000


@pytest.mark.parametrize("suffix", PARQUET_SUFFIXES)
def test_generate_writes_every_name_convert_writes(tmp_path: Path, suffix: str) -> None:
    """``generate -o y.pq`` was exit 2, though ``convert -o y.pq`` writes it."""
    out = tmp_path / f"y{suffix}"
    r = runner.invoke(app, ["generate", str(RECIPE), "-n", "40", "-o", str(out), "--format", "json"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:4] == b"PAR1" and _spans(out) > 40


@pytest.mark.parametrize("suffix", [s for s in PARQUET_SUFFIXES if s != ".parquet"])
def test_a_log_named_as_parquet_in_the_output_folder_is_refused_by_every_name(
    tmp_path: Path, small_log: Path, suffix: str
) -> None:
    """``--logs days`` reads ``days/x.pq`` beside the day files, so converting it into ``days/`` would read
    each span twice: refused as ``days/x.parquet`` was."""
    days = tmp_path / "days"
    days.mkdir()
    log = days / f"x{suffix}"
    assert runner.invoke(app, ["convert", str(small_log), "-o", str(log)]).exit_code == 0
    r = runner.invoke(app, ["convert", str(log), "-o", f"{days}/"], env=WIDE)
    assert r.exit_code == 1 and "holds one of the logs" in r.output, r.output
    assert sorted(p.name for p in days.iterdir()) == [log.name]


# ---- 3. recipemut's own files given to --logs: a JSON recipe, the generation parameters -----------------

LOGGEN = ROOT / "recipes" / "checkout" / "loggen.yaml"


def _profile(log: Path) -> tuple[int, list[str]]:
    """The exit code, and the output's lines: a failure's are those said on stderr (stdout holds the error as
    JSON, tests/test_json_errors.py)."""
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(log), "--format", "json"], env=WIDE)
    return r.exit_code, [ln for ln in (r.output if r.exit_code == 0 else r.stderr).splitlines() if ln.strip()]


def _as_json(path: Path, **dumps: object) -> str:
    import yaml

    return json.dumps(yaml.safe_load(path.read_text()), **dumps)  # type: ignore[arg-type]


@pytest.mark.parametrize("indent", [None, 2], ids=["one line", "indented"])
def test_a_json_recipe_given_to_logs_is_named_as_one(tmp_path: Path, indent: int | None) -> None:
    """It was 'not a span log: all 440 non-blank lines are rejected' (or 'its one non-blank line')."""
    recipe = tmp_path / "recipe.json"
    recipe.write_text(_as_json(RECIPE, indent=indent) + "\n")
    assert runner.invoke(app, ["validate", str(recipe)]).exit_code == 0  # a recipe recipemut takes
    code, lines = _profile(recipe)
    assert code == 1 and lines == [
        f"error: {recipe}: is a recipe (JSON), not a log: give it as the command's first argument, and the spans "
        "or traces to --logs"
    ], lines


def test_a_json_recipe_longer_than_the_head_is_told_by_its_header(tmp_path: Path) -> None:
    """The head (64 KiB) ends inside the document: the keys before the cut (apiVersion, kind) tell it."""
    import yaml

    doc = yaml.safe_load(RECIPE.read_text())
    doc = {"apiVersion": doc.pop("apiVersion"), "kind": doc.pop("kind"), "description": "x" * 100_000, **doc}
    recipe = tmp_path / "long.json"
    recipe.write_text(json.dumps(doc, indent=2))
    assert runner.invoke(app, ["validate", str(recipe)]).exit_code == 0
    code, lines = _profile(recipe)
    assert code == 1 and len(lines) == 1 and "is a recipe (JSON), not a log" in lines[0], lines


@pytest.mark.parametrize("form", ["YAML", "JSON"])
def test_the_generation_parameters_given_to_logs_are_named_as_such(tmp_path: Path, form: str) -> None:
    """recipes/checkout/loggen.yaml was 'a recipe (YAML)' (it has an operations: key, as a recipe has)."""
    params = LOGGEN
    if form == "JSON":
        params = tmp_path / "loggen.json"
        params.write_text(_as_json(LOGGEN))
    code, lines = _profile(params)
    assert code == 1 and lines == [
        f"error: {params}: holds generation parameters ({form}: defaults, operations, fields), not a log: give it "
        "to recipemut generate --params, and the spans or traces to --logs"
    ], lines


def _spans_with(extra: dict[str, object], n: int = 300) -> list[str]:
    lines = gzip.decompress(LOGS.read_bytes()).decode().splitlines()[:n]
    return [json.dumps({**json.loads(line), **extra}) for line in lines]


@pytest.mark.parametrize(
    "extra",
    [{"kind": "Recipe"}, {"kind": "Recipe", "apiVersion": "recipemut/v1", "operations": ["a"]},
     {"defaults": {}, "operations": {}, "fields": {}}],
    ids=["kind", "recipe header", "generation keys"],
)  # fmt: skip
def test_a_span_log_holding_their_keys_as_fields_is_read(tmp_path: Path, extra: dict[str, object]) -> None:
    log = tmp_path / "spans.jsonl"
    log.write_text("\n".join(_spans_with(extra)) + "\n")
    code, lines = _profile(log)
    assert code == 0, lines
    assert json.loads("\n".join(lines))["summary"]["spans"] == 300


@pytest.mark.parametrize("junk", ["defaults:", "operations:\n  a: 1", "fields:\ndefaults:"])
def test_a_span_log_whose_first_lines_are_junk_keys_is_read(tmp_path: Path, junk: str) -> None:
    """The parameters are told by their keys alone (they have no header): not in a file of JSON lines."""
    log = tmp_path / "spans.jsonl"
    log.write_text(junk + "\n" + "\n".join(_spans_with({})) + "\n")
    code, lines = _profile(log)
    assert code == 0, lines
    summary = json.loads("\n".join(ln for ln in lines if not ln.startswith("warning")))["summary"]
    assert summary["spans"] == 300


@pytest.fixture(scope="module")
def cluster() -> object:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
        yield c.scheduler_address


# ---- 4. the docs' example of a folder with a link prints the warning its text promises ------------------


def test_big_logs_example_of_a_linked_folder_shows_the_warning() -> None:
    """docs/big-logs.md said the link is 'said in a warning' but its example left the line out."""
    from recipemut.logs.parquet import skipped_note

    page = (ROOT / "docs" / "big-logs.md").read_text()
    run = "$ recipemut profile recipes/checkout/recipe.yaml --logs file:///data/lake --engine dask"
    example = page[page.index(run) :]
    printed = example.split("```")[0].splitlines()[1:]
    said = skipped_note(Path("/data/lake"), [Path("/data/lake/linked")], linked=True)
    assert printed[0] == f"warning: {said}", printed
