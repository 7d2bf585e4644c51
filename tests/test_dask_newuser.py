"""A new user's pass over ``--engine dask``: logs that give no span (empty, blank-only, a 0-row Parquet
file, an empty gzip, lines that are not spans, spans of another recipe) are refused in the local
engine's words, or passed over with its note beside a good log; and a sampled run says in one note and
one summary line which figures are the whole log's and which the sample's."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import test_dask
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs.distributed import Partition, read_partitioned, tasks
from recipemut.logs.ingest import read_logs
from recipemut.recipe.model import Recipe

# test_dask's module-scoped fixtures (it skips the module when dask is absent): an in-process LocalCluster
cluster, recipe = test_dask.cluster, test_dask.recipe
RECIPE, LOGS = test_dask.RECIPE, test_dask.LOGS
runner = CliRunner()
ENV = {"COLUMNS": "200"}
GOOD = gzip.decompress(LOGS.read_bytes()).splitlines(keepends=True)


def _nothing_logs(folder: Path) -> dict[str, Path]:
    """Logs that give no span, by what is wrong with them."""
    made = {
        "empty": folder / "empty.jsonl",
        "blank": folder / "blank.jsonl",
        "empty-gzip": folder / "empty.jsonl.gz",
        "all-bad": folder / "allbad.jsonl",
        "one-bad": folder / "onebad.jsonl",
        "bad-head": folder / "badhead.jsonl",
        "other-recipe": folder / "other.jsonl",
        "zero-rows": folder / "zero.parquet",
        "no-row-groups": folder / "nogroups.parquet",
        "empty-zstd": folder / "empty.jsonl.zst",
        "bad-rows": folder / "badrows.parquet",
    }
    made["empty"].write_bytes(b"")
    made["blank"].write_bytes(b"\n  \n\t\n")
    made["empty-gzip"].write_bytes(gzip.compress(b""))
    made["all-bad"].write_bytes(b'{"a": 1}\nhello\n')
    made["one-bad"].write_bytes(b'{"request_id": "r", "op": "load_cart"}\n')
    # the first 1,000 lines not spans, then good ones: not a span log either (ingest's rule on a file's head)
    made["bad-head"].write_bytes(b'{"x": 1}\n' * 1001 + b"".join(GOOD[:40]))
    made["other-recipe"].write_bytes(b"".join(GOOD[:30]).replace(b'"checkout"', b'"billing"'))
    df, _ = read_logs(LOGS, memory_budget="off")
    table = pa.Table.from_pandas(df.drop(columns=["source_file", "source_line"]), preserve_index=False)
    pq.write_table(table.slice(0, 0), made["zero-rows"])
    pq.ParquetWriter(made["no-row-groups"], table.schema).close()  # not even an empty row group
    at = table.schema.get_field_index("latency_ms")
    bad = table.slice(0, 3).set_column(at, "latency_ms", pa.array([-1.0] * 3, table.schema.field(at).type))
    pq.write_table(bad, made["bad-rows"])
    with pa.CompressedOutputStream(str(made["empty-zstd"]), "zstd"):
        pass
    return made


@pytest.fixture(scope="module")
def nothing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _nothing_logs(tmp_path_factory.mktemp("nothing"))


def _run(command: list[str], logs: list[Path], *engine: str) -> tuple[int, str, str]:
    """The exit code, the output (stdout and stderr) and stdout of a command on ``logs``."""
    given = [x for log in logs for x in ("--logs", str(log))]
    r = runner.invoke(app, [*command, str(RECIPE), *given, "--memory-budget", "off", "-q", *engine], env=ENV)
    assert "Traceback" not in r.output and not isinstance(r.exception, (IndexError, AssertionError)), r.output
    return r.exit_code, r.output, r.stdout


def _error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    return lines[0]


def test_a_first_partition_of_no_bytes_opens_a_task() -> None:
    """An empty file's one partition weighs 0: it was put in a group that did not exist (IndexError)."""
    empty = Partition(0, "e", "e", "jsonl", weight=0)
    good = Partition(1, "g", "g", "jsonl", 0, 5, weight=5)
    assert tasks([empty], 10) == [[empty]]
    assert tasks([empty, good], 10) == [[empty, good]]
    assert tasks([], 10) == []


@pytest.mark.parametrize("case", ["empty", "blank", "empty-gzip", "empty-zstd", "zero-rows", "no-row-groups",
                                  "all-bad", "one-bad", "bad-head", "bad-rows", "other-recipe"])  # fmt: skip
def test_a_log_of_no_span_is_refused_in_the_local_words(case: str, nothing: dict[str, Path], cluster: str) -> None:
    code, local, _ = _run(["profile"], [nothing[case]])
    dcode, dask, _ = _run(["profile"], [nothing[case]], "--engine", "dask", "--scheduler", cluster)
    assert code == dcode == 1
    assert _error(dask) == _error(local), (local, dask)
    assert str(nothing[case]) in _error(dask) or (case == "other-recipe" and "billing (30)" in _error(dask))


def test_the_first_file_refused_is_the_local_engines(nothing: dict[str, Path], cluster: str) -> None:
    """Files are refused in file order, whichever of ingest's rules refuses each."""
    logs = [nothing["empty"], nothing["one-bad"], nothing["bad-head"]]
    code, local, _ = _run(["profile"], logs)
    dcode, dask, _ = _run(["profile"], logs, "--engine", "dask", "--scheduler", cluster)
    assert code == dcode == 1 and _error(dask) == _error(local)
    assert _error(dask).startswith(f"error: {nothing['one-bad']}:1: not a span log: its one non-blank line is")


@pytest.mark.parametrize("command", [["suggest"], ["forecast", "-f", "json"]])
def test_every_command_refuses_only_empty_logs_alike(
    command: list[str], nothing: dict[str, Path], cluster: str
) -> None:
    logs = [nothing["empty"], nothing["blank"]]
    code, local, _ = _run(command, logs)
    dcode, dask, _ = _run(command, logs, "--engine", "dask", "--scheduler", cluster)
    assert code == dcode == 1
    assert (
        _error(dask)
        == _error(local)
        == (f"error: no spans in the logs: {logs[0]} is empty, {logs[1]} has only blank lines")
    )


@pytest.mark.parametrize("case", ["empty", "blank", "empty-gzip", "zero-rows"])
def test_an_empty_log_beside_a_good_one_is_passed_over_with_the_local_note(
    case: str, nothing: dict[str, Path], cluster: str
) -> None:
    logs = [nothing[case], LOGS]
    code, _, local = _run(["profile", "-f", "json"], logs)
    dcode, _, dask = _run(["profile", "-f", "json"], logs, "--engine", "dask", "--scheduler", cluster)
    assert code == dcode == 0
    lj, dj = json.loads(local), json.loads(dask)
    said = [n for n in lj["ingest"]["notes"] if n.startswith(str(nothing[case]))]
    assert len(said) == 1 and said[0].endswith("(no spans)"), lj["ingest"]["notes"]
    assert said[0] in dj["ingest"]["notes"], dj["ingest"]["notes"]
    assert [o["count"] for o in dj["ops"]] == [o["count"] for o in lj["ops"]]
    assert dj["summary"]["spans"] == lj["summary"]["spans"]


@pytest.mark.parametrize("command", [["suggest"], ["forecast", "-f", "json"]])
def test_a_log_of_bad_lines_beside_a_good_one_is_refused_alike(
    command: list[str], nothing: dict[str, Path], cluster: str
) -> None:
    """The local engine refuses a file that is not a span log among good ones; the dask engine read on."""
    logs = [LOGS, nothing["all-bad"]]
    code, local, _ = _run(command, logs)
    dcode, dask, _ = _run(command, logs, "--engine", "dask", "--scheduler", cluster)
    assert code == dcode == 1
    assert _error(dask) == _error(local)
    assert f"{nothing['all-bad']}:1: not a span log: all 2 non-blank lines are rejected" in _error(dask)


def test_strict_still_names_the_first_bad_line(nothing: dict[str, Path], cluster: str) -> None:
    code, local, _ = _run(["profile"], [nothing["bad-head"]], "--strict")
    dcode, dask, _ = _run(["profile"], [nothing["bad-head"]], "--strict", "--engine", "dask", "--scheduler", cluster)
    assert code == dcode == 1 and _error(dask) == _error(local) and _error(dask).endswith("(--strict)")


def _notes(output: str) -> list[str]:
    return [line.removeprefix("note: ") for line in output.splitlines() if line.startswith("note: ")]


def test_a_sampled_dask_run_says_which_figures_are_the_sample(cluster: str) -> None:
    args = ["profile", str(RECIPE), "--logs", str(LOGS), "--sample-requests", "0.1", "-q"]
    local = runner.invoke(app, args, env=ENV)
    dask = runner.invoke(app, [*args, "--engine", "dask", "--scheduler", cluster], env=ENV)
    assert local.exit_code == dask.exit_code == 0, dask.output
    (lnote,) = _notes(local.output)
    (dnote,) = _notes(dask.output)  # one note, not two that contradict each other
    head = lnote[: lnote.index("); ") + 1]  # 'sampled 0.1 of requests by request_id (K of N kept; --sample-...)'
    kept, total = (int(x.replace(",", "")) for x in re.search(r"\(([\d,]+) of ([\d,]+) kept", head).groups())  # type: ignore[union-attr]
    assert dnote.startswith("read by the dask engine in ") and f"; {head}: " in dnote, (lnote, dnote)
    assert "figures are computed on the sample" not in dnote
    assert "each operation's count, percentiles and means are those of every span" in dnote
    assert "the critical-path figures those of the sample" in dnote and "the request rate counts every request" in dnote
    # the summary line: the whole log's spans and requests (what the table counts), then the sample's
    whole, _ = read_logs(LOGS, memory_budget="off")
    sample, _ = read_logs(LOGS, sample_requests=0.1, memory_budget="off")
    assert total == whole["request_id"].nunique() and kept == sample["request_id"].nunique()
    line = next(x for x in dask.output.splitlines() if x.startswith("checkout v"))
    assert f"1 file: {len(whole):,} spans, {total:,} requests, " in line, line
    assert f"; a sample of 0.1 ({kept:,} requests, {len(sample):,} spans) for the critical path" in line, line
    assert f"{len(sample):,} spans, {kept:,} requests" not in line  # the sample's counts no longer lead
    rows = [x.split("│") for x in dask.output.splitlines() if x.startswith("│")]
    counts = [int(cells[4].strip().replace(",", "")) for cells in rows]  # '', mark, operation, service, count
    assert sum(counts) == len(whole), dask.output  # the table's count column: every span


def test_the_json_summary_holds_the_whole_log_and_the_sample(recipe: Recipe, cluster: str) -> None:
    _, report, figures = read_partitioned([LOGS], recipe=recipe, engine="dask", scheduler=cluster,
                                          sample_requests=0.1)  # fmt: skip
    whole, wrep = read_logs(LOGS, recipe=recipe, memory_budget="off")
    d = report.to_dict()
    assert d["whole_log"]["spans"] == len(whole) == int(figures.count.sum())
    assert d["whole_log"]["requests"] == wrep.requests == figures.requests_total
    assert d["whole_log"]["time_range_ms"] == pytest.approx(list(wrep.time_range_ms))
    assert d["spans_kept"] < len(whole) and d["sampling"]["requests_kept"] == report.requests
    # without a sample: ingest's line, word for word
    _, full, _ = read_partitioned([LOGS], recipe=recipe, engine="dask", scheduler=cluster, memory_budget="off")
    assert full.summary() == wrep.summary()


def test_with_span_ids_the_sampled_note_is_the_local_one(recipe: Recipe, tmp_path: Path) -> None:
    """Spans with span ids: the profile folds calls per request, which per-span partials cannot, so
    each operation's figures are the sample's too, and the note and the line say so."""
    log = tmp_path / "calls.jsonl"
    rows = [json.loads(x) for x in GOOD[:3000]]
    log.write_text("".join(json.dumps({**r, "span_id": f"s{i}"}) + "\n" for i, r in enumerate(rows)))
    _, lrep = read_logs(log, recipe=recipe, sample_requests=0.5)
    _, rep, figures = read_partitioned([log], recipe=recipe, engine="local", sample_requests=0.5)
    assert figures.calls and rep.sample is not None and lrep.sample is not None
    (note,) = [n for n in rep.notes if n.startswith("read by the local engine in 1 partition; ")]
    words = "(spans carry span_id/parent_span_id: each operation's figures too)"
    assert note.endswith(f"; {lrep.sample.summary()} {words}")
    assert "those of every span" not in note
    assert rep.summary().endswith("spans) for each operation's figures and the critical path")


def test_duplicates_are_noted_in_ingests_words(recipe: Recipe, tmp_path: Path) -> None:
    """The partitioned report said '1200 duplicate spans dropped', its own copy of ingest's note."""
    log = tmp_path / "twice.jsonl"
    log.write_bytes(b"".join(GOOD[:600]) * 2)
    _, local = read_logs(log, recipe=recipe, memory_budget="off")
    _, dask, _ = read_partitioned([log], recipe=recipe, engine="local", memory_budget="off")
    note = [n for n in local.notes if "duplicate" in n]
    assert note == ["600 duplicate (request_id, op) spans dropped; the last-ending one was kept"]
    assert [n for n in dask.notes if "duplicate" in n] == note
