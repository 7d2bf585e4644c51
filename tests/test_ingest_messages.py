"""What `profile` says, in one line with exit 1, when the log is not what recipemut can read.

Each case went wrong before: a forced --log-format that does not fit the content was called an
empty file, JSON objects of no known format got no line, a truncated OTLP line ended its message
on a dangling "at" with a column past the line's end, a zstd/bzip2/xz/lz4 log was reported as
invalid UTF-8, and a file of blank lines was called empty.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from _profile_helpers import REQUESTS, line, write_recipe
from typer.testing import CliRunner

from recipemut.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT / "tests" / "realdata"
ZIPKIN = ROOT / "recipes" / "zipkin_simple_db" / "trace.json"
JAEGER = REALDATA / "jaeger_anonymizer_trace_success.json"
OTLP = REALDATA / "otlp_proto_examples_trace.json"


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return write_recipe(tmp_path / "recipe.yaml")


def native_bytes() -> bytes:
    return "".join(line(s) + "\n" for s in REQUESTS).encode()


def one_error(recipe: Path, logs: str, *extra: str, data: bytes | None = None) -> str:
    """The run's one error line (asserting exit 1, one line on stderr, no traceback)."""
    result = runner.invoke(app, ["profile", str(recipe), "--logs", logs, *extra], input=data)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0].removeprefix("error: ")


# ---- 1. a forced --log-format that does not fit the content -----------------------------------------


def test_forced_otlp_on_native_jsonl_says_it_is_native(recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(native_bytes())
    assert one_error(recipe, str(logs), "--log-format", "otlp") == (
        f"{logs}: no OTLP spans (no resourceSpans key); the content looks like native JSONL: "
        "drop --log-format or use --log-format native"
    )


@pytest.mark.parametrize(
    ("path", "forced", "expected"),
    [
        (
            ZIPKIN,
            "jaeger",
            "no Jaeger spans (no traceID, spanID or operationName key); the content looks like Zipkin: "
            "drop --log-format or use --log-format zipkin",
        ),
        (
            JAEGER,
            "zipkin",
            "no Zipkin spans (no traceId key); the content looks like Jaeger: "
            "drop --log-format or use --log-format jaeger",
        ),
        (
            OTLP,
            "zipkin",
            "no Zipkin spans (not a JSON list of spans); the content looks like OTLP: "
            "drop --log-format or use --log-format otlp",
        ),
    ],
)
def test_forced_format_on_real_traces_of_another_format(recipe: Path, path: Path, forced: str, expected: str) -> None:
    assert one_error(recipe, str(path), "--log-format", forced) == f"{path}: {expected}"


@pytest.mark.parametrize("data", [b'{"x": 1}\n{"y": 2}\n', b"hello world\n"])
def test_forced_format_on_content_that_is_no_span_log_does_not_advise_native(recipe: Path, data: bytes) -> None:
    """JSON objects of no known format (or plain text) are read as native when auto-detected, so that the
    native reader names the line; but they do not *look like* native spans, and --log-format native fails too."""
    assert one_error(recipe, "-", "--log-format", "otlp", data=data) == (
        "<stdin>: no OTLP spans (no resourceSpans key); the content is not a trace format recipemut knows"
    )


def test_forced_format_on_piped_input_names_stdin(recipe: Path) -> None:
    assert one_error(recipe, "-", "--log-format", "jaeger", data=ZIPKIN.read_bytes()).startswith(
        "<stdin>: no Jaeger spans (no traceID, spanID or operationName key); the content looks like Zipkin"
    )


def test_forced_format_that_fits_still_reads(tmp_path: Path) -> None:
    """The check asks for the reader's own keys, so a right --log-format is never refused."""
    folder = ROOT / "recipes" / "zipkin_simple_db"
    args = ["--logs", str(ZIPKIN), "--map", str(folder / "mapping.yaml"), "--log-format", "zipkin"]
    result = runner.invoke(app, ["profile", str(folder / "recipe.yaml"), *args])
    assert result.exit_code == 0, result.output


# ---- 2. JSON objects that share no key with a span ----------------------------------------------------


def test_json_objects_of_no_known_format_name_line_1_and_the_missing_keys(recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "f.jsonl"
    logs.write_text('{"x":1}\n' * 3)
    assert one_error(recipe, str(logs)) == (
        f"{logs}:1: not a span log: all 3 non-blank lines are rejected; first problem at line 1: "
        "missing or empty required keys request_id, op, start_ms, latency_ms, status [missing-key]"
    )


def test_a_json_array_of_no_known_format_is_still_unsupported(recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "a.json"
    logs.write_text('[{"x": 1}]\n')
    assert one_error(recipe, str(logs)) == (
        f"{logs}: unsupported log format (not native JSONL spans, and no reader recognises it)"
    )


# ---- 3. a truncated OTLP line --------------------------------------------------------------------------


def otlp_lines(cut_after: str, keep: int) -> tuple[bytes, int]:
    """Five OTLP exports, one per line, the fourth cut ``keep`` characters after ``cut_after``;
    and the column (1-based) where the cut line's open string starts."""
    one = json.dumps(json.loads(OTLP.read_bytes()))
    cut = one[: one.index(cut_after) + keep]
    quote = cut.rindex('"') + 1
    return ("\n".join([one, one, one, cut, one]) + "\n").encode(), quote


def test_an_otlp_line_cut_inside_a_string_names_its_line_and_column(recipe: Path) -> None:
    data, quote = otlp_lines('"name"', 12)
    message = one_error(recipe, "-", data=data)
    assert message == f"<stdin>:4:{quote}: not valid JSON: unterminated string: line 4 ends inside it (cut short?)"


def test_an_otlp_line_cut_between_values_points_at_the_cut_line(recipe: Path, tmp_path: Path) -> None:
    data, _ = otlp_lines('"spans"', 10)  # cut right after "spans": [ so that line 5 reads as a span of line 4
    logs = tmp_path / "cut.otlp.jsonl"
    logs.write_bytes(data)
    fourth = data.split(b"\n")[3]
    last = len(data.split(b"\n")[4])
    assert one_error(recipe, str(logs)) == (
        f"{logs}:4:{len(fourth)}: not valid JSON: the JSON value on line 4 does not end on its line (cut short?); "
        f"read on, it fails at line 5 column {last}: Expecting ',' delimiter: the text ends first"
    )


def test_a_pretty_printed_document_is_not_called_cut_short(recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "pretty.json"
    logs.write_text('{\n  "resourceSpans": [\n    {"resource": {}\n    "scopeSpans": []}\n  ]\n}\n')
    assert one_error(recipe, str(logs)) == f"{logs}:4:5: not valid JSON: Expecting ',' delimiter"


def test_a_cut_native_line_names_its_column_without_a_dangling_word(recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "cut.jsonl"
    logs.write_text('{"request_id": "r1", "op": "lo\n')
    assert one_error(recipe, str(logs)) == (
        f"{logs}:1: not a span log: its one non-blank line is rejected; first problem at line 1: "
        "not valid JSON at column 28: unterminated string: the line ends inside it (cut short?) [malformed-json]"
    )


# ---- 4. compressed with something other than gzip ----------------------------------------------------


COMPRESSORS = {
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "lz4": lambda b: pa.compress(b, codec="lz4", asbytes=True),
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_log_compressed_with_another_tool_says_how_to_decompress_it(
    recipe: Path, tmp_path: Path, kind: str
) -> None:
    logs = tmp_path / f"logs.{kind}"
    logs.write_bytes(COMPRESSORS[kind](native_bytes()))
    assert one_error(recipe, str(logs)) == (
        f"{logs}: compressed with {kind}; recipemut reads plain, gzip or zstd logs: decompress it first "
        f"({kind} -dc {logs} | recipemut ... --logs -)"
    )
    assert one_error(recipe, "-", data=logs.read_bytes()) == (
        f"<stdin>: compressed with {kind}; recipemut reads plain, gzip or zstd logs: decompress it first "
        f"(... | {kind} -dc | recipemut ... --logs -)"
    )


def test_a_text_log_starting_with_bzh_is_not_taken_for_bzip2(recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_text("BZh is not a span\n")
    assert "compressed" not in one_error(recipe, str(logs))


# ---- 5. only blank lines --------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", [b"\n\n\n", b"\r\n\r\n", b"  \n\t\r\n"])
def test_a_file_of_blank_lines_is_not_called_empty(recipe: Path, tmp_path: Path, blank: bytes) -> None:
    logs = tmp_path / "blank.jsonl"
    logs.write_bytes(blank)
    assert one_error(recipe, str(logs)) == f"no spans in the logs: {logs} has only blank lines"
    assert one_error(recipe, str(logs), "--log-format", "otlp") == f"no spans in the logs: {logs} has only blank lines"
    gz = tmp_path / "blank.jsonl.gz"
    gz.write_bytes(gzip.compress(blank))
    assert one_error(recipe, str(gz)) == f"no spans in the logs: {gz} has only blank lines"


def test_an_empty_file_is_still_empty_and_several_say_each(recipe: Path, tmp_path: Path) -> None:
    empty, blank = tmp_path / "empty.jsonl", tmp_path / "blank.jsonl"
    empty.write_bytes(b"")
    blank.write_bytes(b"\r\n")
    assert one_error(recipe, str(empty)) == f"no spans in the logs: {empty} is empty"
    assert one_error(recipe, str(empty), "--logs", str(blank)) == (
        f"no spans in the logs: {empty} is empty, {blank} has only blank lines"
    )


def test_when_every_span_is_dropped_the_error_says_why(recipe: Path, tmp_path: Path) -> None:
    """A trace whose only span has no usable start time: "no spans", and which span was dropped for what."""
    doc = json.loads(OTLP.read_text())
    for rs in doc["resourceSpans"]:
        for scope in rs["scopeSpans"]:
            for span in scope["spans"]:
                span["startTimeUnixNano"] = 1e400  # no float holds it: no start time
    logs = tmp_path / "trace.json"
    logs.write_text(json.dumps(doc))
    assert one_error(recipe, str(logs)) == (
        f"no spans in the logs: {logs}: 1 span without id, start or duration (or with one negative or out of "
        "range) dropped (span #1...)"
    )


# ---- 6. a line that is JSON null ------------------------------------------------------------------------

#: runs `profile` in a child process (the JSON parser once crashed the process on these), with the
#: parse block as small as the case needs so that a null line can open a block, as in a large log
_CHILD = """
import sys
from recipemut import cli
from recipemut.logs import native
native._PARSE_BLOCK = int(sys.argv[1])
cli.main(sys.argv[2:])
"""


def _profile_child(recipe: Path, logs: Path, block: int = 1 << 24) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", _CHILD, str(block), "profile", str(recipe), "--logs", str(logs)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("data", "at"), [(b"null\n", 1), (b"\nnull\n", 2), (b" null \n", 1), (b"nullx\n", 1), (b"\r\nnull\r\n", 2)]
)
def test_a_log_of_a_null_line_is_not_a_span_log(recipe: Path, tmp_path: Path, data: bytes, at: int) -> None:
    logs = tmp_path / "null.jsonl"
    logs.write_bytes(data)
    res = _profile_child(recipe, logs)
    assert res.returncode == 1, (res.returncode, res.stderr)
    errors = [x for x in res.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {logs}:{at}: not a span log"), res.stderr
    assert "Traceback" not in res.stderr


def test_a_null_line_that_opens_a_parse_block_is_one_rejected_line(recipe: Path, tmp_path: Path) -> None:
    spans = [line(s) + "\n" for s in REQUESTS]
    logs = tmp_path / "logs.jsonl"
    logs.write_text(spans[0] + "null\n" + "".join(spans[1:]))
    res = _profile_child(recipe, logs, block=len(spans[0]) + 1)  # the first block ends before the null line
    assert res.returncode == 0, (res.returncode, res.stderr)
    assert f"{logs}:2" in res.stderr and "Traceback" not in res.stderr


def test_a_recipe_version_of_nan_is_a_rejected_line(recipe: Path, tmp_path: Path) -> None:
    """The parser takes the non-standard NaN; recipe_version NaN passed the checks, then failed the int cast."""
    spans = [line(s) for s in REQUESTS]
    bad = json.loads(spans[0])
    bad["recipe_version"] = "NAN"
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(bad).replace('"NAN"', "NaN") + "\n")
    assert one_error(recipe, str(logs)) == (
        f"{logs}:1: not a span log: its one non-blank line is rejected; first problem at line 1: "
        "recipe_version: expected an integer, got nan [wrong-type]"
    )
    logs.write_text(json.dumps(bad).replace('"NAN"', "NaN") + "\n" + "".join(s + "\n" for s in spans[1:]))
    res = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs)])
    assert res.exit_code == 0 and res.exception is None, res.exception
    assert f"{logs}:1" in res.stderr


def test_a_null_after_a_cr_inside_a_line_that_opens_a_parse_block_is_a_rejected_line(
    recipe: Path, tmp_path: Path
) -> None:
    # arrow's reader also ends lines at a lone CR: a block could open on this null though no line is `null`
    spans = [line(s) + "\n" for s in REQUESTS]
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes((spans[0].rstrip("\n") + "\rnull\r" + "".join(spans[1:])).encode())
    res = _profile_child(recipe, logs, block=len(spans[0]))  # the first block ends at the CR
    assert res.returncode == 0, (res.returncode, res.stderr)
    assert f"{logs}:1: " in res.stderr and "Traceback" not in res.stderr
