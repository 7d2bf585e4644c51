"""Reviewer findings in reading logs (8): a span log whose first line is junk (``operations:``,
``kind: Recipe``) and whose span lines are indented is still a log, not another of recipemut's files."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import is_parquet_file, list_folder
from recipemut.logs.report import IngestReport
from recipemut.logs.sources import HEAD_BYTES, PARQUET_SUFFIXES, document_kind, refuse_other_kind

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "recipes" / "checkout"
RECIPE = CHECKOUT / "recipe.yaml"
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}


def _spans(n: int = 40) -> list[bytes]:
    with gzip.open(CHECKOUT / "logs.jsonl.gz", "rb") as f:
        return [f.readline().rstrip(b"\n") for _ in range(n)]


@pytest.mark.parametrize("indent", [b"\t", b"    ", b""], ids=["tab", "spaces", "none"])
@pytest.mark.parametrize("junk", [b"operations:", b"kind: Recipe", b"apiVersion: recipemut/v1"])
def test_a_span_log_with_a_junk_first_line_is_a_log(tmp_path: Path, junk: bytes, indent: bytes) -> None:
    spans = _spans()
    log = tmp_path / "l.jsonl"
    log.write_bytes(junk + b"\n" + b"".join(indent + s + b"\n" for s in spans))
    assert document_kind(log.read_bytes()[:HEAD_BYTES]) == ""
    refuse_other_kind(log.read_bytes()[:HEAD_BYTES], str(log))  # raises nothing
    df, rep = read_logs(log, memory_budget="off")
    assert rep.lines_read == len(spans) + 1 and rep.rejected_total == 1 and len(df) == len(spans)


@pytest.mark.parametrize("junk", [b"operations:", b"kind: Recipe"])
def test_the_cli_reads_a_span_log_with_a_junk_first_line(tmp_path: Path, junk: bytes) -> None:
    log = tmp_path / "l.jsonl"
    log.write_bytes(junk + b"\n" + b"".join(b"\t" + s + b"\n" for s in _spans()))
    res = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", str(log)], env=ENV)
    assert "not a log" not in res.output, res.output
    assert res.exit_code == 0, res.output


def test_a_few_json_lines_in_yaml_do_not_make_it_a_log() -> None:
    """Span objects must be most of the first lines: one in a recipe's fields is not a log."""
    head = RECIPE.read_bytes()
    body = head.split(b"\n")
    body.insert(body.index(b"kind: Recipe") + 1, b'  {"request_id": "r", "op": "a"}')
    assert document_kind(b"\n".join(body)) == "Recipe"


def _plan(tmp_path: Path) -> Path:
    p = tmp_path / "plan.json"
    p.write_text(json.dumps({"planVersion": 1, "tool": "recipemut", "plan": [], "mutations": []}, indent=2))
    return p


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda d: Path(shutil.copy(RECIPE, d / "recipe.yaml")), "is a recipe (YAML), not a log"),
        (lambda d: Path(shutil.copy(CHECKOUT / "loggen.yaml", d / "loggen.yaml")),
         "holds generation parameters (YAML: defaults, operations, fields), not a log"),
        (lambda d: Path(shutil.copy(ROOT / "recipes" / "zipkin_simple_db" / "mapping.yaml", d / "m.yaml")),
         "is a span mapping (YAML), not a log"),
        (_plan, "is a plan (written by suggest --out), not a log"),
    ],
    ids=["recipe", "loggen", "mapping", "plan"],
)  # fmt: skip
def test_recipemuts_own_files_are_still_named(tmp_path: Path, make: Callable[[Path], Path], said: str) -> None:
    f = make(tmp_path)
    with pytest.raises(InputFileError, match=said.replace("(", r"\(").replace(")", r"\)")):
        refuse_other_kind(f.read_bytes()[:HEAD_BYTES], str(f))
    res = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", str(f)], env=ENV)
    assert res.exit_code == 1 and f"{f}: {said}" in res.output, res.output


# --- 2. a trace file's rejections are spans, in the summary and the "more rejected" warning ----------

ZIPKIN = ROOT / "recipes" / "zipkin_simple_db"
LONG_US = 10**14  # a Zipkin duration (microseconds) over 30 days: bad-latency


def _zipkin(tmp_path: Path, copies: int = 1, bad: int = 1) -> Path:
    """The shipped Zipkin example ``copies`` times (each copy its own trace), the first ``bad`` spans too long."""
    doc = json.loads((ZIPKIN / "trace.json").read_text(encoding="utf-8"))
    spans = []
    for c in range(copies):
        for s in doc:
            ids = {k: f"{c:02x}{s[k][2:]}" for k in ("traceId", "parentId", "id") if k in s}
            spans.append({**s, **ids})
    for s in spans[:bad]:
        s["duration"] = LONG_US
    path = tmp_path / "zipkin.json"
    path.write_text(json.dumps(spans, indent=1), encoding="utf-8")
    return path


def _read_zipkin(path: Path) -> IngestReport:
    from recipemut.recipe.loader import load_recipe

    return read_logs([path], recipe=load_recipe(ZIPKIN / "recipe.yaml"), mapping=ZIPKIN / "mapping.yaml")[1]


@pytest.mark.parametrize(("bad", "said"), [(1, "1 rejected span"), (2, "2 rejected spans")])
def test_the_summary_counts_a_trace_files_rejections_as_spans(tmp_path: Path, bad: int, said: str) -> None:
    rep = _read_zipkin(_zipkin(tmp_path, bad=bad))
    assert rep.rejected_total == bad
    assert f", {said}" in rep.summary() and "rejected line" not in rep.summary(), rep.summary()


def test_the_summary_of_a_native_log_still_counts_lines(tmp_path: Path) -> None:
    log = tmp_path / "l.jsonl"
    log.write_bytes(b"junk\n" + b"".join(s + b"\n" for s in _spans()))
    assert read_logs(log, memory_budget="off")[1].summary().endswith(", 1 rejected line")


@pytest.mark.parametrize(
    ("formats", "n", "said"),
    [
        ({"a.jsonl": "native"}, 2, "lines"),
        ({"a.parquet": "parquet"}, 1, "line"),
        ({"z.json": "zipkin"}, 1, "span"),
        ({"o.json": "otlp", "j.json": "jaeger"}, 3, "spans"),
        ({"a.jsonl": "native", "z.json": "zipkin"}, 1, "line or span"),
        ({"a.jsonl": "native", "z.json": "zipkin"}, 4, "lines or spans"),
    ],
)
def test_what_rejections_are_follows_the_files_formats(formats: dict[str, str], n: int, said: str) -> None:
    rep = IngestReport(tuple(formats), formats, 10, 0, 9, {"bad-latency": n}, (), 1, None, {}, {}, {}, {}, 0, 1.0, {})
    assert rep.rejected_noun(n) == said
    assert f", {n:,} rejected {said}" in rep.summary()


def test_the_cli_warns_of_more_rejected_spans_of_a_trace_file(tmp_path: Path) -> None:
    z = _zipkin(tmp_path, copies=4, bad=9)  # two of them map to no operation: 7 rejected
    res = CliRunner().invoke(
        app, ["profile", str(ZIPKIN / "recipe.yaml"), "--logs", str(z), "--map", str(ZIPKIN / "mapping.yaml"), "-q"],
        env=ENV,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "warning: 2 more rejected spans (of 7 in all: bad-latency: 7)" in res.output, res.output
    assert ", 7 rejected spans;" in res.output and "rejected line" not in res.output, res.output


# --- 3. list_folder walks no folder it skips --------------------------------------------------------


def _listed_by_rglob(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """The listing as it was made before: every path under the folder found and sorted, then filtered."""
    parquet: list[Path] = []
    others: list[Path] = []
    linked: list[Path] = []
    for f in sorted(folder.rglob("*")):
        if any(part.startswith((".", "_")) for part in f.relative_to(folder).parts):
            continue
        if f.is_file():
            (parquet if f.suffix.lower() in PARQUET_SUFFIXES or is_parquet_file(f) else others).append(f)
        elif f.is_symlink() and f.is_dir():
            linked.append(f)
    return parquet, others, linked


def _files(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(PAR1 if name.endswith(("parquet", ".pq", "spans")) else b"{}\n")


PAR1 = b"PAR1" + b"\0" * 8 + b"PAR1"


def _nested(d: Path) -> None:
    _files(d, "b.parquet", "a.jsonl", "day=2/x.parquet", "day=10/y.PQ", "day-1/z.parquet", "a/b/c/deep.parq",
           "a/b/c/notes.txt", "a-b/x.parquet", "spans")  # fmt: skip


def _hidden(d: Path) -> None:
    _nested(d)
    _files(d, "_SUCCESS", ".part-0.parquet.crc", "_temporary/0/t.parquet", ".spool-1.convert/s.parquet",
           "a/_logs/l.parquet", "a/.hidden/h.jsonl", "day=2/_tmp.parquet", "day=2/.x.parquet")  # fmt: skip


def _links(d: Path) -> None:
    _hidden(d)
    (d / "elsewhere").mkdir()
    _files(d / "elsewhere", "e.parquet")
    os.symlink(d / "elsewhere", d / "a" / "old")  # a linked folder: listed, not followed
    os.symlink(d / "b.parquet", d / "day=2" / "linked.parquet")  # a linked file: a file
    os.symlink(d / "gone", d / "dangling.parquet")  # a link to nothing: left out
    os.symlink(d / "elsewhere", d / "_linked")  # a linked folder named _*: left out


def _loops(d: Path) -> None:
    _links(d)
    os.symlink(d, d / "a" / "b" / "up")  # a loop to the top
    os.symlink(d / "a", d / "a" / "b" / "c" / "back")  # a loop to a parent
    os.symlink(d / "_temporary", d / "tmp")  # a link into a pruned folder


@pytest.mark.parametrize("layout", [_nested, _hidden, _links, _loops], ids=["nested", "hidden", "links", "loops"])
@pytest.mark.parametrize("given", ["absolute", "relative"])
def test_list_folder_lists_what_it_listed_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 layout: Callable[[Path], None], given: str) -> None:  # fmt: skip
    d = tmp_path / "logs"
    d.mkdir()
    layout(d)
    if given == "relative":
        monkeypatch.chdir(tmp_path)
        d = Path("logs")
    got = list_folder(d)
    assert (got.parquet, got.others, got.linked) == _listed_by_rglob(d)
    assert got.parquet  # the layouts hold Parquet files: the comparison is not of two empty lists


def test_list_folder_keeps_the_sorted_order(tmp_path: Path) -> None:
    _nested(tmp_path)
    got = list_folder(tmp_path)
    names = [str(f.relative_to(tmp_path)) for f in got.parquet]
    assert names == ["a/b/c/deep.parq", "a-b/x.parquet", "b.parquet", "day-1/z.parquet", "day=10/y.PQ",
                     "day=2/x.parquet", "spans"]  # fmt: skip
    assert got.parquet == sorted(got.parquet)


def test_a_pruned_folder_is_never_walked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hidden(tmp_path)
    for i in range(50):
        _files(tmp_path, f"_temporary/0/task-{i}/part-{i}.parquet")
    scanned: list[str] = []
    real = os.scandir

    def spy(path: str | os.PathLike[str] = ".") -> object:
        scanned.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    got = list_folder(tmp_path)
    skipped = ("_temporary", ".spool-1.convert", "_logs", ".hidden")
    assert scanned and not [p for p in scanned if set(Path(p).relative_to(tmp_path).parts) & set(skipped)], scanned
    assert len(scanned) == 8  # the top, a, a/b, a/b/c, a-b, day=2, day=10, day-1: no more
    assert not [f for f in got.parquet + got.others if set(f.relative_to(tmp_path).parts) & set(skipped)]
