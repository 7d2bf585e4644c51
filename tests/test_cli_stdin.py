"""`--logs -`: a log piped into standard input, through typer's CliRunner, the API and the installed CLI."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from _profile_helpers import REQUESTS, line, write_lines, write_recipe, write_spans
from _telemetry_helpers import real
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.commands._common import spread_multi_options
from recipemut.errors import InputFileError, LogError
from recipemut.logs import ingest, sources

runner = CliRunner()
CLI = Path(sys.executable).with_name("recipemut")  # the installed console script

OTLP_RECIPE = """\
apiVersion: recipemut/v1
kind: Recipe
name: otlpdemo
version: 1
fields: {x: {type: string}, y: {type: string}}
inputs: [x]
outputs: [y]
services: {my.service: {}}
operations:
  - {id: serve, service: my.service, action: Serve, consumes: [x], produces: [y]}
"""
# the span's name is neither the operation's id nor its action: without the mapping nothing matches
OTLP_MAP = """\
apiVersion: recipemut/v1
kind: SpanMapping
operations:
  - {op: serve, name: "I'm a server span", service: my.service}
"""


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder temporary files go to (TMPDIR, and tempfile's cached choice), empty at first."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return write_recipe(tmp_path / "recipe.yaml")


def native_bytes(spans: list[dict[str, Any]] = REQUESTS) -> bytes:
    return "".join(line(s) + "\n" for s in spans).encode()


def profile_json(args: list[str], data: bytes) -> tuple[Any, dict[str, Any]]:
    result = runner.invoke(app, ["profile", *args, "--format", "json"], input=data)
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)


def leaks(text: str, spool: Path) -> bool:
    return str(spool) in text or "recipemut-stdin" in text


def test_native_log_on_stdin_reads_like_the_file(recipe: Path, tmp_path: Path, spool: Path) -> None:
    named = write_spans(tmp_path / "logs.jsonl", REQUESTS)
    _, from_file = profile_json([str(recipe), "--logs", str(named)], b"")
    result, piped = profile_json([str(recipe), "--logs", "-"], named.read_bytes())
    assert piped["ingest"]["files"] == ["<stdin>"]
    assert piped["ingest"]["formats"] == {"<stdin>": "native"}
    for key in ("spans_kept", "requests", "time_range", "variants", "sample_rates", "duplicates"):
        assert piped["ingest"][key] == from_file["ingest"][key], key
    assert piped["ops"] == from_file["ops"] and piped["e2e"] == from_file["e2e"]
    assert not leaks(result.output, spool)
    assert list(spool.iterdir()) == []


def test_gzip_on_stdin_is_found_by_content(recipe: Path, spool: Path) -> None:
    _, piped = profile_json([str(recipe), "--logs", "-"], gzip.compress(native_bytes()))
    assert piped["ingest"]["formats"] == {"<stdin>": "native"} and piped["ingest"]["spans_kept"] == len(REQUESTS)
    assert piped["summary"]["requests"] == 5
    assert list(spool.iterdir()) == []


def test_otlp_on_stdin_with_a_mapping(tmp_path: Path, spool: Path) -> None:
    recipe = tmp_path / "otlp.yaml"
    recipe.write_text(OTLP_RECIPE)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(OTLP_MAP)
    data = real("otlp_proto_examples_trace.json").read_bytes()
    result, piped = profile_json([str(recipe), "--logs", "-", "--map", str(mapping)], data)
    ing = piped["ingest"]
    assert ing["files"] == ["<stdin>"] and ing["formats"] == {"<stdin>": "otlp"}
    assert ing["spans_kept"] == 1 and [o["op"] for o in piped["ops"]] == ["serve"]
    assert ing["notes"] and all(n.startswith("<stdin>: ") for n in ing["notes"]), ing["notes"]
    assert not leaks(result.output, spool)
    # without the mapping the error lists the readers' notes: they name <stdin> too
    bad = runner.invoke(app, ["profile", str(recipe), "--logs", "-"], input=data)
    assert bad.exit_code == 1, bad.output
    assert "<stdin>: 1 span maps to no operation" in bad.stderr and not leaks(bad.output, spool)
    assert list(spool.iterdir()) == []


def test_an_error_from_another_format_reader_names_stdin(tmp_path: Path, spool: Path) -> None:
    recipe = tmp_path / "otlp.yaml"
    recipe.write_text(OTLP_RECIPE)
    cut = real("otlp_proto_examples_trace.json").read_bytes()[:200]  # OTLP, but its JSON stops short
    result = runner.invoke(app, ["profile", str(recipe), "--logs", "-", "--log-format", "otlp"], input=cut)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: <stdin>:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not leaks(result.output, spool)
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("stdin_first", [False, True])
def test_stdin_beside_a_named_file(recipe: Path, tmp_path: Path, spool: Path, stdin_first: bool) -> None:
    named = write_spans(tmp_path / "a.jsonl", REQUESTS[:4])  # r1
    words = ["-", str(named)] if stdin_first else [str(named), "-"]  # one --logs, several values (as main spreads)
    _, piped = profile_json(spread_multi_options([str(recipe), "--logs", *words]), native_bytes(REQUESTS[4:]))
    assert piped["ingest"]["files"] == (["<stdin>", str(named)] if stdin_first else [str(named), "<stdin>"])
    assert piped["ingest"]["formats"] == {str(named): "native", "<stdin>": "native"}
    assert piped["ingest"]["spans_kept"] == len(REQUESTS) and piped["summary"]["requests"] == 5
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("args", [["--logs", "-", "-"], ["--logs", "-", "--logs", "-"], ["-l", "-", "--logs", "-"]])
def test_stdin_twice_is_a_usage_error(recipe: Path, spool: Path, args: list[str]) -> None:
    argv = spread_multi_options(["profile", str(recipe), *args])
    result = runner.invoke(app, argv, input=native_bytes(), env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "'-' (standard input) is given more than once; it can be read once" in result.output
    assert list(spool.iterdir()) == []


def test_stdin_twice_through_the_api() -> None:
    with pytest.raises(LogError, match="more than once"):
        ingest.read_logs(["-", Path("-")])


def test_empty_stdin_says_what_an_empty_file_says(recipe: Path, tmp_path: Path, spool: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    as_file = runner.invoke(app, ["profile", str(recipe), "--logs", str(empty)])
    piped = runner.invoke(app, ["profile", str(recipe), "--logs", "-"], input=b"")
    assert as_file.exit_code == piped.exit_code == 1, piped.output
    assert as_file.stderr.strip().splitlines()[-1] == f"error: no spans in the logs: {empty} is empty"
    assert piped.stderr.strip().splitlines()[-1] == "error: no spans in the logs: <stdin> is empty"
    assert list(spool.iterdir()) == []


def test_a_malformed_line_is_named_stdin_and_its_line(recipe: Path, spool: Path) -> None:
    data = native_bytes(REQUESTS[:2]) + b'{"request_id": "r9", "op": \n' + native_bytes(REQUESTS[2:])
    result = runner.invoke(app, ["profile", str(recipe), "--logs", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert "warning: rejected <stdin>:3: " in result.stderr and "[malformed-json]" in result.stderr
    strict = runner.invoke(app, ["profile", str(recipe), "--logs", "-", "--strict"], input=data)
    assert strict.exit_code == 1, strict.output
    assert strict.stderr.splitlines()[-1].startswith("error: <stdin>:3: "), strict.stderr
    rep = runner.invoke(app, ["profile", str(recipe), "--logs", "-", "--format", "json"], input=data)
    example = json.loads(rep.stdout)["ingest"]["examples"][0]
    assert (example["file"], example["line"], example["reason"]) == ("<stdin>", 3, "malformed-json")
    assert not any(leaks(r.output, spool) for r in (result, strict, rep))
    assert list(spool.iterdir()) == []


def test_not_a_log_on_stdin_names_stdin(recipe: Path, spool: Path) -> None:
    result = runner.invoke(app, ["profile", str(recipe), "--logs", "-"], input=b"hello\nworld\n")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: <stdin>:1: not a span log"), result.stderr
    assert list(spool.iterdir()) == []


def _fake_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_source_file_column_is_stdin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spool: Path) -> None:
    named = write_spans(tmp_path / "a.jsonl", REQUESTS[:4])
    _fake_stdin(monkeypatch, native_bytes(REQUESTS[4:]))
    df, report = ingest.read_logs([named, "-"])
    assert df["source_file"].astype(str).tolist() == [str(named)] * 4 + ["<stdin>"] * (len(REQUESTS) - 4)
    assert df.loc[df["source_file"] == "<stdin>", "source_line"].tolist() == list(range(1, len(REQUESTS) - 3))
    assert report.files == (str(named), "<stdin>") and report.summary().startswith("2 files: ")
    assert list(spool.iterdir()) == []


def test_the_copy_is_in_tmpdir_while_read_and_gone_after(monkeypatch: pytest.MonkeyPatch, spool: Path) -> None:
    seen: list[Path] = []
    read = ingest._read_file

    def spy(path: Path, *args: Any, **kw: Any) -> Any:
        assert path.is_file() and path.parent.parent == spool  # a file in a folder of its own in TMPDIR
        seen.append(path)
        return read(path, *args, **kw)

    monkeypatch.setattr(ingest, "_read_file", spy)
    _fake_stdin(monkeypatch, native_bytes())
    ingest.read_logs("-")
    assert len(seen) == 1 and not seen[0].exists()
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_the_copy_is_deleted_when_reading_is_interrupted(
    monkeypatch: pytest.MonkeyPatch, spool: Path, exc: type[BaseException]
) -> None:
    def boom(path: Path, *args: Any, **kw: Any) -> Any:
        assert path.is_file()
        raise exc()

    monkeypatch.setattr(ingest, "_read_file", boom)
    _fake_stdin(monkeypatch, native_bytes())
    with pytest.raises(exc):
        ingest.read_logs(["-"])
    assert list(spool.iterdir()) == []


def test_the_copy_is_byte_for_byte(monkeypatch: pytest.MonkeyPatch, spool: Path) -> None:
    # not UTF-8 (but text: binary input is refused on its first chunk), over one copy chunk: never decoded
    data = b"".join(b'{"op": "%s"}\r\n' % bytes([b]) for b in range(32, 256)) * 1000
    _fake_stdin(monkeypatch, data)
    with sources.stdin_copy() as copy:
        assert copy.read_bytes() == data
    assert not copy.exists() and list(spool.iterdir()) == []


def test_a_terminal_is_refused_by_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.TextIOWrapper):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty(io.BytesIO(b"")))
    with pytest.raises(InputFileError, match="standard input is a terminal; pipe a log into it"):
        ingest.read_logs("-")


def test_help_mentions_stdin() -> None:
    for command in ("profile", "suggest", "forecast", "evaluate"):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "- reads standard input" in " ".join(result.output.replace("│", " ").split()), command


def _run(args: list[str], tmp: Path, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp), "RECIPEMUT_STORE": "off", "COLUMNS": "200"}
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, timeout=120, check=False, **kw)


def test_installed_cli_reads_a_pipe(recipe: Path, tmp_path: Path, spool: Path) -> None:
    logs = write_lines(tmp_path / "logs.jsonl.gz", [line(s) for s in REQUESTS], gz=True)
    with logs.open("rb") as pipe_end:
        done = _run(["profile", str(recipe), "--logs", "-", "--format", "json"], spool, stdin=pipe_end)
    assert done.returncode == 0, done.stderr.decode()
    data = json.loads(done.stdout)
    assert data["ingest"]["files"] == ["<stdin>"] and data["summary"]["requests"] == 5
    assert list(spool.iterdir()) == []


def test_installed_cli_refuses_a_terminal(recipe: Path, spool: Path) -> None:
    main, tty = os.openpty()
    try:
        done = _run(["profile", str(recipe), "--logs", "-"], spool, stdin=tty)  # would hang if it read
    finally:
        os.close(tty)
        os.close(main)
    assert done.returncode == 1, done.stderr.decode()
    assert done.stderr.decode().strip() == "error: --logs -: standard input is a terminal; pipe a log into it"
