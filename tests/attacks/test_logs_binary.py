"""Binary data, devices, FIFOs and many lines of invalid UTF-8 given as logs.

``profile --logs /dev/urandom`` ran for over a minute, ``/dev/zero`` (a file or piped in) was read
without end, a FIFO with no writer blocked, and 50,000 lines with a bad UTF-8 byte each took 30 times
as long as clean ones (a parser call per bad line, bisecting). Now a device or FIFO is refused before
it is opened, binary data on its first block, and bad lines are found in one linear pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _profile_helpers import REQUESTS, line, write_recipe
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.logs import native
from recipemut.logs.ingest import read_logs

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _profile(tmp_path: Path, logs: str, stdin: object = None) -> subprocess.CompletedProcess[bytes]:
    recipe = write_recipe(tmp_path / "recipe.yaml")
    (tmp_path / "spool").mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp_path / "spool"), "RECIPEMUT_STORE": "off"}
    cmd = [sys.executable, "-m", "recipemut", "profile", str(recipe), "--logs", logs]
    return subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=120, check=False, env=env, cwd=ROOT)


def _error(res: subprocess.CompletedProcess[bytes]) -> str:
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert "Traceback" not in err
    errors = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize("device", ["/dev/urandom", "/dev/zero"])
def test_a_device_is_refused_before_it_is_read(tmp_path: Path, device: str) -> None:
    assert _error(_profile(tmp_path, device)) == (
        f"error: {device}: is a character device, not a log file; to read a stream, pipe it into --logs - "
        "(... | recipemut ... --logs -)"
    )


def test_a_fifo_without_a_writer_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "logs.fifo"
    os.mkfifo(fifo)
    assert _error(_profile(tmp_path, str(fifo))).startswith(f"error: {fifo}: is a FIFO (named pipe), not a log file")


def test_dev_zero_piped_in_is_refused_on_its_first_block(tmp_path: Path) -> None:
    with open("/dev/zero", "rb") as zero:
        res = _profile(tmp_path, "-", stdin=zero)
    assert _error(res) == "error: <stdin>: is not a text log (binary data at byte 0: 0x00)"
    assert list((tmp_path / "spool").iterdir()) == []


def test_random_bytes_in_a_file_are_not_a_text_log(tmp_path: Path) -> None:
    data = bytes((i * 7919 + 13) % 251 + 5 for i in range(1 << 20))  # no NUL: refused by its share of non-text
    logs = tmp_path / "random.bin"
    logs.write_bytes(data)
    res = runner.invoke(app, ["profile", str(write_recipe(tmp_path / "r.yaml")), "--logs", str(logs)])
    assert res.exit_code == 1
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert f"error: {logs}: is not a text log (binary data at byte " in res.stderr


def test_a_utf16_log_says_so(tmp_path: Path) -> None:
    logs = tmp_path / "utf16.jsonl"
    logs.write_bytes("".join(line(s) + "\n" for s in REQUESTS).encode("utf-16"))
    with pytest.raises(InputFileError, match="it is UTF-16: convert it to UTF-8 first"):
        read_logs(logs)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda s: s.replace('"op":"', '"op":"\xff', 1),  # invalid UTF-8 (written latin-1 below)
        lambda s: s[:-1] + ",}",  # not JSON
        lambda s: s.replace('"latency_ms":', '"latency_ms":"1","x":', 1),  # a key of the wrong type
    ],
    ids=["bad-encoding", "malformed-json", "wrong-type"],
)
def test_many_bad_lines_cost_a_bounded_number_of_parser_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spoil: object
) -> None:
    calls = 0
    real = native._parse

    def parse(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(native, "_parse", parse)
    n = 20_000
    rows = [line({**REQUESTS[i % len(REQUESTS)], "request_id": f"q{i}"}) for i in range(n)]
    rows = [spoil(r) if i % 2 else r for i, r in enumerate(rows)]  # type: ignore[operator]
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes("".join(r + "\n" for r in rows).encode("latin-1"))
    df, rep = read_logs(logs)
    assert len(df) == n // 2 and rep.rejected_total == n // 2
    assert rep.examples[0].line == 2
    # a bounded number of calls per block read (was more than one per bad line: about 30,000 here)
    blocks = logs.stat().st_size // native.FALLBACK_BLOCK + 1
    assert calls <= 100 * blocks, (calls, blocks)
