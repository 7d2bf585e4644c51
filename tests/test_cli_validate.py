"""`recipemut validate` through typer's CliRunner, every bad input, and one real subprocess run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app

DATA = Path(__file__).parent / "data" / "recipes"
runner = CliRunner()
LINE = re.compile(r"^(?P<file>[^:]+)(:\d+(:\d+)?)?: (warning: )?.+ \[[a-z0-9-]+\]$")


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["validate", *args])


def test_valid_recipe_exits_0() -> None:
    result = run(str(DATA / "checkout.yaml"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{DATA / 'checkout.yaml'}: valid (5 operations)",
        "✓ 1 file valid (0 errors, 0 warnings)",
    ]


def test_invalid_recipe_lists_every_finding_one_per_line() -> None:
    path = DATA / "broken.yaml"
    result = run(str(path))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines == [
        f"{path}:10:11: outputs[0]: 'receipt' is never produced [output-not-produced]",
        f"{path}:12:5: cycle: load_cart -> price_items -> load_cart "
        "(load_cart -> price_items: data 'cart'; price_items -> load_cart: data 'quote') [cycle]",
        f"{path}:22:13: operations[1] (price_items): after names unknown operation 'lod_cart' "
        "(did you mean 'load_cart'?) [unknown-after]",
        f"{path}:26:12: constraints.frozen[0]: unknown operation 'charge_card' [unknown-frozen]",
        "✗ 1 of 1 file invalid (4 errors, 0 warnings)",
    ]


def test_warnings_show_but_fail_only_with_strict() -> None:
    path = str(DATA / "warnings.yaml")
    result = run(path)
    assert result.exit_code == 0, result.output
    assert f"{path}:11:5: warning: service 'cart' (used by load_cart) is not declared" in result.output
    strict = run(path, "--strict")
    assert strict.exit_code == 1, strict.output
    assert strict.output.splitlines()[-1] == "✗ 1 of 1 file invalid (0 errors, 1 warning)"


def test_several_files_one_bad() -> None:
    result = run(str(DATA / "checkout.yaml"), str(DATA / "broken.yaml"), str(DATA / "warnings.yaml"))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1] == "✗ 1 of 3 files invalid (4 errors, 1 warning)"


def test_json_output() -> None:
    result = run(str(DATA / "checkout.yaml"), str(DATA / "broken.yaml"), "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert [(f["file"], f["valid"]) for f in doc["files"]] == [
        (str(DATA / "checkout.yaml"), True),
        (str(DATA / "broken.yaml"), False),
    ]
    assert doc["files"][0]["findings"] == []
    first = doc["files"][1]["findings"][0]
    assert first == {
        "file": str(DATA / "broken.yaml"),
        "line": 10,
        "column": 11,
        "code": "output-not-produced",
        "severity": "error",
        "message": "outputs[0]: 'receipt' is never produced",
    }
    assert [f["code"] for f in doc["files"][1]["findings"]] == [
        "output-not-produced",
        "cycle",
        "unknown-after",
        "unknown-frozen",
    ]


def test_json_valid_strict() -> None:
    result = run(str(DATA / "warnings.yaml"), "--format", "json", "--strict")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and doc["files"][0]["findings"][0]["severity"] == "warning"


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 10)}]")
    return "\n".join(lines) + "\n"


BAD_INPUTS: dict[str, tuple[bytes | None, str]] = {
    "empty.yaml": (b"", "is empty; expected a recipe"),
    "list.yaml": (b"- apiVersion: recipemut/v1\n- kind: Recipe\n", "the top level is a list (2 items)"),
    "bomb.yaml": (_alias_bomb().encode(), "aliases expand to more than 10,000 values"),
    "garbage.yaml": (bytes(range(256)) * 4, "binary data, not a YAML recipe: NUL byte at offset 0"),
    "latin1.yaml": ("name: Müller\n".encode("latin-1"), "not UTF-8 text: byte 0xfc at offset 7"),
    "missing.yaml": (None, "no such file"),
    "dir.yaml": (None, "is a directory, not a recipe file"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_naming_the_file(tmp_path: Path, name: str) -> None:
    content, problem = BAD_INPUTS[name]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    elif name == "dir.yaml":
        path.mkdir()
    result = run(str(path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    finding, summary = result.output.splitlines()
    assert finding.startswith(f"{path}"), finding
    assert problem in finding
    assert LINE.match(finding), finding
    assert summary == "✗ 1 of 1 file invalid (1 error, 0 warnings)"


def test_a_50_mb_recipe_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    block = ("  - {id: op, service: s, action: A, consumes: [a], produces: [b]}\n" * 1000).encode()
    with path.open("wb") as fh:
        fh.write(b"apiVersion: recipemut/v1\nkind: Recipe\nname: huge\noperations:\n")
        while fh.tell() < 50 * 2**20:
            fh.write(block)
    result = run(str(path))
    assert result.exit_code == 1, result.output
    finding, _ = result.output.splitlines()
    assert finding == (
        f"{path}: file is 50.0 MiB, over the 5 MiB limit for a recipe (is this really a recipe?) [file-too-large]"
    )


def test_usage_errors_exit_2() -> None:
    result = run()
    assert result.exit_code == 2, result.output
    result = run(str(DATA / "checkout.yaml"), "--format", "xml")
    assert result.exit_code == 2, result.output


def test_help_teaches() -> None:
    result = run("--help")
    assert result.exit_code == 0, result.output
    assert "Example: recipemut validate" in result.output
    assert "--strict" in result.output


def _installed() -> Path:
    exe = Path(sys.executable).parent / "recipemut"
    assert exe.exists(), f"the console script is not installed next to {sys.executable}"
    return exe


def test_installed_console_script(tmp_path: Path) -> None:
    exe = _installed()
    env = {**os.environ, "NO_COLOR": "1"}
    ok = subprocess.run([exe, "validate", DATA / "checkout.yaml"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "valid (5 operations)" in ok.stdout
    bad = subprocess.run(
        [exe, "validate", DATA / "broken.yaml", tmp_path / "nope.yaml", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    doc = json.loads(bad.stdout)
    assert doc["valid"] is False
    assert doc["files"][1]["findings"][0]["code"] == "missing-file"
    assert bad.stderr == ""


def test_installed_console_script_usage_error_is_not_a_traceback() -> None:
    usage = subprocess.run([_installed(), "validate"], capture_output=True, text=True)
    assert usage.returncode == 2, usage.stdout + usage.stderr
    assert "Traceback" not in usage.stderr
    assert "Missing argument 'FILE" in usage.stderr


def test_fan_out_findings_in_text_and_json(tmp_path: Path) -> None:
    from test_recipe_fanout import DISPATCH

    bad = tmp_path / "dispatch.yaml"
    bad.write_text(
        DISPATCH.replace("foreach: driver_ids", "foreach: driver_id").replace("concurrency: 4", "concurrency: 40")
    )
    result = run(str(bad))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"{bad}:25:5: operations[1] (get_driver): foreach 'driver_id' is not a field it consumes (did you mean "
        "'driver_ids'?); add it to consumes [foreach-not-consumed]",
        f"{bad}:26:5: warning: operations[1] (get_driver): concurrency 40 is above the capacity of service 'redis' "
        "(16 = 2 replicas x 8); calls beyond it queue [concurrency-over-capacity]",
        "✗ 1 of 1 file invalid (1 error, 1 warning)",
    ]
    doc = json.loads(run(str(bad), "--format", "json").stdout)
    assert [(f["line"], f["column"], f["code"], f["severity"]) for f in doc["files"][0]["findings"]] == [
        (25, 5, "foreach-not-consumed", "error"),
        (26, 5, "concurrency-over-capacity", "warning"),
    ]
    good = tmp_path / "good.yaml"
    good.write_text(DISPATCH)
    assert run(str(good), "--strict").exit_code == 0
