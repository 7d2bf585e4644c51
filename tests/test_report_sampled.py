"""The HTML report's baseline line names the request sample it was replayed on (``--sample-requests``,
or automatic under ``--memory-budget``) in suggest's words (plan/markdown.py ``sampled_words``); an
unsampled run's line is as it was."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"  # 3,964 requests
QUICK = ["--budget", "20", "--time-budget", "5"]
runner = CliRunner()


def _baseline(tmp_path: Path, *sampling: str) -> str:
    """The page's baseline paragraph for a report run with ``sampling`` options."""
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["report", str(RECIPE), "--logs", str(LOGS), "-o", str(out), *QUICK, *sampling],
                      env={"COLUMNS": "200"})  # fmt: skip
    assert r.exit_code == 0, r.output
    found = re.findall(r"<p>(Baseline[^<]*)</p>", out.read_text(encoding="utf-8"))
    assert len(found) == 1
    return str(found[0])


def _suggest_sample(*sampling: str) -> tuple[str, dict[str, float]]:
    """What suggest's text output says after the requests replayed, and its JSON's request_sampling."""
    args = ["suggest", str(RECIPE), "--logs", str(LOGS), *QUICK, *sampling]
    text = runner.invoke(app, args, env={"COLUMNS": "400"})
    data = runner.invoke(app, [*args, "--format", "json"])
    assert text.exit_code == 0 and data.exit_code == 0, text.output
    words = re.search(r"replayed [\d,]+ requests( \(from a sample [^)]*\))", text.stdout)
    assert words is not None, text.stdout
    return words.group(1), json.loads(data.stdout)["report"]["request_sampling"]


@pytest.mark.parametrize("sampling", [("--sample-requests", "0.3"), ("--memory-budget", "4M")])
def test_a_sampled_runs_baseline_names_the_sample_as_suggest_does(tmp_path: Path, sampling: tuple[str, str]) -> None:
    words, sample = _suggest_sample(*sampling)
    kept, total = int(sample["requests_kept"]), int(sample["requests_total"])
    assert total == 3964 and 0 < kept < total and sample["automatic"] == (sampling[0] == "--memory-budget")
    line = _baseline(tmp_path, *sampling)
    assert line.startswith(f"Baseline: replayed {kept:,} requests{words}; p50 "), line
    assert f"from a sample of {sample['fraction']:.4g}: {kept:,} of {total:,} requests" in line


def test_an_unsampled_runs_baseline_is_as_it_was(tmp_path: Path) -> None:
    line = _baseline(tmp_path, "--memory-budget", "off")
    assert re.fullmatch(
        r"Baseline \(replay of 3,964 requests\): p50 [\d,.]+ ms, p95 [\d,.]+ ms, p99 [\d,.]+ ms, "
        r"cost \$[\d.]+ per request; objective balanced\.",
        line,
    ), line
