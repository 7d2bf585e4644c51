"""A log the memory-budget estimate cannot open is the reader's one line, not a traceback."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import recipemut.logs.sample as sample
from recipemut.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_permission_denied_while_estimating_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compressed: bool
) -> None:
    """Tests run as root, whom mode 000 does not stop: the estimate's open is made to fail as it
    does for a user (an attacker's repro: chmod 000, run without CAP_DAC_OVERRIDE)."""
    log = tmp_path / ("b.jsonl.gz" if compressed else "b.jsonl")
    shipped = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
    if compressed:
        shutil.copy(shipped, log)
    else:
        log.write_bytes(gzip.decompress(shipped.read_bytes()))

    def denied(path: object) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(sample, "packed_with", denied)
    res = runner.invoke(
        app, ["profile", str(ROOT / "recipes" / "checkout" / "recipe.yaml"), "--logs", str(log), "-q"],
        env={"COLUMNS": "200", "RECIPEMUT_STORE": "off"},
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    assert f"{log}: permission denied" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
