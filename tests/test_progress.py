"""Progress: what the core reports (stages, totals, counts) and where the CLI draws it (stderr, a terminal only)."""

from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from _apply_helpers import with_canary
from _suggest_helpers import profile_from_matrices, recipe
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.files.progress import BYTES, CANDIDATES, NO_PROGRESS, Progress
from recipemut.judge.abtest import JudgeSettings
from recipemut.logs.ingest import read_logs
from recipemut.plan.search import SearchSettings, search
from recipemut.usecases.inputs import LogSource, load_inputs

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"


class Recorder(Progress):
    """Every call, in order: ("task", name, total, unit) or ("advance", n)."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def task(self, name: str, total: float | None = None, *, unit: str = "") -> None:
        self.calls.append(("task", name, total, unit))

    def advance(self, n: float = 1) -> None:
        self.calls.append(("advance", n))

    def stages(self) -> list[tuple[str, float | None, str, float]]:
        """(name, total, unit, sum of its advances) per stage."""
        out: list[tuple[str, float | None, str, float]] = []
        for call in self.calls:
            if call[0] == "task":
                out.append((str(call[1]), call[2], str(call[3]), 0.0))  # type: ignore[arg-type]
            else:
                name, total, unit, done = out[-1]
                out[-1] = (name, total, unit, done + float(call[1]))  # type: ignore[arg-type]
        return out


def _plain_copy(tmp_path: Path, lines: int = 2000) -> Path:
    """The first ``lines`` lines of the shipped log, uncompressed."""
    with gzip.open(LOGS, "rt", encoding="utf-8") as f:
        head = [next(f) for _ in range(lines)]
    path = tmp_path / "part.jsonl"
    path.write_text("".join(head), encoding="utf-8")
    return path


def test_ingest_reports_bytes_read_adding_up_to_the_files_sizes(tmp_path: Path) -> None:
    plain = _plain_copy(tmp_path)
    rec = Recorder()
    read_logs([LOGS, plain], progress=rec)
    sizes = LOGS.stat().st_size + plain.stat().st_size
    assert rec.stages() == [("reading logs", sizes, BYTES, sizes)]
    # one count per file, never per span
    advances = [c for c in rec.calls if c[0] == "advance"]
    assert advances == [("advance", LOGS.stat().st_size), ("advance", plain.stat().st_size)]


def test_load_inputs_reports_recipe_logs_and_profile_in_order(tmp_path: Path) -> None:
    rec = Recorder()
    inputs = load_inputs(RECIPE, LogSource.of(LOGS), progress=rec)
    size = LOGS.stat().st_size
    n = len(inputs.spans)
    assert rec.stages() == [
        ("reading the recipe", None, "", 0.0),
        ("reading logs", size, BYTES, size),
        ("profiling", n, "spans", n),
    ]


def test_no_progress_is_the_default_and_shows_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    NO_PROGRESS.task("reading logs", 10, unit=BYTES)
    NO_PROGRESS.advance(10)
    assert capsys.readouterr() == ("", "")


def _shop():  # load -> score by habit only: parallelize improves it; a slow substitute for score
    r = recipe(
        [
            {"id": "load", "consumes": ["x"], "produces": ["cart"]},
            {"id": "score", "consumes": ["x"], "produces": ["risk"], "after": ["load"], "equivalence": "fraud"},
            {"id": "pay", "consumes": ["cart", "risk"], "produces": ["receipt"], "side_effects": "external"},
        ],
        outputs=("receipt",),
        alternatives=[
            {"id": "score_slow", "service": "legacy", "action": "ScoreOld", "consumes": ["x"], "produces": ["risk"],
             "equivalence": "fraud", "expected": {"latency_ms": {"p50": 400, "p95": 900}}},
        ],
    )  # fmt: skip
    rng = np.random.default_rng(0)
    n = 2000
    lat = {"load": rng.lognormal(4.0, 0.3, n), "score": rng.lognormal(3.7, 0.3, n), "pay": rng.lognormal(3.0, 0.2, n)}
    return r, profile_from_matrices(r, lat)


def test_search_reports_each_round_with_its_candidates_as_the_total() -> None:
    r, p = _shop()
    rec = Recorder()
    res = search(r, p, SearchSettings(judge=JudgeSettings(objective="latency")), progress=rec)
    stages = rec.stages()
    assert [s[0] for s in stages] == [f"search, round {i}" for i in range(1, res.rounds + 1)]
    assert all(unit == CANDIDATES and total == done for _, total, unit, done in stages)  # every candidate counted
    assert sum(total for _, total, _, _ in stages) >= res.evaluated > 0  # seen ones are skipped, still counted


def test_search_stopped_by_its_budget_counts_what_it_judged() -> None:
    r, p = _shop()
    rec = Recorder()
    res = search(r, p, SearchSettings(judge=JudgeSettings(objective="latency"), budget=1), progress=rec)
    (name, total, _, done), = rec.stages()
    assert res.budget_exhausted and name == "search, round 1" and done == 1 < (total or 0)


def test_search_with_a_beam_names_the_state_of_each_round() -> None:
    r = recipe(  # a chain of two habits (`after`): each parallelize improves, two states go on to round 2
        [
            {"id": "load", "consumes": ["x"], "produces": ["cart"]},
            {"id": "score", "consumes": ["x"], "produces": ["risk"], "after": ["load"]},
            {"id": "check", "consumes": ["x"], "produces": ["ok"], "after": ["score"]},
            {"id": "pay", "consumes": ["cart", "risk", "ok"], "produces": ["receipt"], "side_effects": "external"},
        ],
        outputs=("receipt",),
    )
    rng = np.random.default_rng(1)
    n = 2000
    lat = {op: rng.lognormal(mu, 0.3, n) for op, mu in (("load", 4.0), ("score", 3.7), ("check", 3.6), ("pay", 3.0))}
    p = profile_from_matrices(r, lat)
    rec = Recorder()
    search(r, p, SearchSettings(judge=JudgeSettings(objective="latency"), beam_width=2), progress=rec)
    names = [s[0] for s in rec.stages()]
    assert names[0] == "search, round 1"
    assert any(n.startswith("search, round 2, state 1 of ") for n in names)


def test_suggest_reports_the_whole_wall_time_beside_the_search_time() -> None:
    from recipemut.usecases.suggest import suggest

    inputs = load_inputs(RECIPE, LogSource.of(LOGS), document=True, primary_only=True)
    rec = Recorder()
    found = suggest(inputs, SearchSettings(budget=5), store=None, progress=rec, started=time.monotonic() - 100)
    s = found.report["search"]
    assert s["wall_s"] >= 100 > s["elapsed_s"]
    assert found.plan_doc["report"]["search"]["wall_s"] == s["wall_s"]  # the plan file keeps it too
    names = [n for n, *_ in rec.stages()]
    assert names[0] == "replaying the baseline" and names[1] == "search, round 1" and names[-1] == "writing the report"


# ---- the CLI: a bar on stderr, on a terminal only ------------------------------------------------

SUGGEST = ["suggest", str(RECIPE), "--logs", str(LOGS), "--budget", "20"]
STAGES = ("reading logs", "profiling", "search, round 1")


def _run(args: list[str], **env: str):
    return CliRunner().invoke(app, args, env={"COLUMNS": "200", **env})


def test_suggest_draws_its_stages_on_a_terminal_and_clears_them() -> None:
    res = _run(SUGGEST, TTY_COMPATIBLE="1", RECIPEMUT_STORE="off")
    assert res.exit_code == 0, res.output
    for stage in STAGES:
        assert stage in res.stderr
    assert "\x1b[2K" in res.stderr  # transient: the bar's lines are erased at the end
    assert not any(stage in res.stdout for stage in STAGES)  # never on stdout
    assert "s in all (search " in res.stdout  # the closing line gives the whole wall time


def test_a_warning_while_the_bar_is_drawn_goes_above_it(tmp_path: Path) -> None:
    """The bar's line is erased first: the warning never runs on from the end of it."""
    log = _plain_copy(tmp_path)
    with log.open("a", encoding="utf-8") as f:
        f.write('{"broken\n')
    res = _run(["suggest", str(RECIPE), "--logs", str(log), "--budget", "5"], TTY_COMPATIBLE="1")
    assert res.exit_code == 0, res.output
    assert re.search(r"\x1b\[2K(\x1b\[[\d;]*m)*warning:(\x1b\[[\d;]*m)* rejected", res.stderr), res.stderr[-600:]


def test_the_cores_log_lines_go_above_the_bar_too(tmp_path: Path) -> None:
    """The CLI's log handler writes to stderr: while the bar is drawn its lines go through rich."""
    import io
    import logging

    recipe_path = tmp_path / "recipe.yaml"  # an undeclared service: the loader logs a warning
    recipe_path.write_text(RECIPE.read_text(encoding="utf-8").replace("service: cart\n", "service: cartx\n", 1))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        res = _run(["suggest", str(recipe_path), "--logs", str(LOGS), "--budget", "5"], TTY_COMPATIBLE="1")
    finally:
        logging.getLogger().removeHandler(handler)
    assert res.exit_code == 0, res.output
    assert re.search(r"\x1b\[2K[^\n]*'cartx' \(used by load_cart\) is not declared", res.stderr), res.stderr[-600:]
    assert stream.getvalue() == "" and handler.stream is stream  # put back after the bar


@pytest.mark.parametrize(
    ("extra", "env"),
    [
        ([], {}),  # stderr not a terminal (a pipe, a CI log)
        (["--quiet"], {"TTY_COMPATIBLE": "1"}),
        (["-q"], {"TTY_COMPATIBLE": "1"}),
        (["--format", "json"], {"TTY_COMPATIBLE": "1"}),  # JSON to a pipe: machine use
        ([], {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}),
    ],
)
def test_suggest_draws_nothing_off_a_terminal_with_quiet_or_json_to_a_pipe(
    extra: list[str], env: dict[str, str]
) -> None:
    res = _run([*SUGGEST, *extra], **env)
    assert res.exit_code == 0, res.output
    assert not any(stage in res.stderr for stage in STAGES)
    assert "\x1b[" not in res.stderr
    if "json" in extra:
        assert json.loads(res.stdout)["planVersion"] == 1


def test_force_color_alone_does_not_draw_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI sets FORCE_COLOR for colours; redraws of a bar would fill its log."""
    from recipemut.commands._progress import progress_shown

    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not progress_shown(quiet=False)  # pytest's stderr is not a terminal


@pytest.mark.parametrize(
    ("args", "stage"),
    [
        (["profile", str(RECIPE), "--logs", str(LOGS)], "profiling"),
        (["forecast", str(RECIPE), "--logs", str(LOGS), "--charts", "0"], "forecasting"),
    ],
)
def test_profile_and_forecast_draw_progress_unless_quiet(args: list[str], stage: str) -> None:
    shown = _run(args, TTY_COMPATIBLE="1")
    assert shown.exit_code == 0, shown.output
    assert "reading logs" in shown.stderr and stage in shown.stderr
    quiet = _run([*args, "--quiet"], TTY_COMPATIBLE="1")
    assert quiet.exit_code == 0 and "reading logs" not in quiet.stderr
    assert quiet.stdout == shown.stdout


def test_evaluate_draws_progress_unless_quiet(tmp_path: Path) -> None:
    recipe_path = with_canary(RECIPE, tmp_path / "recipe.yaml")  # without one, evaluate stops before the logs
    args = ["evaluate", str(recipe_path), "--logs", str(LOGS), "--no-act"]
    shown = _run(args, TTY_COMPATIBLE="1")
    assert "reading logs" in shown.stderr
    quiet = _run([*args, "-q"], TTY_COMPATIBLE="1")
    assert "reading logs" not in quiet.stderr
    assert quiet.exit_code == shown.exit_code
