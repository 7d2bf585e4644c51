"""Lines and documents nested thousands of levels deep: a rejected line or one clear error, never a crash.

pyarrow's JSON reader crashed the process (SIGSEGV) on one native line of objects nested 20,000
deep, in every command that reads logs, and ``--logs -`` then left its temporary copy behind. The
nesting is now measured by a numpy scan before any parser sees a line. The commands run in a child
process, so that a crash shows as a failed test rather than killing pytest.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _profile_helpers import REQUESTS, line, write_recipe

from recipemut.logs import native
from recipemut.logs.ingest import read_logs
from recipemut.logs.lines import MAX_JSON_DEPTH, line_depths

DEEP_OBJECT = '{"a":' * 20_000 + "1" + "}" * 20_000
SPANS = "".join(line(s) + "\n" for s in REQUESTS)
ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], tmp_path: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp_path / "spool"), "RECIPEMUT_STORE": "off", "COLUMNS": "200"}
    (tmp_path / "spool").mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "recipemut", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False, env=env, cwd=ROOT)


@pytest.mark.parametrize("command", ["profile", "suggest", "forecast"])
def test_a_line_nested_20000_deep_is_one_rejected_line(tmp_path: Path, command: str) -> None:
    recipe = write_recipe(tmp_path / "recipe.yaml")
    logs = tmp_path / "logs.jsonl"
    logs.write_text(SPANS + DEEP_OBJECT + "\n")
    res = _run([command, str(recipe), "--logs", str(logs)], tmp_path)
    err = res.stderr.decode()
    assert res.returncode in (0, 1), (res.returncode, err)
    assert "Traceback" not in err
    if command == "profile":
        assert res.returncode == 0, err
        where = f"{logs}:{len(REQUESTS) + 1}"
        assert f"rejected {where}: nested more than {MAX_JSON_DEPTH} levels deep (not read) [malformed-json]" in err


def test_a_deep_line_piped_in_is_rejected_and_the_copy_removed(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "recipe.yaml")
    res = _run(["profile", str(recipe), "--logs", "-"], tmp_path, stdin=(DEEP_OBJECT + "\n" + SPANS).encode())
    err = res.stderr.decode()
    assert res.returncode == 0, (res.returncode, err)
    assert "rejected <stdin>:1: nested more than" in err
    assert list((tmp_path / "spool").iterdir()) == []


@pytest.mark.parametrize(
    "doc",
    [
        '{"resourceSpans": [' + DEEP_OBJECT + "]}",
        '{"data": [{"traceID": "a", "spans": [' + "[" * 20_000 + "]" * 20_000 + "]}]}",
        '[{"traceId": "a", "id": "b", "localEndpoint": ' + DEEP_OBJECT + "}]",
    ],
    ids=["otlp", "jaeger", "zipkin"],
)
def test_a_trace_document_nested_20000_deep_is_one_clear_error(tmp_path: Path, doc: str) -> None:
    recipe = write_recipe(tmp_path / "recipe.yaml")
    logs = tmp_path / "trace.json"
    logs.write_text(doc + "\n")
    res = _run(["profile", str(recipe), "--logs", str(logs)], tmp_path)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert "Traceback" not in err
    errors = [x for x in err.splitlines() if x.startswith("error: ")]
    assert errors == [f"error: {logs}:1: the JSON value that starts on line 1 is nested too deeply to read"]


def test_a_first_line_of_200kb_of_brackets_does_not_hide_the_spans_after_it(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_text("[" * 200_000 + "\n" + SPANS)
    df, rep = read_logs(logs)
    assert len(df) == len(REQUESTS)
    assert rep.rejected == {"malformed-json": 1} and rep.examples[0].line == 1
    assert rep.formats == {str(logs): "native"}


def test_deep_lines_are_never_handed_to_a_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = native._parse

    def parse(buf, *args, **kwargs):  # type: ignore[no-untyped-def]
        data = buf.to_pybytes() if hasattr(buf, "to_pybytes") else Path(buf).read_bytes()
        seen.append(max(line_depths(np.frombuffer(data, np.uint8), np.zeros(1, np.int64))))
        return real(buf, *args, **kwargs)

    monkeypatch.setattr(native, "_parse", parse)
    logs = tmp_path / "logs.jsonl"
    body = ['{"x": ' + "[" * n + "]" * n + "}" for n in (MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, 3000)]  # one level more
    logs.write_text(SPANS + "\n".join(body) + "\n")
    df, rep = read_logs(logs)
    assert len(df) == len(REQUESTS)
    assert dict(rep.rejected) == {"missing-key": 1, "malformed-json": 2}  # the first is read: it has no span keys
    deep = [e.line for e in rep.examples if e.reason == "malformed-json"]
    assert deep == [len(REQUESTS) + 2, len(REQUESTS) + 3]
    assert seen and max(seen) <= MAX_JSON_DEPTH


def _depth_reference(raw: bytes) -> int:
    """The deepest rise of the bracket count, brackets in strings skipped, a CR ending a string."""
    d = low = top = 0
    in_string = escaped = False
    for ch in raw:
        if ch == 13:
            in_string = escaped = False
        elif in_string:
            if escaped:
                escaped = False
            elif ch == 92:
                escaped = True
            elif ch == 34:
                in_string = False
        elif ch == 92:
            escaped = not escaped
        elif ch == 34:
            in_string, escaped = not escaped, False
        else:
            escaped = False
            d += (ch in b"{[") - (ch in b"}]")
            low = min(low, d)
            top = max(top, d - low)
    return top


@pytest.mark.parametrize("window", [1, 3, 7, 1 << 20])
def test_the_nesting_scan_agrees_with_a_byte_by_byte_reading(window: int) -> None:
    rng = random.Random(window)
    alphabet = b'{}[]"\\\\\\ab\r'
    for _ in range(300):
        rows = [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(rng.randint(1, 5))]
        buf = b"\n".join(rows)
        firsts = np.cumsum([0] + [len(r) + 1 for r in rows[:-1]]).astype(np.int64)
        got = line_depths(np.frombuffer(buf, np.uint8), firsts, window).tolist() if buf else [0] * len(rows)
        assert got == [_depth_reference(r) for r in rows], rows


def test_valid_json_gets_its_true_depth() -> None:
    doc = json.dumps({"a": [{"b": "[[[{{"}, [[1, '\\"]']]], "c": '\\\\"'})
    assert line_depths(np.frombuffer(doc.encode(), np.uint8), np.zeros(1, np.int64)).tolist() == [4]
