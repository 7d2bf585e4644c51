"""A new user's first hour with big logs: what was clumsy or wrong, each pinned by a test that failed before.

Progress that sat at "0 bytes" through a whole sampled read, convert and report silent for the
whole run, notes that named --memory-budget when the budget came from elsewhere, an empty sample
that asked for a larger --sample-requests the user never gave, convert's note about a request
rate its file does not keep, help that forgot zstd and convert's own default, a malformed
--scheduler reported as an unreachable one.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.files.progress import Progress
from recipemut.logs import stream
from recipemut.logs.ingest import read_logs
from recipemut.logs.sample import BUDGET_ENV
from recipemut.usecases.convert import convert_logs, convert_to_folder
from recipemut.usecases.inputs import LogSource

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOG = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # a sentence on one line: on a narrower terminal it wraps at words


class Recorder(Progress):
    """Every stage and advance the core reports, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float | None, str]] = []
        self.advances: dict[str, list[float]] = {}
        self.stage = ""

    def task(self, name: str, total: float | None = None, *, unit: str = "") -> None:
        self.events.append((name, total, unit))
        self.stage = name
        self.advances.setdefault(name, [])

    def advance(self, n: float = 1) -> None:
        self.advances[self.stage].append(n)


@pytest.fixture(autouse=True)
def _no_budget_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BUDGET_ENV, raising=False)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "CHUNK_BYTES", 1 << 20)  # the 16.8 MB checkout log in 17 chunks


# ---- progress --------------------------------------------------------------------------------------


def test_a_sampled_read_moves_the_bar_chunk_by_chunk(small_chunks: None) -> None:
    # it sat at "0 bytes/579.4 MB" for the whole read of the 2 M-span log, then jumped to the end
    progress = Recorder()
    read_logs([LOG], sample_requests=0.5, progress=progress)
    stage = "reading logs (a sample of 0.5 of requests: --sample-requests)"
    steps = progress.advances[stage]
    assert progress.events[0] == (stage, LOG.stat().st_size, "bytes")
    assert len(steps) >= 10, steps  # one per chunk, scaled from content to the gzip file's bytes
    assert sum(steps) == LOG.stat().st_size
    assert max(steps) < LOG.stat().st_size / 5


def test_a_parquet_log_moves_the_bar_batch_by_batch(tmp_path: Path) -> None:
    # a Parquet log is read in batches of 65,536 rows, yet the bar waited for the whole file
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    one = pq.read_table(convert_logs(LogSource.of(LOG, memory_budget="off"), tmp_path / "one.parquet").out)
    ids = one.column("request_id").cast(pa.string())
    at = one.schema.get_field_index("request_id")
    copies = [one.set_column(at, "request_id", pc.binary_join_element_wise(ids, str(i), "")) for i in range(3)]
    log = tmp_path / "three.parquet"
    pq.write_table(pa.concat_tables(copies), log)  # 171,306 rows: 3 batches
    for kwargs in ({"memory_budget": "off"}, {"sample_requests": 0.5}):
        progress = Recorder()
        read_logs([log], progress=progress, **kwargs)  # type: ignore[arg-type]
        steps = progress.advances[progress.stage if progress.stage.startswith("reading") else "reading logs"]
        assert len([n for n in steps if n]) >= 3, steps
        assert sum(steps) == log.stat().st_size


def test_an_unsampled_read_still_counts_each_file_once() -> None:
    progress = Recorder()
    read_logs([LOG], memory_budget="off", progress=progress)
    assert progress.advances["reading logs"] == [LOG.stat().st_size]


def test_convert_reports_its_stages(tmp_path: Path, small_chunks: None) -> None:
    # convert printed nothing for 9 s on 2 M spans (1:37 on 20 M) and had no --quiet
    progress = Recorder()
    convert_logs(LogSource.of(LOG, memory_budget="off"), tmp_path / "c.parquet", progress=progress)
    names = [e[0] for e in progress.events]
    assert names == ["reading logs", "sorting the days", "writing c.parquet"]
    assert len(progress.advances["reading logs"]) >= 10
    assert sum(progress.advances["reading logs"]) == LOG.stat().st_size
    assert progress.events[1][1] == 14 and sum(progress.advances["sorting the days"]) == 14  # 14 days


def test_the_reading_stage_says_a_sample_is_taken_while_it_is(tmp_path: Path) -> None:
    # on 20 M spans the note "sampled 0.27 of requests ... automatically" came after 78 s of reading
    progress = Recorder()
    read_logs([LOG], memory_budget="4M", progress=progress)
    assert progress.events[0][0] == "reading logs (a sample of 0.088 of requests: over the memory budget)"
    progress = Recorder()
    convert_logs(LogSource.of(LOG, memory_budget="4M"), tmp_path / "c.parquet", progress=progress)
    assert progress.events[0][0] == "reading logs (a sample of 0.088 of requests: over the memory budget)"


def test_convert_to_a_folder_reports_the_days_written(tmp_path: Path) -> None:
    progress = Recorder()
    convert_to_folder(LogSource.of(LOG, memory_budget="off"), tmp_path / "days", progress=progress)
    assert [e[0] for e in progress.events] == ["reading logs", "writing the days"]
    assert sum(progress.advances["writing the days"]) == 14


def test_convert_and_report_take_quiet(tmp_path: Path) -> None:
    # CliRunner is no terminal: TTY_COMPATIBLE=1 makes rich draw the bar as on one (tests/test_progress.py)
    for command, stage in (("convert", "writing "), ("report", "drawing the report")):
        args = [str(LOG)] if command == "convert" else [str(RECIPE), "--logs", str(LOG), "--time-budget", "1"]
        drawn = {}
        for quiet in ([], ["-q"]):
            out = tmp_path / f"{command}{len(quiet)}.{'parquet' if command == 'convert' else 'html'}"
            r = runner.invoke(app, [command, *args, "-o", str(out), *quiet, "--sample-requests", "0.2"],
                              env={**WIDE, "TTY_COMPATIBLE": "1"})  # fmt: skip
            assert r.exit_code == 0, r.output
            assert out.stat().st_size > 0
            drawn[bool(quiet)] = r.stderr
        assert "reading logs (a sample of 0.2" in drawn[False] and stage in drawn[False] and "\x1b[" in drawn[False]
        assert "reading logs" not in drawn[True] and stage not in drawn[True] and "\x1b[" not in drawn[True], command


def test_report_reports_its_stages(tmp_path: Path) -> None:
    from recipemut.plan.search import SearchSettings
    from recipemut.usecases.report import run_report

    progress = Recorder()
    source = LogSource.of(LOG, sample_requests=0.2)
    run_report(RECIPE, source, SearchSettings(time_budget_s=1.0, budget=20), out=tmp_path / "r.html", store=None,
               progress=progress)  # fmt: skip
    names = [e[0] for e in progress.events]
    reading = "reading logs (a sample of 0.2 of requests: --sample-requests)"
    for stage in ("reading the recipe", reading, "profiling", "replaying the baseline", "forecasting",
                  "drawing the report"):  # fmt: skip
        assert stage in names, names
    assert sum(progress.advances[reading]) == LOG.stat().st_size


# ---- what the notes and errors say ------------------------------------------------------------------


def _note(r: object) -> str:
    return next(line for line in r.stderr.splitlines() if line.startswith("note: sampled"))  # type: ignore[attr-defined]


def test_the_budget_note_names_where_the_budget_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["profile", str(RECIPE), "--logs", str(LOG)]
    r = runner.invoke(app, [*base, "--memory-budget", "4M"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert "over the budget of 4 MiB (--memory-budget 4M; --sample-requests 1 reads every request)" in _note(r)
    # it said "(--memory-budget; ...)" also when the budget was the environment's or the default
    r = runner.invoke(app, base, env={**WIDE, BUDGET_ENV: "4M"})
    assert r.exit_code == 0, r.output
    assert f"over the budget of 4 MiB (${BUDGET_ENV}=4M; --sample-requests 1" in _note(r)
    monkeypatch.setattr("recipemut.logs.sample.available_memory", lambda: 8 << 20)
    r = runner.invoke(app, base, env=WIDE)
    assert r.exit_code == 0, r.output
    note = _note(r)
    assert "over the budget of 4 MiB (the default: half the available memory, at most 4 GiB;" in note
    assert "--memory-budget SIZE sets another, off none" in note


def test_an_empty_sample_taken_by_the_budget_asks_for_a_larger_budget() -> None:
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(LOG), "--memory-budget", "1K"], env=WIDE)
    assert r.exit_code == 1
    line = r.stderr.strip()
    assert "\n" not in line and "Traceback" not in r.output
    assert "kept none of the 3,964 requests" in line
    assert "over the budget of 1 KiB (--memory-budget 1K" in line and line.endswith("give a larger --memory-budget")
    assert "give a larger --sample-requests" not in line  # the user gave none
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(LOG), "--sample-requests", "0.000001"], env=WIDE)
    assert r.exit_code == 1
    assert "kept none of the 3,964 requests; give a larger --sample-requests (1 reads every request)" in r.stderr


def test_a_sampled_conversion_says_the_file_holds_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    r = runner.invoke(app, ["convert", str(LOG), "-o", str(out), "--sample-requests", "0.25"], env=WIDE)
    assert r.exit_code == 0, r.output
    note = _note(r)
    assert "the request rate counts every request" not in note  # the file keeps only the sample
    assert "only the sample is written, each span's sample_rate multiplied by 0.25" in note
    assert "count each request as 4" in note
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(LOG), "--sample-requests", "0.25"], env=WIDE)
    assert "figures are computed on the sample, the request rate counts every request" in _note(r)


def test_a_gzip_log_progress_ends_at_its_size_when_its_trailer_is_wrong(tmp_path: Path, small_chunks: None) -> None:
    # two gzip members: the trailer holds the last member's size only, so the content is underestimated
    log = tmp_path / "two.jsonl.gz"
    lines = gzip.decompress(LOG.read_bytes()).splitlines(keepends=True)
    half = len(lines) // 2
    log.write_bytes(gzip.compress(b"".join(lines[:half])) + gzip.compress(b"".join(lines[half:])))
    progress = Recorder()
    _, report = read_logs([log], sample_requests=0.5, progress=progress)
    assert report.lines_read == len(lines)
    assert sum(progress.advances[progress.stage]) == log.stat().st_size  # never beyond it



# ---- help, options, JSON -------------------------------------------------------------------------------


def test_help_names_zstd_the_budget_cap_and_converts_own_default() -> None:
    r = runner.invoke(app, ["profile", "--help"], env=WIDE)
    text = " ".join(r.stdout.replace("│", " ").split())
    assert "native JSONL (plain, gzip or zstd)" in text  # it said "(plain or .gz)": zstd logs read as well
    assert "half the available memory, at most 4G" in text  # the cap of the default was not said
    # --sample-rate 0.1 taken for a sample to read scales every rate by 10, silently
    assert "Share of requests the tracer kept (default 1), for spans that carry no sample_rate; to read a sample " \
        "of the logs, use --sample-requests instead." in text
    r = runner.invoke(app, ["convert", "--help"], env=WIDE)
    text = " ".join(r.stdout.replace("│", " ").split())
    assert "Off unless given: every request is written" in text
    assert "$RECIPEMUT_MEMORY_BUDGET" not in text  # convert's default is off, whatever the environment says


@pytest.mark.parametrize("address", ["foo", "", "http://127.0.0.1:1", "127.0.0.1", "tcp://host"])
def test_a_malformed_scheduler_address_is_a_usage_error(address: str) -> None:
    # it was "cannot reach the Dask scheduler at foo within 5s (ValueError: missing port number ...)"
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(LOG), "--engine", "dask", "--scheduler", address],
                      env=WIDE)  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "is not a scheduler address: give tcp://HOST:PORT" in " ".join(r.stderr.split())
    assert "within 5s" not in r.stderr


def test_well_formed_scheduler_addresses_pass_the_check() -> None:
    from recipemut.usecases.inputs import scheduler_problem

    for address in ("tcp://10.0.0.5:8786", "10.0.0.5:8786", "tls://sched.example.org:8786", "tcp://[::1]:8786",
                    "localhost:8786", "inproc://10.0.0.5/123/1"):  # fmt: skip
        assert scheduler_problem(address) is None, address


def test_json_outputs_say_the_figures_are_a_samples() -> None:
    # profile -f json had ingest.sampling; suggest, forecast and evaluate said it on stderr only
    base = [str(RECIPE), "--logs", str(LOG), "--sample-requests", "0.5", "-f", "json"]
    want = {"fraction": 0.5, "requests_total": 3964, "automatic": False, "reason": "--sample-requests 0.5"}
    r = runner.invoke(app, ["forecast", *base], env=WIDE)
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["request_sampling"]
    assert {k: got[k] for k in want} == want and 0 < got["requests_kept"] < 3964
    r = runner.invoke(app, ["suggest", *base, "--time-budget", "1", "--budget", "10", "--store", "off"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["report"]["request_sampling"] == got
    r = runner.invoke(app, ["forecast", str(RECIPE), "--logs", str(LOG), "-f", "json", "--memory-budget", "off"],
                      env=WIDE)  # fmt: skip
    assert "request_sampling" not in json.loads(r.stdout)  # every request read: nothing added


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The checkout recipe running a 20% canary, 3,000 requests logged (about 600 canary ones)."""
    import shutil

    from recipemut.apply.transaction import apply_plan
    from recipemut.loggen import generate_spans, write_jsonl
    from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256
    from recipemut.recipe.edits import Edit
    from recipemut.recipe.loader import load_recipe

    folder = tmp_path_factory.mktemp("canary")
    path = folder / "recipe.yaml"
    shutil.copy(RECIPE, path)
    m = PlannedMutation("parallelize:price_items->score_fraud", "parallelize", ("price_items", "score_fraud"), "x",
                        (Edit("set", ("operations", "score_fraud", "after"), []),))  # fmt: skip
    apply_plan(path, Plan(PlanRecipe(str(path), recipe_sha256(path)), (m,), (m.id,)), canary=0.2)
    spans = generate_spans(load_recipe(path), 3000, seed=5, duration_s=3600, treatment={"canary": {"*": 1.5}})
    write_jsonl(spans, folder / "canary.jsonl")
    return path, folder / "canary.jsonl"


def test_a_hold_for_want_of_requests_the_sample_left_out_says_which_sample_would_do(
    canary: tuple[Path, Path],
) -> None:
    # "HOLD — not enough data: ... (123 more)" while the logs held thousands of requests: the sample was too small
    path, logs = canary
    base = ["evaluate", str(path), "--logs", str(logs), "--no-act"]
    r = runner.invoke(app, [*base, "--sample-requests", "0.1"], env=WIDE)
    assert r.exit_code == 4, r.output  # hold
    # a note, on stderr as every command's notes: stdout is the judgement (evaluate printed it there)
    hint = next(line for line in r.stderr.splitlines() if line.startswith("note: the sample of 0.1 kept"))
    assert "note:" not in r.stdout, r.stdout
    assert "of the logs' 3,000 requests: --sample-requests" in hint
    fraction = float(hint.split("--sample-requests ")[1].split()[0])
    r = runner.invoke(app, [*base, "--sample-requests", str(fraction), "-f", "json"], env=WIDE)
    data = json.loads(r.stdout)
    assert min(data["n_canary"], data["n_primary"]) >= 200 and data["decision"] != "hold"  # the hint was enough
    assert data["request_sampling"]["fraction"] == fraction and "hint" not in data["request_sampling"]
    r = runner.invoke(app, [*base, "--sample-requests", "0.1", "-f", "json"], env=WIDE)
    assert json.loads(r.stdout)["request_sampling"]["hint"] == hint.removeprefix("note: ")
    r = runner.invoke(app, [*base, "--min-requests", "5000", "--memory-budget", "off"], env=WIDE)
    assert r.exit_code == 4 and "note: the sample" not in r.output  # no sample: nothing to add
    # "--sample-requests 1 reads every request" for 5,000 of each arm, when the logs hold about 600 canary
    # requests: reading them all would hold too. The hint says what the logs hold, estimated from the sample
    whole = json.loads(runner.invoke(app, [*base, "--min-requests", "5000", "--memory-budget", "off", "-f", "json"],
                                     env=WIDE).stdout)  # fmt: skip
    r = runner.invoke(app, [*base, "--min-requests", "5000", "--sample-requests", "0.5"], env=WIDE)
    assert r.exit_code == 4, r.output
    hint = next(line for line in r.stderr.splitlines() if line.startswith("note: the sample of 0.5 kept"))
    assert ("canary requests, fewer than the 5,000 each arm needs: reading every request (--sample-requests 1) "
            "will not reach it either") in hint and "reads every request" not in hint  # fmt: skip
    about = int(hint.split("the logs hold about ")[1].split()[0].replace(",", ""))
    assert abs(about - whole["n_canary"]) <= 0.1 * whole["n_canary"]
    # a minimum the logs hold, that no sample short of every request reaches with the hint's margin
    sampled = json.loads(runner.invoke(app, [*base, "--sample-requests", "0.5", "-f", "json"], env=WIDE).stdout)
    need = int(sampled["n_canary"] / 0.5 * 0.95)
    r = runner.invoke(app, [*base, "--min-requests", str(need), "--sample-requests", "0.5"], env=WIDE)
    hint = next(line for line in r.stderr.splitlines() if line.startswith("note: the sample of 0.5 kept"))
    assert hint.endswith(" canary requests: --sample-requests 1 reads every request"), hint
    r = runner.invoke(app, [*base, "--min-requests", str(need), "--memory-budget", "off", "-f", "json"], env=WIDE)
    assert json.loads(r.stdout)["decision"] != "hold"  # and reading every request was enough


def test_convert_says_one_span_not_one_spans(tmp_path: Path) -> None:
    trace = ROOT / "tests" / "realdata" / "otlp_proto_examples_trace.json"
    r = runner.invoke(app, ["convert", str(trace), "-o", str(tmp_path / "one.parquet")], env=WIDE)
    assert r.exit_code == 0, r.output
    assert ": 1 span, " in r.stderr and "1 spans" not in r.stderr


def test_suggests_first_line_says_the_replay_ran_on_a_sample(
    monkeypatch: pytest.MonkeyPatch, canary: tuple[Path, Path]
) -> None:
    # "replayed 1,195 requests" alone: with stderr elsewhere (CI logs), nothing said they were 30% of the log
    from recipemut.predict import simulate

    base = ["suggest", str(RECIPE), "--logs", str(LOG), "--time-budget", "1", "--budget", "10", "--store", "off"]
    r = runner.invoke(app, [*base, "--sample-requests", "0.3"], env=WIDE)
    assert r.exit_code == 0, r.output
    first = r.stdout.splitlines()[0]
    assert ": replayed 1,195 requests (from a sample of 0.3: 1,195 of 3,964 requests); baseline p50" in first
    r = runner.invoke(app, [*base, "--memory-budget", "off"], env=WIDE)
    assert ": replayed 3,964 requests; baseline p50" in r.stdout.splitlines()[0]
    # fewer replayed than the sample kept, "(a sample of 0.3 of 3,964)" read as if they were the sample:
    # the control requests only, on a canary's logs
    path, logs = canary
    args = ["suggest", str(path), "--logs", str(logs), *base[4:], "--sample-requests", "0.5"]
    rep = json.loads(runner.invoke(app, [*args, "-f", "json"], env=WIDE).stdout)["report"]
    replayed, kept = rep["baseline"]["requests"], rep["request_sampling"]["requests_kept"]
    assert 0 < replayed < kept < 3000
    want = f": replayed {replayed:,} requests (from a sample of 0.5: {kept:,} of 3,000 requests); baseline"
    assert want in runner.invoke(app, args, env=WIDE).stdout.splitlines()[0]
    # ... and the capped replay (20 M spans: 200,000 replayed of the 373,861 sampled)
    monkeypatch.setattr(simulate, "SAMPLE_LIMIT", 500)
    r = runner.invoke(app, [*base, "--sample-requests", "0.3"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert ": replayed 500 requests (from a sample of 0.3: 1,195 of 3,964 requests); baseline" in r.stdout


def test_converting_into_a_folder_says_what_it_replaced_and_what_it_left(tmp_path: Path) -> None:
    # a second conversion into the same folder replaced its day files and left others without a word;
    # --logs FOLDER then read the old files beside the new ones
    folder = tmp_path / "days"
    trace = ROOT / "tests" / "realdata" / "zipkin_lens_skew.json"
    r = runner.invoke(app, ["convert", str(LOG), "-o", f"{folder}/"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert "wrote " + str(folder) + " in 14 day files: 57,102 spans" in " ".join(r.stderr.split())
    r = runner.invoke(app, ["convert", str(LOG), "-o", f"{folder}/", "-f", "json", "--force"], env=WIDE)
    data = json.loads(r.stdout)
    assert len(data["files"]) == 14 and data["replaced"] == data["files"] and data["others"] == []
    r = runner.invoke(app, ["convert", str(trace), "-o", str(folder)], env=WIDE)
    assert r.exit_code == 0, r.output
    line = " ".join(r.stderr.split())
    left = "14 other Parquet files there were left"
    assert f"wrote {folder} in 1 day file; {left} (--logs {folder} reads them too):" in line
    r = runner.invoke(app, ["convert", str(trace), "-o", str(folder), "--force"], env=WIDE)
    assert "in 1 day file, replacing 1 already there; 14 other Parquet files" in " ".join(r.stderr.split())


def test_convert_takes_its_logs_after_logs_as_every_other_command_does(tmp_path: Path) -> None:
    # "Error: No such option: --logs": every other command reads --logs/-l, convert took arguments only
    import os
    import subprocess
    import sys

    from recipemut.commands._common import spread_multi_options

    trace = str(ROOT / "tests" / "realdata" / "zipkin_lens_skew.json")
    assert spread_multi_options(["convert", "--logs", str(LOG), trace, "-o", "x.parquet", "-q"]) == [
        "convert", str(LOG), trace, "-o", "x.parquet", "-q"]  # fmt: skip
    assert spread_multi_options(["convert", "-o", "x.parquet", "-l", str(LOG)]) == ["convert", "-o", "x.parquet",
                                                                                    str(LOG)]  # fmt: skip
    assert spread_multi_options(["profile", "r.yaml", "--logs", "a", "b"]) == [
        "profile", "r.yaml", "--logs", "a", "--logs", "b"]  # fmt: skip  # others as before
    out = tmp_path / "both.parquet"
    r = subprocess.run([sys.executable, "-m", "recipemut", "convert", "--logs", str(LOG), trace, "-o", str(out)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}: 57,105 spans" in r.stderr and "(2 files:" in r.stderr


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_cut_log_is_worded_alike_read_whole_or_streamed(tmp_path: Path, kind: str) -> None:
    # whole: "not a readable zstd file (Truncated compressed stream)" (docs/log-format.md);
    # streamed (--sample-requests, the budget, convert): "not a readable file or compressed stream (...)";
    # now a cut log's complete lines are read and its cut line rejected, an error under --strict
    # (tests/test_truncated_logs.py)
    import pyarrow as pa

    data = gzip.decompress(LOG.read_bytes())
    packed = gzip.compress(data) if kind == "gzip" else pa.compress(data, "zstd", asbytes=True)
    cut = tmp_path / f"cut.jsonl.{'gz' if kind == 'gzip' else 'zst'}"
    cut.write_bytes(packed[: len(packed) // 2])
    lines = set()
    for extra in ([], ["--sample-requests", "0.5"]):
        r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(cut), "--strict", *extra], env=WIDE)
        assert r.exit_code == 1
        lines.add(r.stderr.strip())
    r = runner.invoke(app, ["convert", str(cut), "--strict", "-o", str(tmp_path / "x.parquet")], env=WIDE)
    lines.add(r.stderr.strip())
    assert len(lines) == 1, lines
    assert lines.pop().startswith(f"error: {cut}:") and f"the {kind} stream ends early" in r.stderr


def test_a_failed_conversion_into_a_new_folder_leaves_no_folder(tmp_path: Path) -> None:
    # "error: ...: no such file" (or "interrupted; nothing was written") left an empty new folder behind
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n" * 1500)
    for logs in (tmp_path / "missing.jsonl", bad):
        r = runner.invoke(app, ["convert", str(logs), "-o", f"{tmp_path}/days/"], env=WIDE)
        assert r.exit_code == 1, r.output
        assert not (tmp_path / "days").exists()
    (tmp_path / "kept").mkdir()  # a folder that was there stays, even empty
    r = runner.invoke(app, ["convert", str(bad), "-o", f"{tmp_path}/kept/"], env=WIDE)
    assert r.exit_code == 1 and (tmp_path / "kept").is_dir()


@pytest.mark.parametrize("command", ["convert-file", "convert-folder", "profile-sampled"])
def test_a_fifo_is_refused_before_it_is_opened(tmp_path: Path, command: str) -> None:
    # convert FIFO -o x.parquet hung: the format was sniffed by opening the file before it was checked
    import os
    import subprocess
    import sys

    fifo = tmp_path / "logs.fifo"
    os.mkfifo(fifo)
    args = {
        "convert-file": ["convert", str(fifo), "-o", str(tmp_path / "x.parquet")],
        "convert-folder": ["convert", str(fifo), "-o", f"{tmp_path}/days/"],
        "profile-sampled": ["profile", str(RECIPE), "--logs", str(fifo), "--sample-requests", "0.5"],
    }[command]
    r = subprocess.run([sys.executable, "-m", "recipemut", *args], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "COLUMNS": "200"}, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith(f"error: {fifo}: is a FIFO (named pipe), not a log file")
    assert len(r.stderr.strip().splitlines()) == 1


# ---- found in files another engineer owns now (recipemut/logs/distributed.py, logs/parquet.py) ----------


def test_the_partitioned_reader_names_where_the_budget_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    from recipemut.logs.distributed import read_partitioned
    from recipemut.recipe.loader import load_recipe

    monkeypatch.setenv(BUDGET_ENV, "4M")
    _, report, _ = read_partitioned([LOG], recipe=load_recipe(RECIPE), engine="local")
    assert report.sample is not None and f"${BUDGET_ENV}=4M" in report.sample.reason


def test_the_partitioned_reader_asks_for_a_larger_budget_when_the_budget_sampled_nothing() -> None:
    from recipemut.errors import LogError
    from recipemut.logs.distributed import read_partitioned
    from recipemut.recipe.loader import load_recipe

    with pytest.raises(LogError) as e:
        read_partitioned([LOG], recipe=load_recipe(RECIPE), engine="local", memory_budget="1K")
    assert "give a larger --memory-budget" in str(e.value) and "--sample-requests (or" not in str(e.value)


def test_a_folder_of_jsonl_logs_says_how_to_read_them(tmp_path: Path) -> None:
    folder = tmp_path / "days"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(gzip.decompress(LOG.read_bytes())[:100_000].rsplit(b"\n", 1)[0] + b"\n")
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(folder)], env=WIDE)
    assert r.exit_code == 1
    assert f"--logs '{folder}/*.jsonl'" in r.stderr


def test_suggests_markdown_says_the_replay_ran_on_a_sample() -> None:
    # the pull-request comment said "Replayed 1,195 recorded requests." without the sample; the terminal said it
    r = runner.invoke(app, ["suggest", str(RECIPE), "--logs", str(LOG), "--sample-requests", "0.3", "--time-budget",
                            "1", "--budget", "10", "--store", "off", "-f", "markdown"], env=WIDE)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "Replayed 1,195 recorded requests (from a sample of 0.3: 1,195 of 3,964 requests). Baseline" in r.stdout
