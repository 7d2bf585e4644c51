"""The big-log inputs under attack: ``--engine dask`` with ``file://`` URLs, globs and
``--scheduler``, Parquet logs of hostile shapes, zstd logs.

Each test failed before its fix:

- a "scheduler" that accepts the connection and never answers hung ``Client`` for ever (its
  handshake has no timeout); one that answers garbage ended in a traceback (``MemoryError``
  allocating 3 EiB, ``struct.error``);
- a zstd bomb named by a ``file://`` URL was inflated whole by the dask engine (a 250 KB file took
  9.7 GiB and 69 s); a damaged zstd log printed the workers' "Compute Failed" report, 8 lines;
- the dask engine cast a Parquet ``latency_ms`` of strings or booleans to numbers and read them
  (the local engine refuses them); a list, struct, timestamp, decimal or binary column ended in
  worker tracebacks, and a list or struct column or a column given twice in a traceback on the
  local engine too;
- 10,000 row groups of one row were 10,000 batches (13 s locally) and 10,000 dask tasks (past 120 s);
- a glob or folder of 100,000 files read for 245 s in 2.6 GB (the dask engine: past 300 s);
- ``logs/**/*.jsonl`` beside a link ``loop -> ..`` ran for ever (``glob.glob`` follows links);
- an operation name of 50 MB printed a 52 MB warning line.
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError, LogError
from recipemut.logs import distributed, parquet
from recipemut.logs.distributed import Partition, plan_partitions, read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
runner = CliRunner()


@pytest.fixture(scope="module")
def spans() -> pa.Table:
    """The first 2,000 spans of the shipped log, as the span columns of a Parquet log."""
    df, _ = read_logs(LOGS, memory_budget="off")
    table = pa.Table.from_pandas(df.drop(columns=["source_file", "source_line"]).head(2000), preserve_index=False)
    return table.replace_schema_metadata(None)


def _run(args: list[str], tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECIPEMUT_STORE": "off", "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "recipemut", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=tmp_path)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# ---- --scheduler --------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A TCP server on a free port that sends each client the bytes put in its list (or nothing)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    answer: list[bytes] = []
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            held.append(conn)
            if answer:
                conn.sendall(answer[0])

    threading.Thread(target=serve, daemon=True).start()
    yield sock, answer
    sock.close()
    for c in held:
        c.close()


def test_a_scheduler_that_never_answers_is_one_line_within_the_timeout(
    tmp_path: Path, server: tuple[socket.socket, list[bytes]]
) -> None:
    # before: Client waited for the handshake for ever (the child is killed at 60 s and the test fails)
    port = server[0].getsockname()[1]
    res = _run(["profile", str(RECIPE), "-q", "--logs", str(LOGS), "--engine", "dask",
                "--scheduler", f"tcp://127.0.0.1:{port}"], tmp_path)  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert _lines(res.stderr) == [f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 5s "
                                  "(TimeoutError: no answer)"]  # fmt: skip


@pytest.mark.parametrize("answer", [b"HTTP/1.1 400 Bad Request\r\n\r\n", b"\x01" + b"\x00" * 7 + b"\xff" * 8, b"x"])
def test_a_scheduler_answering_garbage_is_one_line(
    tmp_path: Path, server: tuple[socket.socket, list[bytes]], answer: bytes
) -> None:
    # before: MemoryError (a frame of 3 EiB), struct.error: tracebacks
    # b"x" (a frame cut short) waited for ever: a child process, so a hang fails the test
    sock, said = server
    said.append(answer)
    address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    args = ["profile", str(RECIPE), "-q", "--logs", str(LOGS), "--engine", "dask", "--scheduler", address]
    res = _run(args, tmp_path)
    assert res.returncode == 1, res.stderr
    assert len(_lines(res.stderr)) == 1 and f"cannot reach the Dask scheduler at {address}" in res.stderr, res.stderr


def test_a_refused_scheduler_fails_at_once(tmp_path: Path) -> None:
    # before: distributed retried the refused connection until its 5 s timeout
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    t0 = time.monotonic()
    result = runner.invoke(app, ["profile", str(RECIPE), "-q", "--logs", str(LOGS), "--engine", "dask",
                                 "--scheduler", f"tcp://127.0.0.1:{port}"], env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 1 and "ConnectionRefusedError" in result.output, result.output
    assert time.monotonic() - t0 < 4


@pytest.mark.parametrize("address", ["tls://127.0.0.1:1", "ucx://127.0.0.1:1"])
def test_a_scheduler_scheme_without_its_setup_is_one_line(address: str) -> None:
    # before: TypeError tracebacks (TLS without an ssl context, UCX not installed)
    result = runner.invoke(app, ["profile", str(RECIPE), "-q", "--logs", str(LOGS), "--engine", "dask",
                                 "--scheduler", address], env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 1 and f"cannot reach the Dask scheduler at {address}" in result.output, result.output


# ---- zstd logs through file:// URLs -------------------------------------------------------------


def _zstd(path: Path, data_lines: bytes, repeat: int) -> Path:
    with pa.output_stream(str(path), compression="zstd") as out:
        for _ in range(repeat):
            out.write(data_lines)
    return path


def test_a_zstd_bomb_by_url_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    # 1 MB of lines 200 times: 200 MB from a file of a few KB, past the 64 MiB bound; before: read whole
    line = gzip.decompress(LOGS.read_bytes()).split(b"\n", 1)[0] + b"\n"
    bomb = _zstd(tmp_path / "bomb.jsonl.zst", line * (2**20 // len(line)), 200)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(LogError, match="possible zstd bomb"):
        read_partitioned([f"file://{bomb}"], recipe=load_recipe(RECIPE), engine="local")


def test_a_damaged_zstd_log_on_the_dask_engine_is_one_line(tmp_path: Path) -> None:
    # before: the workers' "Compute Failed" report (8 lines) came before the error
    data = gzip.decompress(LOGS.read_bytes())
    whole = _zstd(tmp_path / "whole.jsonl.zst", data, 1)
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for logs in (str(cut), f"file://{cut}"):  # cut: its complete lines are read, an error under --strict
        res = _run(["profile", str(RECIPE), "-q", "--logs", logs, "--engine", "dask", "--strict"], tmp_path)
        assert res.returncode == 1
        (line,) = _lines(res.stderr)
        assert line.startswith(f"error: {logs}:") and "the zstd stream ends early" in line, line


# ---- Parquet columns of the wrong type, on both engines ------------------------------------------


def _with(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(column), column, values)


WRONG = {
    "latency_ms as text": ("latency_ms", lambda n: pa.array(["12.5"] * n)),
    "latency_ms as booleans": ("latency_ms", lambda n: pa.array([True] * n)),
    "latency_ms as a decimal": ("latency_ms", lambda n: pa.array([1] * n, pa.decimal128(10, 2))),
    "latency_ms as binary": ("latency_ms", lambda n: pa.array([b"\x00"] * n)),
    "start_ms as a timestamp": ("start_ms", lambda n: pa.array(np.zeros(n, "datetime64[ns]"))),
    "op as a list": ("op", lambda n: pa.array([["a", "b"]] * n)),
    "op as a struct": ("op", lambda n: pa.array([{"x": "a"}] * n)),
    "op as numbers": ("op", lambda n: pa.array(np.arange(n))),
    "request_id as a list": ("request_id", lambda n: pa.array([[1]] * n)),
    "status as a date": ("status", lambda n: pa.array(np.zeros(n, "datetime64[D]"))),
}


@pytest.mark.parametrize("case", list(WRONG))
@pytest.mark.parametrize("engine", ["local", "partitioned"])
def test_a_column_of_the_wrong_type_is_one_error_naming_it(
    tmp_path: Path, spans: pa.Table, case: str, engine: str
) -> None:
    column, values = WRONG[case]
    bad = tmp_path / "bad.parquet"
    pq.write_table(_with(spans, column, values(spans.num_rows)), bad, use_deprecated_int96_timestamps=True)
    with pytest.raises(LogError, match=f"Parquet column '{column}' is .*, not (text|a number)") as e:
        if engine == "local":
            read_logs(bad, memory_budget="off")
        else:  # the dask engine's planning and reading, run here
            read_partitioned([bad], recipe=load_recipe(RECIPE), engine="local")
    assert e.value.file == str(bad)


def test_a_span_column_given_twice_is_one_error(tmp_path: Path, spans: pa.Table) -> None:
    twice = pa.Table.from_arrays([*spans.columns, spans.column("op")], names=[*spans.column_names, "op"])
    bad = tmp_path / "twice.parquet"
    pq.write_table(twice, bad)
    for read in (lambda: read_logs(bad), lambda: read_partitioned([bad], recipe=load_recipe(RECIPE), engine="local")):
        with pytest.raises(LogError, match="Parquet column 'op' is there 2 times"):
            read()


def test_the_dask_engine_refuses_a_text_latency_in_one_line(tmp_path: Path, spans: pa.Table) -> None:
    bad = tmp_path / "bad.parquet"
    pq.write_table(_with(spans, "latency_ms", pa.array(["12.5"] * spans.num_rows)), bad)
    res = _run(["profile", str(RECIPE), "-q", "--logs", str(bad), "--engine", "dask"], tmp_path)
    assert res.returncode == 1
    assert _lines(res.stderr) == [f"error: {bad}: Parquet column 'latency_ms' is string, not a number"]


# ---- many row groups, many files ---------------------------------------------------------------


def test_ten_thousand_row_groups_are_few_batches_and_few_partitions(tmp_path: Path, spans: pa.Table) -> None:
    many = tmp_path / "many.parquet"
    pq.write_table(spans, many, row_group_size=1)
    assert pq.ParquetFile(many).metadata.num_row_groups == spans.num_rows
    batches = list(parquet.parquet_batches(many, "many"))
    assert len(batches) == 1  # before: 2,000 batches of one row
    assert (batches[0][1] == np.arange(1, spans.num_rows + 1)).all()
    parts = plan_partitions([many])
    assert len(parts) == distributed.FILE_PARTITIONS  # before: one partition (one dask task) per row group
    assert sum(p.groups for p in parts) == spans.num_rows
    assert [p.end for p in parts] == list(np.cumsum([0] + [p.groups for p in parts[:-1]]))
    assert len(distributed.tasks(parts, 64 << 20)) == 1
    # the rows read are the file's, numbered as the local engine numbers them
    recipe = load_recipe(RECIPE)
    df, rep, _ = read_partitioned([many], recipe=recipe, engine="local", memory_budget="off")
    ldf, lrep = read_logs(many, recipe=recipe, memory_budget="off")
    assert rep.spans_kept == lrep.spans_kept and sorted(df["source_line"]) == sorted(ldf["source_line"])


def test_small_partitions_share_a_dask_task() -> None:
    parts = [Partition(i, "f", "f", "jsonl", weight=w) for i, w in enumerate([300, 300, 900, 200, 100])]  # type: ignore[call-arg]
    assert [[p.index for p in t] for t in distributed.tasks(parts, 1000)] == [[0, 1], [2], [3, 4]]


@pytest.mark.parametrize("form", ["glob", "folder", "url glob", "url folder"])
def test_a_glob_or_folder_of_too_many_files_is_refused(
    tmp_path: Path, spans: pa.Table, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    monkeypatch.setattr(parquet, "MAX_LOG_FILES", 5)  # 100,000 files: 245 s and 2.6 GB before
    folder = tmp_path / "lake"
    folder.mkdir()
    for i in range(6):
        pq.write_table(spans.slice(i, 1), folder / f"p{i}.parquet")
    logs = {"glob": str(folder / "*.parquet"), "folder": str(folder),
            "url glob": f"file://{folder}/*.parquet", "url folder": f"file://{folder}"}[form]  # fmt: skip
    with pytest.raises(InputFileError, match="names 6 log files, more than the 5 recipemut reads at once"):
        if form.startswith("url"):
            plan_partitions([logs])
        else:
            parquet.expand_logs([Path(logs)])


def test_a_recursive_glob_beside_a_link_loop_ends(tmp_path: Path) -> None:
    # glob.glob(recursive=True) followed loop -> .. without end; a child process, so a hang fails the test
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("{}\n")
    (tmp_path / "logs" / "loop").symlink_to("..")
    code = (
        "from pathlib import Path; from recipemut.logs.parquet import expand_logs; "
        f"print([str(p) for p in expand_logs([Path({str(tmp_path / 'logs' / '**' / '*.jsonl')!r})])])"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str([str(tmp_path / "logs" / "a.jsonl")])


# ---- huge strings ---------------------------------------------------------------------------------


def test_a_huge_operation_name_is_not_printed_whole(tmp_path: Path, spans: pa.Table) -> None:
    # before: the warning naming the excluded operation was as long as the name (52 MB for 50 MB)
    ops = spans.column("op").to_pylist()
    ops[0] = "x" * 2_000_000
    logs = tmp_path / "huge.parquet"
    pq.write_table(_with(spans, "op", pa.array(ops)), logs)
    result = runner.invoke(app, ["profile", str(RECIPE), "-q", "--logs", str(logs)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "x" * 10_000 + "… (1,9" in result.output
    assert len(result.output) < 100_000


# ---- file:// URLs with a host --------------------------------------------------------------------


def test_a_file_url_on_localhost_is_the_local_file() -> None:
    # RFC 8089: file://localhost/x is file:///x; before: "/localhost/x: no such file"
    assert distributed.as_url(Path(f"file://localhost{LOGS}")) == f"file://{LOGS}"
    parts = plan_partitions([f"file://localhost{LOGS}"])
    assert [p.source for p in parts] == [f"file://{LOGS}"]


def test_a_file_url_naming_another_host_is_refused(tmp_path: Path) -> None:
    rest = LOGS.relative_to("/")
    host, path = rest.parts[0], Path(*rest.parts[1:])  # file://work/main/... names host "work"
    result = runner.invoke(app, ["profile", str(RECIPE), "-q", "--logs", f"file://{host}/{path}", "--engine", "dask",
                                 "--scheduler", "tcp://127.0.0.1:1"], env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 1 and "host" in result.output, result.output


# ---- a .parquet folder mixing Parquet and JSONL ---------------------------------------------------


@pytest.mark.parametrize("url", [False, True])
def test_a_jsonl_file_named_parquet_in_a_folder_is_refused_by_the_dask_engine(
    tmp_path: Path, spans: pa.Table, url: bool
) -> None:
    # the local engine said "named .parquet but is not Parquet"; the dask engine read it as JSONL
    folder = tmp_path / "lake.parquet"
    folder.mkdir()
    pq.write_table(spans, folder / "part-0.parquet")
    (folder / "part-1.parquet").write_bytes(gzip.decompress(LOGS.read_bytes())[:100_000])
    with pytest.raises(LogError, match=r"part-1.parquet: named .parquet but is not Parquet \(no PAR1 magic\)"):
        plan_partitions([f"file://{folder}" if url else folder])


def test_many_files_share_one_dictionary_of_names(
    tmp_path: Path, spans: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each file's table was given its own array of every file's name: 10,000 files, 10^8 names, 4.7 GB
    for i in range(40):
        pq.write_table(spans.slice(i * 50, 50), tmp_path / f"p{i:02d}.parquet")
    built: list[int] = []
    real = pa.array

    def counting(values: object, *args: object, **kwargs: object) -> pa.Array:
        if isinstance(values, list) and len(values) == 40 and all(isinstance(v, str) for v in values):
            built.append(len(values))
        return real(values, *args, **kwargs)

    monkeypatch.setattr(distributed.pa, "array", counting)
    df, _, _ = read_partitioned([tmp_path], recipe=load_recipe(RECIPE), engine="local", memory_budget="off")
    assert df["source_file"].nunique() == 40
    assert built == [40]


# ---- binary files and lines without end on the dask engine ------------------------------------------


@pytest.mark.parametrize("url", [False, True])
def test_a_file_of_nul_bytes_is_refused_before_it_is_cut(tmp_path: Path, url: bool) -> None:
    # the local engine refused it; the dask engine cut a 1 TB sparse file into 16,384 partitions of one
    # "line" each read to the end of the file: workers past 11 GB, restarted
    zeros = tmp_path / "zeros.jsonl"
    zeros.write_bytes(bytes(1 << 20))
    with pytest.raises(InputFileError, match=r"is not a text log \(binary data at byte 0: 0x00\)"):
        plan_partitions([f"file://{zeros}" if url else zeros], 1 << 16)


def test_a_line_without_end_is_refused_not_read_by_every_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distributed, "MAX_LINE_BYTES", 1 << 20)  # 256 MiB
    logs = tmp_path / "long.jsonl"
    first = gzip.decompress(LOGS.read_bytes()).split(b"\n", 1)[0] + b"\n"
    logs.write_bytes(first + b"a" * (3 << 20))
    with pytest.raises(LogError, match=r"a line runs on past byte .* with no line break"):
        read_partitioned([logs], recipe=load_recipe(RECIPE), engine="local", partition_bytes=1 << 18)
