"""CLI defects a new-user pass found: what the sample rates are called, usage errors that teach, help
that points somewhere real, `profile --store`, numbers with thousands separators."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "recipes" / "checkout" / "recipe.yaml"
SHIPPED = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"  # its spans carry sample_rate 0.001
WIDE = {"COLUMNS": "200"}
runner = CliRunner()


def _run(*args: str | Path) -> tuple[int, str]:
    res = runner.invoke(app, [str(a) for a in args], env=WIDE)
    return res.exit_code, res.output


def _json(*args: str | Path) -> dict[str, Any]:
    res = runner.invoke(app, [str(a) for a in args], env=WIDE)
    assert res.exit_code == 0, res.output
    return dict(json.loads(res.stdout))


def _usage_error(args: list[str], *words: str) -> str:
    """Exit 2 (a usage error) whose message holds ``words``; no traceback. The message, in rich's box or
    after ``Error:``, returned as one line."""
    code, out = _run(*args)
    assert code == 2, out
    assert "Traceback" not in out
    message = " ".join(out.translate(str.maketrans("", "", "│╭╮╰╯─")).split())
    message = message.partition("Error ")[2] or message.partition("Error: ")[2]
    assert message, out
    for w in words:
        assert w in message, message
    return message


@pytest.fixture(scope="module")
def half_sampled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout log written by a tracer that kept half the requests (``sample_rate`` 0.5)."""
    path = tmp_path_factory.mktemp("logs") / "half.jsonl"
    write_jsonl(generate_spans(load_recipe(CHECKOUT), 1600, seed=3, sample_rate=0.5, duration_s=7200), path)
    return path


# ---- 1. the sample rates: the tracer's, this run's request sample, their product --------------------


def test_text_and_json_name_the_tracer_rate_and_the_request_sample_alike(half_sampled: Path) -> None:
    code, text = _run("profile", CHECKOUT, "--logs", half_sampled, "--sample-requests", "0.5", "-q")
    assert code == 0, text
    assert "; sample rate 0.25 (tracer 0.5 x request sample 0.5)" in " ".join(text.split())  # wrapped at words
    out = _json("profile", CHECKOUT, "--logs", half_sampled, "--sample-requests", "0.5", "-q", "-f", "json")
    ingest = out["ingest"]
    spans = ingest["spans_kept"]
    assert ingest["tracer_sample_rates"] == {"0.5": spans}
    assert ingest["request_sample"] == 0.5
    assert ingest["effective_sample_rates"] == ingest["sample_rates"] == {"0.25": spans}
    assert ingest["sample_rate"] == 1.0  # kept: the rate given to spans that carry none (--sample-rate)


def test_a_log_read_whole_says_its_rate_is_the_tracers(half_sampled: Path) -> None:
    code, text = _run("profile", CHECKOUT, "--logs", half_sampled, "-q")
    assert code == 0, text
    assert text.splitlines()[0].endswith("; tracer sample rate 0.5"), text.splitlines()[0]
    ingest = _json("profile", CHECKOUT, "--logs", SHIPPED, "-q", "-f", "json")["ingest"]
    assert ingest["tracer_sample_rates"] == ingest["effective_sample_rates"] == {"0.001": ingest["spans_kept"]}
    assert ingest["request_sample"] == 1.0


# ---- 2. and 3. usage errors: exit 2, one line that says what is wrong and what is meant --------------


def test_a_tolerance_that_is_no_number_or_no_metric_is_a_usage_error(half_sampled: Path) -> None:
    base = ["evaluate", str(CHECKOUT), "--logs", str(half_sampled), "--no-act", "-q"]
    _usage_error([*base, "-t", "latency_p95=abc"], "'--tolerance'", "latency_p95=abc", "5%")
    _usage_error([*base, "-t", "latency=0.1"], "latency=0.1", "latency_p95")
    _usage_error([*base, "--tolerance", "cost=-1%"], "cost=-1%", "at least 0")
    for endless in ("latency_p95=inf", "cost=1e400", "error_rate=inf%"):  # a canary that could never roll back
        _usage_error([*base, "-t", endless], endless, "a finite number")
    for off in ("error_rate=1", "halt_rate=100%", "halt_rate=3"):  # 100 points: a 30% error rate promoted
        _usage_error([*base, "-t", off], off, "points of", "which lets any canary pass", "1% is one point")
    code, out = _run(*base, "-t", "latency_p95=3%", "-t", "error_rate=0.01")
    assert code == 1 and "no canary is running" in out, out  # the options passed; the recipe has no canary


def test_sample_requests_takes_a_percentage_as_tolerance_does(half_sampled: Path) -> None:
    out = _json("profile", CHECKOUT, "--logs", half_sampled, "--sample-requests", "10%", "-q", "-f", "json")
    assert out["ingest"]["sampling"]["fraction"] == 0.1
    _usage_error(["profile", str(CHECKOUT), "--logs", str(half_sampled), "--sample-requests", "ten"],
                 "'ten'", "0.1 or 10%")  # fmt: skip
    line = _usage_error(["profile", str(CHECKOUT), "--logs", str(half_sampled), "--sample-requests", "150%"],
                        "150% is outside (0%, 100%]")  # fmt: skip
    assert "a percentage?" not in line  # it was one: no hint that 1.5% is 0.015


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["suggest", "--weight", "2"], ("--weight", "2 is outside 0 to 1", "latency", "cost")),
        (["forecast", "--horizon", "0"], ("--horizon", "0 is outside 1 to 365", "days to forecast")),
        (["report", "--horizon", "400", "-o", "r.html"], ("--horizon", "400 is outside 1 to 365")),
    ],
)
def test_a_value_out_of_range_is_given_back_with_its_meaning(
    args: list[str], words: tuple[str, ...], half_sampled: Path
) -> None:
    line = _usage_error([args[0], str(CHECKOUT), "--logs", str(half_sampled), *args[1:]], *words)
    assert "Input should be" not in line


def test_generate_gives_back_a_canary_share_out_of_range(tmp_path: Path) -> None:
    out = tmp_path / "g.jsonl"
    line = _usage_error(["generate", str(CHECKOUT), "-n", "10", "--canary", "1.5", "-o", str(out)],
                        "--canary", "1.5 is outside 0 to 1", "canary variant")  # fmt: skip
    assert "Input should be" not in line and not out.exists()


def test_scheduler_without_dask_and_an_empty_memory_budget_are_refused(half_sampled: Path) -> None:
    base = ["profile", str(CHECKOUT), "--logs", str(half_sampled), "-q"]
    line = _usage_error([*base, "--scheduler", "tcp://10.0.0.5:8786"], "--scheduler needs --engine dask")
    assert "Invalid value" not in line
    _usage_error([*base, "--memory-budget", ""], "--memory-budget", "'' is not a size", "off")
    _usage_error([*base, "--memory-budget", "  "], "'' is not a size")


# ---- 4. help -----------------------------------------------------------------------------------------


def test_help_points_to_docs_that_exist_and_names_values() -> None:
    code, out = _run("suggest", "-h")
    assert code == 0
    assert "README" not in out and "docs/operators.md" in out and (ROOT / "docs" / "operators.md").is_file()
    code, out = _run("profile", "-h")
    assert re.search(r"--memory-budget\s+SIZE\s", out), out
    assert re.search(r"--sample-requests\s+FRACTION\s", out), out
    assert re.search(r"--scheduler\s+ADDRESS\s", out), out
    assert "Parquet is always found by its content" in " ".join(out.split())
    assert re.search(r"recipemut profile \S+ --logs \S+ --sample-requests 10%", out), out


# ---- 5. profile --store ------------------------------------------------------------------------------


def test_profile_records_in_the_store_named_by_store_as_suggest_does(half_sampled: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    code, out = _run("profile", CHECKOUT, "--logs", half_sampled, "-q", "--store", store)
    assert code == 0, out
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM profiles").fetchone()[0] == 1
    code, out = _run("profile", CHECKOUT, "--logs", half_sampled, "-q", "--store", half_sampled)
    assert code == 1 and "is one of the logs" in out, out


def test_profile_store_off_records_nothing_even_with_the_variable_set(
    half_sampled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "env.sqlite"
    monkeypatch.setenv("RECIPEMUT_STORE", str(store))
    assert _run("profile", CHECKOUT, "--logs", half_sampled, "-q", "--store", "off")[0] == 0
    assert not store.exists()
    assert _run("profile", CHECKOUT, "--logs", half_sampled, "-q")[0] == 0
    assert store.exists()


# ---- 6. numbers ----------------------------------------------------------------------------------------


def test_counts_in_notes_and_warnings_have_separators_and_plurals(half_sampled: Path, tmp_path: Path) -> None:
    lines = half_sampled.read_text().splitlines()
    stray = json.dumps({"request_id": "x1", "recipe": "checkout", "op": "no_such_op", "start_ms": 1.7e12,
                        "latency_ms": 1.0, "status": "ok"})  # fmt: skip
    twice = tmp_path / "twice.jsonl"
    twice.write_text("\n".join([*lines, *lines, stray]) + "\n")
    code, out = _run("profile", CHECKOUT, "--logs", twice, "-q")
    assert code == 0, out
    assert f"note: {len(lines):,} duplicate" in out and len(lines) >= 1000, out
    assert "excluded 1 span of operations not in the recipe: no_such_op (1)" in out, out


def test_evaluate_shows_counts_with_separators_and_one_precision_per_column(tmp_path: Path) -> None:
    recipe = tmp_path / "checkout.yaml"
    recipe.write_text(RECIPE_TEXT)
    make_plan(recipe)
    assert _run("apply", recipe, "--plan", recipe.with_name("plan.json"), "--canary", "0.2")[0] == 0
    logs = tmp_path / "canary.jsonl"
    write_jsonl(generate_spans(load_recipe(recipe), 1500, seed=7, variants={"canary": 0.2}, duration_s=3600), logs)
    code, out = _run("evaluate", recipe, "--logs", logs, "--no-act", "-q")
    assert code in (0, 3, 4), out
    assert re.search(r"primary \(control\): \d,\d{3} requests", out), out
    rows = {line.split("│")[1].strip(): line.split("│")[2:4] for line in out.splitlines() if line.count("│") > 5}
    for metric in ("latency_p50", "latency_p95"):
        assert all(re.fullmatch(r"\s*[\d,]+\.\d ms\s*", cell) for cell in rows[metric]), rows[metric]
    assert all(re.fullmatch(r"\s*\$\d\.\d{6}\s*", cell) for cell in rows["cost"]), rows["cost"]


def test_a_datapipe_sentence_writes_bytes_with_separators() -> None:
    code, out = _run("suggest", CHECKOUT, "--logs", SHIPPED, "-q", "-O", "datapipe", "--top", "3")
    assert code in (0, 2), out
    changes = re.findall(r"handle by ([+-][\d,]+) bytes per request", " ".join(out.split()))
    assert changes, out
    assert all(re.fullmatch(r"[+-]\d{1,3}(,\d{3})*", c) for c in changes), changes
