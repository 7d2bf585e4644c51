"""`recipemut suggest` through the CLI: exit codes, formats, the plan file, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.plan.planfile import load_plan, plan_schema, recipe_sha256
from recipes import CHECKOUT_EXAMPLE, ROOT

CHECKOUT = CHECKOUT_EXAMPLE
runner = CliRunner(env={"RECIPEMUT_STORE": "off"})  # never write a store into the checkout

SHOP = """\
apiVersion: recipemut/v1
kind: Recipe
name: shop
version: 2
fields:
  x: {type: string}
  cart: {type: string}
  risk: {type: string}
  receipt: {type: string}
inputs: [x]
outputs: [receipt]
operations:
  # loads the cart
  - id: load
    service: cart
    action: Load
    consumes: [x]
    produces: [cart]
    cost_per_call_usd: 0.001
  - id: score
    service: fraud
    action: Score
    consumes: [x]
    produces: [risk]
    after: [load]   # habit, not data
    cost_per_call_usd: 0.002
  - id: pay
    service: pay
    action: Pay
    consumes: [cart, risk]
    produces: [receipt]
    side_effects: external
    cost_per_call_usd: 0.003
"""

FLAT = """\
apiVersion: recipemut/v1
kind: Recipe
name: flat
version: 1
fields:
  x: {type: string}
  y: {type: string}
inputs: [x]
outputs: [y]
operations:
  - id: only
    service: s
    action: Only
    consumes: [x]
    produces: [y]
"""


def _write(tmp: Path, name: str, text: str, n: int = 3000) -> tuple[Path, Path]:
    rp = tmp / f"{name}.yaml"
    rp.write_text(text)
    from recipemut.recipe.loader import load_recipe

    spans = generate_spans(load_recipe(rp), n, seed=4, duration_s=86400)
    lp = tmp / f"{name}.jsonl"
    write_jsonl(spans, lp)
    return rp, lp


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _write(tmp_path_factory.mktemp("shop"), "shop", SHOP)


def test_detailed_exitcode_two_when_improvements_and_plan_file(shop: tuple[Path, Path], tmp_path: Path) -> None:
    rp, lp = shop
    out = tmp_path / "plan.json"
    before = rp.read_bytes()
    res = runner.invoke(
        app, ["suggest", str(rp), "--logs", str(lp), "--objective", "latency", "--detailed-exitcode", "--out", str(out)]
    )
    assert res.exit_code == 2, res.output
    assert "parallelize" in res.output
    assert "- edge load -> score (after)" in res.output
    assert "-    after: [load]   # habit, not data" in res.output
    plan = load_plan(out)
    assert plan.recipe.sha256 == recipe_sha256(rp)
    assert plan.plan and plan.mutations[0].operator == "parallelize"
    assert plan.mutations[0].verdict == "improves"
    assert "latency_p95_ms" in plan.mutations[0].predicted
    assert rp.read_bytes() == before  # suggest never touches the recipe


def test_plan_of_a_recipe_with_a_byte_order_mark_is_accepted_by_apply(shop: tuple[Path, Path], tmp_path: Path) -> None:
    _, lp = shop
    rp = tmp_path / "bom.yaml"
    rp.write_bytes(b"\xef\xbb\xbf" + SHOP.encode("utf-8"))
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--objective", "latency", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert load_plan(out).recipe.sha256 == recipe_sha256(rp.read_bytes())
    applied = runner.invoke(app, ["apply", str(rp), "--plan", str(out), "--dry-run"])
    assert applied.exit_code == 0, applied.output
    assert "stale" not in applied.output


@pytest.mark.parametrize("which", ["recipe", "logs", "history", "dir", "missing-folder", "logs-relative"])
def test_out_that_would_destroy_an_input_is_refused_before_the_search(
    shop: tuple[Path, Path], tmp_path: Path, which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rp, lp = shop
    hist = rp.with_name(rp.name + ".history.jsonl")
    target = {
        "recipe": rp,
        "logs": lp,
        "history": hist,
        "dir": tmp_path,
        "missing-folder": tmp_path / "nope" / "plan.json",
        "logs-relative": Path(lp.name),
    }[which]
    if which == "logs-relative":
        monkeypatch.chdir(lp.parent)
    before = {p: p.read_bytes() for p in (rp, lp)}
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--out", str(target), "--budget", "1"])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output and res.output.count("\n") == 1, res.output
    assert f"--out {target}" in res.output
    assert {p: p.read_bytes() for p in (rp, lp)} == before
    assert not hist.exists()


def test_out_in_a_read_only_folder_is_refused(
    shop: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    rp, lp = shop
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    # what a read-only folder answers (chmod does not stop root, who may run the tests)
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == ro.resolve() else real_access(p, mode))
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--out", str(ro / "plan.json")])
    assert res.exit_code == 1, res.output
    assert "cannot write there" in res.output
    assert not (ro / "plan.json").exists()


def test_json_is_the_plan_format(shop: tuple[Path, Path]) -> None:
    rp, lp = shop
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--format", "json", "--objective", "latency"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    jsonschema.validate(d, plan_schema())
    assert d["objective"] == "latency"
    assert d["report"]["baseline"]["requests"] == 3000
    assert d["report"]["diff"]["structural"]["edges_removed"] == [{"from": "load", "to": "score", "kind": "after"}]
    assert d["report"]["singles"][0]["status"] == "accepted"


def test_markdown_has_mermaid_and_diff(shop: tuple[Path, Path]) -> None:
    rp, lp = shop
    res = runner.invoke(
        app, ["suggest", str(rp), "--logs", str(lp), "--format", "markdown", "--explain", "--objective", "latency"]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("## recipemut suggest:")
    assert "```mermaid\nflowchart TD" in res.stdout
    assert "```diff" in res.stdout


def test_nothing_to_do_exits_zero(tmp_path: Path) -> None:
    rp, lp = _write(tmp_path, "flat", FLAT, n=300)
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--detailed-exitcode"])
    assert res.exit_code == 0, res.output
    assert "No single mutation improves the recipe." in res.output


def test_a_search_that_judged_nothing_is_no_nothing_to_do(shop: tuple[Path, Path]) -> None:
    """--time-budget 0 said 'No single mutation improves the recipe.' and exited 0 (nothing worth doing) under
    --detailed-exitcode, having judged no candidate."""
    rp, lp = shop
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--time-budget", "0", "--detailed-exitcode",
                              "-q"], env={"COLUMNS": "300"})  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "Nothing was judged: the time budget ran out before any candidate was; raise --time-budget." in res.output
    assert "No single mutation improves" not in res.output and "evaluated 0 candidates" in res.output
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--time-budget", "0", "-f", "markdown", "-q"])
    assert "Nothing was judged: the time budget ran out" in res.stdout and "No single" not in res.stdout
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--budget", "1", "-q"], env={"COLUMNS": "300"})
    assert res.exit_code == 0 and "evaluated 1 candidate in" in res.output, res.output


def test_operators_and_explain(shop: tuple[Path, Path]) -> None:
    rp, lp = shop
    res = runner.invoke(
        app, ["suggest", str(rp), "--logs", str(lp), "--operators", "eliminate", "--explain", "--detailed-exitcode"]
    )
    assert res.exit_code == 0, res.output  # eliminate has nothing to remove here
    bad = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--operators", "teleport"])
    assert bad.exit_code == 2
    assert "unknown operator 'teleport'" in bad.output


def test_user_errors_are_one_line_exit_one(shop: tuple[Path, Path], tmp_path: Path) -> None:
    rp, _ = shop
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: recipemut/v1\nkind: Recipe\nname: [\n")
    res2 = runner.invoke(app, ["suggest", str(broken), "--logs", str(tmp_path / "x.jsonl")])
    assert res2.exit_code == 1 and "broken.yaml" in res2.output


def test_checkout_example_finds_the_obvious_wins_and_rejects_the_harmful() -> None:
    res = runner.invoke(
        app,
        [
            "suggest",
            str(CHECKOUT / "recipe.yaml"),
            "--logs",
            str(CHECKOUT / "logs.jsonl.gz"),
            "--format",
            "json",
            "--budget",
            "40",
        ],
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)["report"]
    accepted = {c["id"] for c in rep["singles"] if c["status"] == "accepted"}
    # the commented-on waste in the example: the 2022 `after` edge, the dead upsell call, the slow carrier tail
    assert "parallelize:lookup_tax->quote_shipping" in accepted
    assert "eliminate:fetch_recommendations" in accepted
    assert "hedge:quote_shipping" in accepted
    verdicts = {c["id"]: c["reasons"] for c in rep["singles"]}
    assert verdicts["substitute:price_items->price_items_legacy"] == ["regresses"]


P95 = ["suggest", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"), "--objective", "p95"]


@pytest.fixture(scope="module")
def checkout_p95_json() -> dict[str, Any]:
    """``suggest --objective p95 --format json`` on the shipped example: one run that several tests read."""
    res = runner.invoke(app, [*P95, "--format", "json"])
    assert res.exit_code == 0, res.output
    report: dict[str, Any] = json.loads(res.stdout)
    return report


def test_p95_objective_accepts_what_the_paired_replay_proves_and_says_which_test_decided(
    checkout_p95_json: dict[str, Any],
) -> None:
    d = checkout_p95_json
    singles = {c["id"]: c for c in d["report"]["singles"]}
    for mid in ("hedge:quote_shipping", "parallelize:lookup_tax->quote_shipping"):
        c = singles[mid]
        assert c["status"] == "accepted", (mid, c["reasons"])
        assert c["predicted"]["latency_p95_ms"]["ci"][1] < 0
        assert c["predicted"]["decided_by"] in ("ab+paired", "paired")
        ab = c["predicted"]["ab"]
        assert ab["latency"]["test"] == "mann-whitney-u" and 0 <= ab["latency"]["p_value"] <= 1
        assert len(ab["latency"]["shift"]["ci"]) == 2 and len(ab["cost"]["deltas"]["mean"]["ci"]) == 2
    md = runner.invoke(app, [*P95, "--format", "markdown", "--explain"])
    assert md.exit_code == 0, md.output
    assert "No single mutation improves the recipe." not in md.stdout
    assert "Mann-Whitney p" in md.stdout and "Hodges-Lehmann shift" in md.stdout and "p95 verdict from" in md.stdout
    rejected = md.stdout.split("Rejected candidates", 1)[1]
    rows = {line.split("`")[1]: line for line in rejected.splitlines() if line.startswith("| `")}
    for step, mid in enumerate(d["plan"], 1):
        if mid in rows:  # a plan step rejected in another round says so, instead of contradicting the plan
            assert f"plan step {step}" in rows[mid], rows[mid]
    later = [c for c in d["report"]["rejected"] if c["round"] > 1]
    assert later and all(f"round {c['round']} (after" in rows[c["id"]] for c in later)


def test_store_records_the_run_and_orders_the_next(shop: tuple[Path, Path], tmp_path: Path) -> None:
    rp, lp = shop
    store = tmp_path / "store.sqlite"
    args = ["suggest", str(rp), "--logs", str(lp), "--objective", "latency", "--store", str(store), "--format", "json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    stats = runner.invoke(app, ["stats", "--store", str(store), "--format", "json"])
    assert stats.exit_code == 0, stats.output
    learned = json.loads(stats.stdout)
    assert "parallelize" in json.dumps(learned)
    # a second run reads what the first recorded (the bandit) and gives the same plan
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["plan"] == json.loads(first.stdout)["plan"]
    # an unreadable store is a warning, not a failure
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database")
    res = runner.invoke(app, [*args[:-4], "--store", str(bad)])
    assert res.exit_code == 0, res.output
    assert "profile store" in res.output


def test_same_seed_same_numbers_with_or_without_a_learning_store(tmp_path: Path) -> None:
    args = ["suggest", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"), "--format", "json"]
    store = tmp_path / "store.sqlite"
    assert runner.invoke(app, [*args, "--store", str(store)]).exit_code == 0  # the store learns
    learned = runner.invoke(app, [*args, "--store", str(store)])  # ... and orders this run's candidates
    fresh = runner.invoke(app, args)  # RECIPEMUT_STORE=off: the registry's order
    assert learned.exit_code == fresh.exit_code == 0, learned.output + fresh.output

    def numbers(res: object) -> dict[tuple[str, int], object]:
        rep = json.loads(res.stdout)["report"]  # type: ignore[attr-defined]
        return {(c["id"], c["round"]): c["predicted"] for c in [*rep["singles"], *rep["rejected"]]}

    a, b = numbers(learned), numbers(fresh)
    assert len(a.keys() & b.keys()) >= 10
    assert {k: a[k] for k in a.keys() & b.keys()} == {k: b[k] for k in a.keys() & b.keys()}
    assert json.loads(learned.stdout)["plan"] == json.loads(fresh.stdout)["plan"]


def test_canary_requests_are_not_replayed_as_the_recipe(tmp_path: Path) -> None:
    from recipemut.recipe.loader import load_recipe

    rp = tmp_path / "shop.yaml"
    rp.write_text(SHOP)
    spans = generate_spans(
        load_recipe(rp), 2000, seed=5, duration_s=86400, variants={"canary": 0.25}, treatment={"canary": {"*": 3.0}}
    )
    lp = tmp_path / "mixed.jsonl"
    write_jsonl(spans, lp)
    control = int((spans.drop_duplicates("request_id")["variant"] == "control").sum())
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["report"]["baseline"]["requests"] == control < 2000
    assert "canary variants (canary)" in res.stderr


def test_a_canary_in_the_logs_leaves_treatment_requests_for_the_ab(tmp_path: Path) -> None:
    from recipemut.recipe.loader import load_recipe

    rp = tmp_path / "shop.yaml"
    rp.write_text(SHOP)
    spans = generate_spans(load_recipe(rp), 3000, seed=4, duration_s=86400, variants={"canary": 0.2})
    lp = tmp_path / "canary.jsonl"
    write_jsonl(spans, lp)
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--format", "json", "--objective", "latency"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)["report"]
    par = next(c for c in rep["singles"] if c["id"] == "parallelize:load->score")
    ab = par["predicted"]["ab"]["objective"]
    assert ab["n_treatment"] > 0.05 * rep["baseline"]["requests"]
    assert par["status"] == "accepted", par["reasons"]


def test_shared_log_options_and_ingest_warnings(shop: tuple[Path, Path], tmp_path: Path) -> None:
    rp, lp = shop
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lp.read_text() + "{not json\n")
    res = runner.invoke(
        app,
        ["suggest", str(rp), "--logs", str(bad), "--sample-rate", "0.5", "--log-format", "native", "--budget", "1"],
    )
    assert res.exit_code == 0, res.output
    assert "warning: rejected" in res.stderr and "bad.jsonl:" in res.stderr  # warn_ingest names file:line
    strict = runner.invoke(app, ["suggest", str(rp), "--logs", str(bad), "--strict"])
    assert strict.exit_code == 1 and "bad.jsonl" in strict.output, strict.output
    choice = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--log-format", "csv"])
    assert choice.exit_code == 2 and "'csv' is not one of" in choice.output, choice.output
    rate = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--sample-rate", "2"])
    assert rate.exit_code == 2, rate.output


def test_o_is_out_and_an_operator_name_after_it_points_to_capital_o(shop: tuple[Path, Path]) -> None:
    rp, lp = shop
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "-o", "hedge"])
    assert res.exit_code == 2, res.output
    assert "unknown operator" not in res.output and "-O/--operators" in res.output


def test_help_is_short_per_operator_and_headlines_end_at_a_boundary() -> None:
    from recipemut.mutate.operators import REGISTRY
    from recipemut.plan.explain import headline

    res = runner.invoke(app, ["suggest", "--help"], env={"COLUMNS": "100", "RECIPEMUT_STORE": "off"})
    assert res.exit_code == 0, res.output
    assert not any(spec.summary in res.output for spec in REGISTRY.values())  # no 40-line wall
    desc = (
        "`quote_shipping` waits for `lookup_tax` only through an `after` edge and they touch disjoint fields "
        "(`lookup_tax` reads [shipping_address] writes [tax_rates]; `quote_shipping` reads [cart]), so "
        "`quote_shipping` can start without waiting. `lookup_tax` takes 111 ms at p50."
    )
    sentence = desc.split(". `lookup_tax`")[0]
    assert len(sentence) > 220
    assert headline(desc, limit=400) == sentence  # the first sentence, though it holds "; " in a parenthesis
    # too long for the default limit: its first clause outside the parenthesis, never half of it
    assert headline(desc) == sentence.split(", so")[0]
    assert headline(desc).endswith("reads [cart])")


def test_one_request_is_singular(tmp_path: Path) -> None:
    rp, lp = _write(tmp_path, "flat", FLAT, n=1)
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp)])
    assert res.exit_code == 0, res.output
    assert "replayed 1 request;" in res.output


@pytest.mark.parametrize("columns", ["80", None])
def test_text_fits_columns_and_keeps_ids_whole(columns: str | None, checkout_p95_json: dict[str, Any]) -> None:
    env = {"RECIPEMUT_STORE": "off", "COLUMNS": columns}
    res = runner.invoke(app, [*P95, "--explain"], env=env)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    if "YAML diff" in res.stdout:  # the diff's lines are printed whole at any width: it is what apply writes
        start = next(i for i, line in enumerate(lines) if line.startswith("YAML diff"))
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith((" ", "+", "-", "@"))),
                   len(lines))  # fmt: skip
        diff = set(json.loads(runner.invoke(app, [*P95, "-f", "json"], env=env).stdout)["report"]["diff"]["unified"]
                   .splitlines())  # fmt: skip
        assert all(line in diff for line in lines[start + 1 : end])
        lines = lines[:start] + lines[end:]
    if columns is None:  # piped: lines of text are never wrapped, a table is as wide as its widest row
        table = [line for line in lines if line.startswith(("┏", "┃", "│", "└"))]
        assert table and "not shown at" not in res.stdout, res.stdout
    else:
        assert max(map(len, lines)) <= int(columns), max(lines, key=len)
    ids = checkout_p95_json["report"]  # the JSON does not depend on the terminal's width
    for c in [*ids["singles"], *ids["rejected"]]:
        assert c["id"] in res.stdout, c["id"]  # never broken across lines
    assert "…" not in res.stdout


def test_subprocess_run_with_help() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "recipemut", "suggest", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "--detailed-exitcode" in res.stdout and "Example" in res.stdout


def test_headroom_objective_relieves_the_service_that_needs_replicas_first() -> None:
    res = runner.invoke(
        app,
        [
            "suggest",
            str(CHECKOUT / "recipe.yaml"),
            "--logs",
            str(CHECKOUT / "logs.jsonl.gz"),
            "--objective",
            "headroom",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    rep = d["report"]
    assert rep["bottleneck_service"] == "tax"  # the forecast's first crossing in the checkout example
    assert d["plan"][0] == "cache:lookup_tax"
    assert any(line.startswith("tax: scaling needed in") for line in rep["plan_headroom"])


def test_headroom_without_declared_capacity_is_a_clear_error(shop: tuple[Path, Path]) -> None:
    rp, lp = shop
    res = runner.invoke(app, ["suggest", str(rp), "--logs", str(lp), "--objective", "headroom"])
    assert res.exit_code == 1, res.output
    assert "--objective headroom needs" in res.output and "Traceback" not in res.output


@pytest.fixture(scope="module")
def hotrod(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The N+1 recipe of test_calls (get_driver without foreach) and 20 requests of its 13 serial calls."""
    from _profile_helpers import line, write_lines
    from test_calls import RECIPE, T0, n_plus_one_lines

    tmp = tmp_path_factory.mktemp("hotrod")
    recipe = tmp / "hotrod.yaml"
    recipe.write_text(RECIPE)
    lines = [line(d) for i in range(20) for d in n_plus_one_lines(f"r{i}", T0 + 1000.0 * i)]
    return recipe, write_lines(tmp / "calls.jsonl", lines)


def test_suggest_reports_the_n_plus_one_finding_in_text_markdown_and_json(hotrod: tuple[Path, Path]) -> None:
    recipe, logs = hotrod
    args = ["suggest", str(recipe), "--logs", str(logs), "--seed", "1"]
    res = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    # 13 serial calls: 206 ms from the first to the last (12 gaps of 0.5 ms), 200 ms of calls
    seen = (
        "N+1: get_driver is called 13.0 times per request (up to 13; several times in 20 of 20 requests), "
        "one after another: 206.0 ms from first call to last, 200.0 ms of calls, 92% of those requests' "
        "latency; 60 failed calls were retried; the recipe has it as one call (no foreach)."
    )
    assert seen in out, res.output
    add = f"To describe it, add to operation get_driver ({recipe}:17): `foreach: driver_ids`, `concurrency: 1`."
    assert add in out, res.output
    assert out.index("N+1:") < out.index("evaluated")
    md = runner.invoke(app, [*args, "--format", "markdown"])
    assert md.exit_code == 0, md.output
    assert f"### Findings\n\n- **N+1:** {seen[5:]} {add}\n" in md.stdout
    doc = json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout)
    (f,) = doc["report"]["findings"]["n_plus_one"]
    assert (f["op"], f["service"], f["line"], f["field"], f["add"]) == (
        "get_driver", "redis", 17, "driver_ids", ["foreach: driver_ids", "concurrency: 1"],
    )  # fmt: skip
    calls = f["calls"]
    assert (calls["calls"], calls["calls_max"], calls["several"], calls["retried_errors"], calls["serial"]) == (
        260, 13, 20, 60, True,
    )  # fmt: skip
    assert (calls["window_ms_mean"], calls["sum_ms_mean"]) == (pytest.approx(206.0), pytest.approx(200.0))


def test_no_finding_no_findings_key(shop: tuple[Path, Path]) -> None:
    recipe, logs = shop
    res = runner.invoke(app, ["suggest", str(recipe), "--logs", str(logs), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert "findings" not in json.loads(res.stdout)["report"]  # logs of one call per operation: as before
    text = runner.invoke(app, ["suggest", str(recipe), "--logs", str(logs)])
    md = runner.invoke(app, ["suggest", str(recipe), "--logs", str(logs), "--format", "markdown"])
    assert "N+1" not in text.output and "Findings" not in md.stdout


SKEW = """apiVersion: recipemut/v1
kind: Recipe
name: skew
fields: {req: {}, a: {}, b: {}}
inputs: [req]
outputs: [b]
operations:
  - {id: get, service: servicea, action: get, consumes: [req], produces: [a]}
  - {id: post, service: serviceb, action: post, consumes: [a], produces: [b]}
  - {id: async, service: serviceb, action: async, after: [post]}
"""


def test_one_request_is_too_few_to_judge_and_finds_no_improvement(tmp_path: Path) -> None:
    (tmp_path / "skew.yaml").write_text(SKEW)
    spans = [("get", 0, 5.0), ("post", 5, 29.5), ("async", 35, 65.0)]
    (tmp_path / "one.jsonl").write_text("".join(
        json.dumps({"request_id": "r1", "op": op, "start_ms": 1763942652129 + at, "latency_ms": ms, "status": "ok"})
        + "\n" for op, at, ms in spans))  # fmt: skip
    args = ["suggest", str(tmp_path / "skew.yaml"), "--logs", str(tmp_path / "one.jsonl"), "--detailed-exitcode"]
    res = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output  # 2 would say improvements were found
    out = " ".join(res.output.split())
    assert "1 request replayed" in out and "2 candidates not judged: an interval needs at least 2 requests." in out
    res = runner.invoke(app, [*args, "-f", "json"])
    doc = json.loads(res.stdout)
    assert doc["plan"] == [] and doc["report"]["too_few_requests"]["unjudged"] == 2
    single = {s["id"]: s for s in doc["report"]["singles"]}["eliminate:async"]
    assert single["verdict"] == "too few requests to judge"
    assert single["predicted"]["latency_p95_ms"]["ci"] == [None, None]
