"""The SQLite profile store: schema, migrations, concurrent writers, operator statistics."""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from recipemut.learn import records as R
from recipemut.learn import store as S
from recipemut.learn.schema import MIGRATIONS, SCHEMA_VERSION
from recipemut.learn.store import Store, StoreError, SuggestionRecord

WHERE = {"recipe": "shop", "version": 3, "sha256": "f" * 64}


def test_new_store_has_the_current_schema(tmp_path: Path) -> None:
    p = tmp_path / ".recipemut" / "s.sqlite"  # the store's own folder is made; no other (test_files_out)
    with Store.open(p) as s:
        assert s.schema_version == SCHEMA_VERSION == 3
        assert s.counts() == {"recipe_versions": 0, "profiles": 0, "suggestions": 0, "observations": 0}
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_stats_per_operator(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as s:
        s.record_suggestions(
            [
                SuggestionRecord("cache:load", "cache", "improves", predicted_delta=-20.0, predicted_ci=(-30.0, -10.0),
                                 baseline=200.0, kind="cart"),
                SuggestionRecord("cache:price", "cache", "no significant difference", predicted_delta=-1.0,
                                 predicted_ci=(-5.0, 3.0), baseline=200.0),
                SuggestionRecord("reorder:a-b", "reorder", "improves", predicted_delta=-10.0,
                                 predicted_ci=(-12.0, -8.0), baseline=200.0),
            ],
            **WHERE,
        )  # fmt: skip
        # observed inside the interval, prediction pulled from the suggestion
        s.record_observation(**WHERE, mutation_id="cache:load", operator="cache", outcome="promoted",
                             observed_delta=-24.0, observed_ci=(-28.0, -20.0))  # fmt: skip
        # observed outside it
        s.record_observation(**WHERE, mutation_id="reorder:a-b", operator="reorder", outcome="rolled_back",
                             observed_delta=6.0)  # fmt: skip
        stats = {o.operator: o for o in s.operator_stats()}
        row = s.db.execute("SELECT kind, baseline, predicted_gain FROM observations WHERE operator='cache'").fetchone()
    assert row == ("cart", 200.0, pytest.approx(0.1))
    c, r = stats["cache"], stats["reorder"]
    assert (c.suggested, c.simulated_improves, c.observed, c.promoted, c.rolled_back) == (2, 1, 1, 1, 0)
    assert c.mean_predicted_gain == pytest.approx((0.1 + 0.005) / 2)
    assert c.mean_observed_gain == pytest.approx(0.12)
    assert c.prediction_error == pytest.approx(0.02)
    assert c.calibration == 1.0 and c.calibrated_n == 1
    assert (r.promoted, r.rolled_back, r.calibration) == (0, 1, 0.0)
    assert r.mean_observed_gain == pytest.approx(-0.03)
    assert r.prediction_error == pytest.approx(0.08)
    assert json.loads(json.dumps(c.to_dict()))["operator"] == "cache"


def test_stats_filter_by_recipe_and_profiles_kept(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as s:
        s.record_suggestion(**WHERE, mutation_id="m", operator="cache", verdict="improves")
        s.record_suggestion(recipe="other", version=1, sha256="a", mutation_id="m", operator="hedge", verdict="x")
        s.record_profile(**WHERE, summary={"requests": 10})
        s.record_profile(**WHERE, summary={"requests": 12})
        assert [o.operator for o in s.operator_stats(recipe="shop")] == ["cache"]
        assert [o.operator for o in s.operator_stats()] == ["cache", "hedge"]
        assert s.counts()["profiles"] == 2 and s.counts()["recipe_versions"] == 2


def test_bad_outcome_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite") as s, pytest.raises(StoreError, match="outcome must be one of"):
        s.record_observation(**WHERE, mutation_id="m", operator="cache", outcome="great")


# ---- concurrency ------------------------------------------------------------------------------


def _writer(path: str, worker: int, n: int) -> None:
    for i in range(n):
        with Store.open(path, busy_timeout_s=60) as s:
            if i % 2:
                s.record_suggestion(**WHERE, mutation_id=f"w{worker}-{i}", operator="cache", verdict="improves",
                                    predicted_delta=-1.0, baseline=10.0)  # fmt: skip
            else:
                s.record_observation(**WHERE, mutation_id=f"w{worker}-{i}", operator="reorder",
                                     outcome="promoted", observed_delta=-1.0, baseline=10.0)  # fmt: skip


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    p = str(tmp_path / "s.sqlite")
    workers, n = 6, 40
    ctx = mp.get_context("spawn")  # fresh interpreters: separate connections, as separate CI jobs have
    procs = [ctx.Process(target=_writer, args=(p, w, n)) for w in range(workers)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(120)
    assert [pr.exitcode for pr in procs] == [0] * workers
    with Store.open(p) as s:
        got = {r[0] for r in s.db.execute("SELECT mutation_id FROM suggestions UNION ALL "
                                          "SELECT mutation_id FROM observations")}  # fmt: skip
        assert s.counts()["suggestions"] + s.counts()["observations"] == workers * n
        assert s.counts()["recipe_versions"] == 1  # the version row was created once, not per writer
    assert got == {f"w{w}-{i}" for w in range(workers) for i in range(n)}
    assert sqlite3.connect(p).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---- migrations -------------------------------------------------------------------------------


def _v1_store(p: Path) -> None:
    db = sqlite3.connect(p, isolation_level=None)
    db.execute("BEGIN")
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO recipe_versions (recipe, version, sha256, first_seen, profile_json) "
               "VALUES ('shop', 3, 'abc', '2026-01-01T00:00:00Z', '{\"requests\": 5}')")  # fmt: skip
    db.execute("INSERT INTO suggestions (recipe_version_id, run_id, recorded_at, mutation_id, operator, metric, "
               "verdict) VALUES (1, 'r', '2026-01-01T00:00:00Z', 'cache:x', 'cache', 'latency_p95_ms', "
               "'improves')")  # fmt: skip
    db.execute("COMMIT")
    db.close()


def test_migrations_apply_to_an_old_version_store(tmp_path: Path) -> None:
    p = tmp_path / "old.sqlite"
    _v1_store(p)
    with Store.open(p) as s:
        assert s.schema_version == SCHEMA_VERSION
        # the v1 profile summary moved into the profiles table; the v1 suggestion is still there
        assert s.db.execute("SELECT summary_json FROM profiles").fetchall() == [('{"requests": 5}',)]
        cols = [r[1] for r in s.db.execute("PRAGMA table_info(recipe_versions)")]
        assert "profile_json" not in cols
        assert [o.suggested for o in s.operator_stats()] == [1]
        s.record_profile(recipe="shop", version=3, sha256="abc", summary={"requests": 6})
        assert s.counts() == {"recipe_versions": 1, "profiles": 2, "suggestions": 1, "observations": 0}


def test_rerunning_suggest_on_the_same_recipe_does_not_inflate_the_evidence(tmp_path: Path) -> None:
    recs = [
        SuggestionRecord("cache:load", "cache", "improves", predicted_delta=-20.0, baseline=200.0, kind="cart"),
        SuggestionRecord("reorder:a-b", "reorder", "no significant difference", predicted_delta=-1.0, baseline=200.0),
        SuggestionRecord("hedge:x", "hedge", "rejected"),
    ]
    with Store.open(tmp_path / "s.sqlite") as s:
        s.record_suggestions(recs, **WHERE)
        once = sorted((e.operator, e.success) for e in s.evidence())
        stats_once = [(o.operator, o.suggested, o.simulated_improves) for o in s.operator_stats()]
        s.record_suggestions(recs, **WHERE)  # the same recipe, suggested again
        s.record_suggestions(recs, **WHERE)
        assert sorted((e.operator, e.success) for e in s.evidence()) == once == [("cache", 1.0), ("reorder", 0.0)]
        assert [(o.operator, o.suggested, o.simulated_improves) for o in s.operator_stats()] == stats_once
        assert s.counts()["suggestions"] == 3
        # the latest run's prediction is the one kept (and the one evaluate falls back on)
        s.record_suggestion(**WHERE, mutation_id="cache:load", operator="cache", verdict="regresses",
                            predicted_delta=5.0, baseline=200.0)  # fmt: skip
        assert s.db.execute("SELECT verdict, predicted_delta FROM suggestions WHERE mutation_id = 'cache:load'"
                            ).fetchall() == [("regresses", 5.0)]  # fmt: skip
        assert ("cache", 0.0) in [(e.operator, e.success) for e in s.evidence()]
        # another objective of the same run keeps its own prediction, but is one piece of evidence
        s.record_suggestion(**WHERE, mutation_id="cache:load", operator="cache", verdict="improves",
                            metric="headroom", predicted_delta=-0.1, baseline=1.0)  # fmt: skip
        assert s.counts()["suggestions"] == 4
        assert [(e.operator, e.success) for e in s.evidence() if e.operator == "cache"] == [("cache", 1.0)]
        assert next(o for o in s.operator_stats() if o.operator == "cache").suggested == 1
        # a new recipe version is new evidence
        s.record_suggestions(recs, **{**WHERE, "version": 4, "sha256": "e" * 64})
        assert len(s.evidence()) == 4


def test_a_candidate_too_few_requests_could_judge_is_no_evidence_against_its_operator(tmp_path: Path) -> None:
    from recipemut.judge.stats import TOO_FEW
    from recipemut.learn.bandit import Bandit

    judged = SuggestionRecord("cache:load", "cache", "improves", predicted_delta=-20.0, baseline=200.0)
    with Store.open(tmp_path / "s.sqlite") as s:
        s.record_suggestions([judged], **WHERE)
        before = Bandit.from_evidence(s.evidence()).posterior_mean("cache")
        # a trace of one request: no interval, no verdict (it counted as a failure, as a regression does)
        s.record_suggestions([SuggestionRecord("cache:other", "cache", TOO_FEW),
                              SuggestionRecord("hedge:x", "hedge", TOO_FEW)], **{**WHERE, "version": 4})  # fmt: skip
        assert [(e.operator, e.success) for e in s.evidence()] == [("cache", 1.0)]
        assert Bandit.from_evidence(s.evidence()).posterior_mean("cache") == before
        s.record_suggestions([SuggestionRecord("hedge:y", "hedge", "regresses")], **WHERE)  # a verdict still counts
        assert ("hedge", 0.0) in [(e.operator, e.success) for e in s.evidence()]
    assert TOO_FEW in S.NO_EVIDENCE  # the store spells the judge's verdict without importing the statistics


def test_migration_to_v3_collapses_duplicate_suggestions(tmp_path: Path) -> None:
    p = tmp_path / "v2.sqlite"
    db = sqlite3.connect(p, isolation_level=None)
    db.execute("BEGIN")
    MIGRATIONS[0](db)
    MIGRATIONS[1](db)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO recipe_versions (recipe, version, sha256, first_seen) VALUES ('shop', 3, 'abc', 't')")
    for run, verdict in (("r1", "regresses"), ("r2", "improves"), ("r3", "improves")):
        db.execute("INSERT INTO suggestions (recipe_version_id, run_id, recorded_at, mutation_id, operator, metric, "
                   "verdict) VALUES (1, ?, 't', 'cache:x', 'cache', 'latency_p95_ms', ?)", (run, verdict))  # fmt: skip
    db.execute("COMMIT")
    db.close()
    with Store.open(p) as s:
        assert s.schema_version == 3
        assert s.db.execute("SELECT run_id, verdict FROM suggestions").fetchall() == [("r3", "improves")]
        assert [(e.operator, e.success) for e in s.evidence()] == [("cache", 1.0)]


def _opener(path: str) -> None:
    with Store.open(path, busy_timeout_s=60) as s:
        assert s.schema_version == SCHEMA_VERSION


def test_several_processes_migrating_at_once_migrate_once(tmp_path: Path) -> None:
    p = tmp_path / "old.sqlite"
    _v1_store(p)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_opener, args=(str(p),)) for _ in range(4)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(120)
    assert [pr.exitcode for pr in procs] == [0] * 4
    with Store.open(p) as s:
        assert s.counts()["profiles"] == 1  # copied once


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "new.sqlite"
    Store.open(p).close()
    sqlite3.connect(p).execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer than this recipemut") as e:
        Store.open(p)
    assert e.value.file == str(p)


def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    p = tmp_path / "junk.sqlite"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable recipemut store") as e:
        Store.open(p)
    assert str(p) in str(e.value)
    with pytest.raises(StoreError, match="is a directory"):
        Store.open(tmp_path)


# ---- location and the one-call helpers --------------------------------------------------------


def test_location_env_and_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECIPEMUT_STORE", raising=False)
    assert S.default_path() == tmp_path / ".recipemut" / "store.sqlite"
    monkeypatch.setenv("RECIPEMUT_STORE", "off")
    assert R.record_suggestion(**WHERE, mutation_id="m", operator="cache", verdict="improves") is None
    assert not (tmp_path / ".recipemut").exists()
    monkeypatch.setenv("RECIPEMUT_STORE", str(tmp_path / "ci.sqlite"))
    assert R.record_suggestion(**WHERE, mutation_id="m", operator="cache", verdict="improves")
    assert R.record_observation(**WHERE, mutation_id="m", operator="cache", outcome="held") is not None
    assert R.record_profile(**WHERE, summary={"n": 1}) is not None
    assert R.record_suggestions([SuggestionRecord("m2", "hedge", "improves")], **WHERE)
    with Store.open(tmp_path / "ci.sqlite") as s:
        assert s.counts() == {"recipe_versions": 1, "profiles": 1, "suggestions": 2, "observations": 1}


# ---- recipemut stats --------------------------------------------------------------------------


def _populated(p: Path) -> None:
    with Store.open(p) as s:
        s.record_suggestions(
            [SuggestionRecord(f"cache:{i}", "cache", "improves", predicted_delta=-10.0, predicted_ci=(-14.0, -6.0),
                              baseline=100.0) for i in range(3)]
            + [SuggestionRecord("reorder:a", "reorder", "no significant difference", predicted_delta=0.0,
                                baseline=100.0)],
            **WHERE,
        )  # fmt: skip
        s.record_observation(**WHERE, mutation_id="cache:0", operator="cache", outcome="promoted", observed_delta=-12.0)
        s.record_observation(**WHERE, mutation_id="cache:1", operator="cache", outcome="promoted", observed_delta=-2.0)


def test_stats_command_json_and_text(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from recipemut.cli import app

    p = tmp_path / "s.sqlite"
    _populated(p)
    runner = CliRunner()
    res = runner.invoke(app, ["stats", "--store", str(p), "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["counts"]["suggestions"] == 4 and data["counts"]["observations"] == 2
    cache = next(o for o in data["operators"] if o["operator"] == "cache")
    assert (cache["suggested"], cache["promoted"], cache["rolled_back"]) == (3, 2, 0)
    assert cache["mean_observed_gain"] == pytest.approx(0.07)
    assert cache["prediction_error"] == pytest.approx((0.02 + 0.08) / 2)
    assert cache["calibration"] == 0.5 and cache["calibrated_n"] == 2  # -12 inside [-14, -6], -2 outside
    assert cache["bandit"]["posterior_mean"] > next(o for o in data["operators"] if o["operator"] == "reorder")[
        "bandit"]["posterior_mean"]  # fmt: skip
    assert sum(o["bandit"]["next_pick_probability"] for o in data["operators"]) == pytest.approx(1.0, abs=1e-3)
    res = runner.invoke(app, ["stats", "--store", str(p)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("cache "))
    assert "+7.0%" in line and "50% of 2" in line
    res = runner.invoke(app, ["stats", "--store", str(p), "--recipe", "nope", "--format", "json"])
    assert res.exit_code == 1 and "--recipe 'nope': no such recipe in the store" in res.output  # not an empty table


def test_stats_fits_80_columns_with_whole_operator_names(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from recipemut.cli import app
    from recipemut.mutate.operators import REGISTRY

    p = tmp_path / "s.sqlite"
    with Store.open(p) as s:
        s.record_suggestions([SuggestionRecord(f"{op}:{i}", op, "improves", predicted_delta=-10.0,
                                               predicted_ci=(-14.0, -6.0), baseline=100.0)
                              for op in REGISTRY for i in range(120)], **WHERE)  # fmt: skip
        for i in range(110):  # one canary per mutation: 110 rows, and the widest cells
            s.record_observation(**WHERE, mutation_id=f"parallelize:{i}", operator="parallelize",
                                 outcome="promoted", observed_delta=-120.0, canary=f"c{i}")  # fmt: skip
        s.record_observation(**WHERE, mutation_id="datapipe:0", operator="datapipe", outcome="rolled_back",
                             observed_delta=12.0)  # fmt: skip
    for columns in ("80", "120"):
        res = CliRunner().invoke(app, ["stats", "--store", str(p)], env={"COLUMNS": columns})
        assert res.exit_code == 0, res.output
        lines = res.output.splitlines()
        simulated = 120 * len(REGISTRY)
        said = " ".join(res.output.split("\n\n")[0].split())  # the first sentence, wrapped at words at 80
        assert max(len(line) for line in lines) <= int(columns), res.output  # never broken by the terminal
        assert f"{simulated:,} simulated mutations, 111 observed effects (one per mutation per canary)" in said, said
        rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in REGISTRY}
        assert set(rows) == set(REGISTRY)  # every name whole, one line each
        assert "…" not in res.output
        head = next(line for line in lines if line.startswith("operator "))
        assert all(len(line.rstrip()) <= 80 for line in [head, *rows.values()])
        assert rows["parallelize"].split()[1:6] == ["120", "120", "110", "0", "0"]


def test_stats_command_without_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from recipemut.cli import app

    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECIPEMUT_STORE", raising=False)
    res = runner.invoke(app, ["stats"])
    assert res.exit_code == 0, res.output
    assert "nothing learned yet" in res.output and not (tmp_path / ".recipemut").exists()
    monkeypatch.setenv("RECIPEMUT_STORE", "off")
    res = runner.invoke(app, ["stats"])
    assert res.exit_code == 1 and "disabled" in res.output
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\0garbage" * 200)
    res = runner.invoke(app, ["stats", "--store", str(junk)])
    assert res.exit_code == 1, res.output
    assert "junk.sqlite" in res.output and "Traceback" not in res.output


def test_suggestion_records_from_search_candidates(tmp_path: Path) -> None:
    from collections import namedtuple

    from recipemut.judge.stats import Interval

    Mut = namedtuple("Mut", "id operator targets")
    Ev = namedtuple("Ev", "verdict predicted baseline")
    Cand = namedtuple("Cand", "mutation round status reasons evaluation")
    good = Cand(
        Mut("cache:f", "cache", ("f",)),
        1,
        "accepted",
        (),
        Ev("improves", {"latency_p95_ms": Interval(-20.0, -25.0, -15.0)}, {"latency_p95_ms": 200.0}),
    )
    bad = Cand(Mut("reorder:a-b", "reorder", ("a", "b")), 1, "rejected", ("structure: cycle",), None)
    recs = R.suggestion_records([good, bad, good], kind_of=lambda m: "svc")  # fmt: skip
    assert [r.mutation_id for r in recs] == ["cache:f", "reorder:a-b"]
    assert recs[0].predicted_delta == -20.0 and recs[0].predicted_ci == (-25.0, -15.0) and recs[0].baseline == 200.0
    assert recs[1].verdict == "rejected" and recs[1].predicted_delta is None and recs[1].kind == "svc"
    with Store.open(tmp_path / "s.sqlite") as s:
        s.record_suggestions(recs, **WHERE)
        (c,) = [o for o in s.operator_stats() if o.operator == "cache"]
        assert c.mean_predicted_gain == pytest.approx(0.1)
        # rejected candidates are no evidence for the bandit
        assert [(e.operator, e.success) for e in s.evidence()] == [("cache", 1.0)]


# ---- recipemut profile keeps each recipe version's profile summary ----------------------------


def test_profile_records_its_summary_and_stats_lists_the_versions(tmp_path: Path) -> None:
    import yaml
    from _forecast_helpers import two_service_doc, two_service_recipe
    from typer.testing import CliRunner

    from recipemut import loggen
    from recipemut.cli import app
    from recipemut.recipe.model import recipe_from_dict

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(two_service_doc(), sort_keys=False))
    log = tmp_path / "a.jsonl"
    loggen.write_jsonl(loggen.generate_spans(two_service_recipe(), n_requests=300, seed=1, duration_s=3600.0), log)
    store = tmp_path / "store.sqlite"
    runner = CliRunner()
    on = {"RECIPEMUT_STORE": str(store), "COLUMNS": "80"}
    res = runner.invoke(app, ["profile", str(recipe), "--logs", str(log)], env=on)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["profile", str(recipe), "--logs", str(log), "--format", "json"], env=on)
    assert res.exit_code == 0, res.output
    json.loads(res.stdout)  # the JSON stays data only
    with Store.open(store) as s:
        (v,) = s.profiled_versions()
    assert (v.recipe, v.version, v.profiles) == ("shop", 3, 1)  # the same logs twice: kept once
    summ = v.last_summary
    assert summ["requests"] == 300 and set(summ["ops"]) == {"load", "price"}
    assert summ["ops"]["load"]["count"] == 300 and summ["ops"]["load"]["p95_ms"] > summ["ops"]["load"]["p50_ms"]
    assert set(summ["busy_ms_per_service"]) == {"cart", "pricing"} and summ["e2e_ms"]["p95"] > 0
    # a new version of the recipe, profiled on its own logs, is a new row (its old logs stay version 3's)
    recipe.write_text(yaml.safe_dump({**two_service_doc(), "version": 4}, sort_keys=False))
    new_log = tmp_path / "b.jsonl"
    new_spans = loggen.generate_spans(recipe_from_dict({**two_service_doc(), "version": 4}), n_requests=300, seed=1,
                                      duration_s=3600.0)  # fmt: skip
    loggen.write_jsonl(new_spans, new_log)
    assert runner.invoke(app, ["profile", str(recipe), "--logs", str(new_log)], env=on).exit_code == 0
    res = runner.invoke(app, ["stats", "--store", str(store), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["profiled_versions"]
    assert [(r["recipe"], r["version"], r["profiles"]) for r in rows] == [("shop", 3, 1), ("shop", 4, 1)]
    res = runner.invoke(app, ["stats", "--store", str(store)], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "profiled recipe versions" in res.output
    assert [line.split()[:2] for line in res.output.splitlines() if line.startswith("shop ")] == [
        ["shop", "3"], ["shop", "4"]]  # fmt: skip


def test_profile_store_off_or_unusable(tmp_path: Path) -> None:
    import yaml
    from _forecast_helpers import two_service_doc, two_service_recipe
    from typer.testing import CliRunner

    from recipemut import loggen
    from recipemut.cli import app

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(two_service_doc(), sort_keys=False))
    log = tmp_path / "a.jsonl"
    loggen.write_jsonl(loggen.generate_spans(two_service_recipe(), n_requests=50, seed=2, duration_s=600.0), log)
    runner = CliRunner()
    res = runner.invoke(app, ["profile", str(recipe), "--logs", str(log)], env={"RECIPEMUT_STORE": "off"})
    assert res.exit_code == 0, res.output
    assert "profile store" not in res.output
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"\0garbage" * 200)
    res = runner.invoke(app, ["profile", str(recipe), "--logs", str(log), "--format", "json"],
                        env={"RECIPEMUT_STORE": str(bad)})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "warning:" in res.stderr and "not recorded in the profile store" in res.stderr
    assert json.loads(res.stdout)["summary"]["requests"] == 50


def test_profile_summary_counts_every_call(tmp_path: Path) -> None:
    from _forecast_helpers import two_service_recipe
    from test_forecast import fanout_lines, fanout_profile

    # 13 calls of 15 ms per request, 4 in flight: a 63 ms window, 195 ms of calls
    summ = R.profile_summary(fanout_profile(fanout_lines(3, 13, 15.0, in_flight=4), tmp_path), two_service_recipe())
    assert summ["busy_ms_per_service"] == {"cart": 10.0, "pricing": 195.0}
    assert summ["ops"]["price"] | {"p50_ms": None, "p95_ms": None, "mean_ms": None} == {
        "count": 3, "calls": 39, "calls_max": 13, "p50_ms": None, "p95_ms": None, "mean_ms": None,
    }  # fmt: skip
    assert set(summ["ops"]["load"]) == {"count", "p50_ms", "p95_ms", "mean_ms"}  # one call each: as before


def test_store_off_on_the_command_line_means_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--store off`` is ``RECIPEMUT_STORE=off``: no store, and no SQLite file named ``off``."""
    import yaml
    from _forecast_helpers import two_service_doc, two_service_recipe
    from typer.testing import CliRunner

    from recipemut import loggen
    from recipemut.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECIPEMUT_STORE", raising=False)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(two_service_doc(), sort_keys=False))
    log = tmp_path / "a.jsonl"
    loggen.write_jsonl(loggen.generate_spans(two_service_recipe(), n_requests=50, seed=2, duration_s=600.0), log)
    runner = CliRunner()
    res = runner.invoke(app, ["suggest", str(recipe), "--logs", str(log), "--store", "off", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "off").exists() and not (tmp_path / ".recipemut").exists()
    res = runner.invoke(app, ["stats", "--store", "OFF"])
    assert res.exit_code == 1 and "disabled" in res.output and not (tmp_path / "OFF").exists()
    assert S.store_path("none") is None and S.store_path(tmp_path / "s.db") == tmp_path / "s.db"


def test_a_store_altered_by_hand_is_one_error_and_suggest_still_writes_its_plan(tmp_path: Path) -> None:
    """A column or table dropped by hand was sqlite3's OperationalError traceback in stats, and in suggest,
    which then wrote no plan."""
    from typer.testing import CliRunner

    from recipemut.cli import app

    path = tmp_path / "store.sqlite"
    Store.open(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE suggestions DROP COLUMN predicted_gain")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a usable recipemut store: table suggestions has no column"):
        Store.open(path)
    runner = CliRunner()
    res = runner.invoke(app, ["stats", "--store", str(path)], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "table suggestions has no column predicted_gain" in res.output, res.output
    root = Path(__file__).resolve().parents[1] / "recipes" / "checkout"
    plan = tmp_path / "plan.json"
    args = ["suggest", str(root / "recipe.yaml"), "--logs", str(root / "logs.jsonl.gz"), "--store", str(path),
            "--time-budget", "3", "--out", str(plan), "-q"]  # fmt: skip
    res = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0 and plan.exists(), res.output
    assert "this run was not recorded in the profile store" in res.output


def test_another_programs_database_is_not_made_a_store(tmp_path: Path) -> None:
    """recipemut added its four tables to any SQLite file given as the store."""
    path = tmp_path / "theirs.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE foo (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"holds another program's tables \(foo\), not a recipemut store"):
        Store.open(path)
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["foo"]
    db.close()
