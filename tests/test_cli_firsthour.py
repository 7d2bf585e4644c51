"""What a new user met in the first hour with engine files and the report (issue 16/17 follow-up).

Each test is a command as a user typed it, with what it printed before the fix: a report written
as HTML into ``out.png``; ``cost 0.0 µ$/request`` in suggest's baseline where profile says the
cost is unknown; minutes-long CI runs shown only as ``386000.0 ms``; every command's RECIPE
argument described as "the recipe YAML file" although each takes an engine's file too.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}
GHA = Path(__file__).resolve().parents[1] / "recipes" / "gha-flask-publish"
CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout"


def test_report_refuses_an_out_that_is_not_html_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "report.png"
    res = runner.invoke(
        app, ["report", str(GHA / "workflow.yml"), "--logs", str(tmp_path / "no-such.jsonl"), "-o", str(out)], env=ENV
    )
    assert res.exit_code == 2, res.output
    assert "report.png: the report is an HTML page (name the file *.html)" in res.output
    assert not out.exists()


def test_report_takes_htm_and_upper_case_html(tmp_path: Path) -> None:
    # the check passes them on: the missing log is what stops the run, not the name
    for name in ("r.htm", "R.HTML"):
        args = ["report", str(GHA / "workflow.yml"), "--logs", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / name)]
        res = runner.invoke(app, args, env=ENV)
        assert res.exit_code == 1 and "no such file" in res.output, res.output


def test_suggest_on_a_workflow_without_costs_says_cost_unknown_and_minutes() -> None:
    res = runner.invoke(
        app, ["suggest", str(GHA / "workflow.yml"), "--logs", str(GHA / "runs.jsonl"), "-q"], env=ENV
    )
    assert res.exit_code == 0, res.output
    first = " ".join(res.stdout.split("Best single", 1)[0].split("No single", 1)[0].split())  # the first paragraph
    assert "cost unknown (no cost in the logs or the recipe)" in first, first
    assert "/request" not in first
    assert re.search(r"p50 386,000\.0 ms \(6m26s\)", first), first
    # the table's cost cells say so too, not +$0.000000 (they said +0.0µ$ [+0.0µ$, +0.0µ$])
    assert "$0.000000" not in res.stdout and "0.0µ$" not in res.stdout


def test_suggest_with_costs_keeps_its_baseline_line() -> None:
    res = runner.invoke(
        app, ["suggest", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"), "-q",
              "-O", "eliminate", "--budget", "3"],
        env=ENV,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "baseline p50 606.5 ms, p95 988.5 ms, p99 1,872.7 ms, cost $0.006917/request" in " ".join(res.stdout.split())


def test_profile_end_to_end_of_a_ci_workflow_reads_in_minutes() -> None:
    res = runner.invoke(app, ["profile", str(GHA / "workflow.yml"), "--logs", str(GHA / "runs.jsonl"), "-q"], env=ENV)
    assert res.exit_code == 0, res.output
    assert "end-to-end: p50 386,000.0 ms (6m26s), p95 500,800.0 ms (8m21s), p99 581,130.0 ms (9m41s);" in res.stdout


@pytest.mark.parametrize("command", ["validate", "graph", "profile", "suggest", "forecast", "evaluate", "report"])
def test_every_recipe_argument_says_it_takes_an_engine_file(command: str) -> None:
    res = runner.invoke(app, [command, "-h"], env=ENV)
    assert res.exit_code == 0
    assert "Argo, Tekton, Step" in res.output, res.output


ARGO = Path(__file__).resolve().parents[1] / "recipes" / "argo-ci"


def test_two_yaml_run_histories_after_one_logs_when_the_recipe_came_first() -> None:
    # `recipemut profile workflow.yaml --logs runs/*.yaml`: the second run history was taken for a
    # second RECIPE ("Got unexpected extra argument(s)"), as a recipe-looking word ends a --logs list
    from recipemut.commands._common import spread_multi_options

    runs = str(ARGO / "runs.yaml")
    argv = spread_multi_options(["profile", str(ARGO / "workflow.yaml"), "--logs", runs, runs, "-q", "-f", "json"])
    assert argv[2:7] == ["--logs", runs, "--logs", runs, "-q"]
    res = runner.invoke(app, argv, env=ENV)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ingest"]["files"] == [runs, runs]


def test_short_logs_option_takes_several_files_too() -> None:
    from recipemut.commands._common import spread_multi_options

    assert spread_multi_options(["profile", "r.yaml", "-l", "a.jsonl", "b.jsonl", "-q"]) == [
        "profile", "r.yaml", "-l", "a.jsonl", "-l", "b.jsonl", "-q",
    ]  # fmt: skip


def test_a_recipe_after_the_logs_still_ends_the_list() -> None:
    from recipemut.commands._common import spread_multi_options

    assert spread_multi_options(["profile", "--logs", "a.yaml", "b.jsonl", "wf.yaml"]) == [
        "profile", "--logs", "a.yaml", "--logs", "b.jsonl", "wf.yaml",
    ]  # fmt: skip


def test_a_narrow_column_that_went_before_a_wide_one_comes_back() -> None:
    # profile of recipes/gha-flask-publish at 120 columns: the 87-character service (a reusable
    # workflow's path) had to go, and took p99 ms and mean ms with it though the table was 86 wide
    from rich.console import Console

    from recipemut.commands._layout import Column, fit

    cols = [
        Column("op", ["build", "provenance"], {"no_wrap": True}),
        Column("p99 ms", ["258900.0", "194840.0"], {"no_wrap": True}, drop=1),
        Column("service", ["x" * 87, "ubuntu-latest"], {"no_wrap": True}, drop=2),
        Column("p50 ms", ["112500.0", "116500.0"], {"no_wrap": True}),
    ]
    out = Console(width=60, file=io.StringIO())
    fitted = fit(out, cols)
    assert fitted is not None
    t, dropped = fitted
    assert dropped == ["service"]
    assert [c.header for c in t.columns] == ["op", "p99 ms", "p50 ms"]


RECIPES = Path(__file__).resolve().parents[1] / "recipes"
HISTORIES = [
    ("argo-ci/runs.yaml", "an Argo run history"),
    ("tekton-skaffold-demo/runs.yaml", "a Tekton run history"),
    ("sfn-checkout/runs.jsonl", "a Step Functions execution history"),
    ("gha-flask-publish/runs.jsonl", "GitHub Actions run jobs"),
]


@pytest.mark.parametrize(("name", "label"), HISTORIES)
def test_validate_on_a_run_history_says_it_is_a_log(name: str, label: str) -> None:
    # it gave the schema's findings: "missing required key 'name'", "kind: expected 'Recipe', got text ('List')", ...
    res = runner.invoke(app, ["validate", str(RECIPES / name), "-f", "json"], env=ENV)
    assert res.exit_code == 1, res.output
    [found] = json.loads(res.stdout)["files"][0]["findings"]
    assert found["code"] == "run-history" and found["line"] == 1
    assert found["message"].startswith(f"this file holds {label}, not a recipe: it is a log, give it to --logs")


def test_profile_with_the_recipe_and_the_run_history_swapped_says_which_is_which() -> None:
    argo = RECIPES / "argo-ci"
    res = runner.invoke(app, ["profile", str(argo / "runs.yaml"), "--logs", str(argo / "workflow.yaml"), "-q"], env=ENV)
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "runs.yaml:1: this file holds an Argo run history, not a recipe" in lines[0], res.output
    assert "Traceback" not in res.output


def test_an_invalid_recipe_that_is_no_history_keeps_its_findings(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("kind: List\n")
    res = runner.invoke(app, ["validate", str(bad), "-f", "json"], env=ENV)
    assert res.exit_code == 1
    codes = {f["code"] for f in json.loads(res.stdout)["files"][0]["findings"]}
    assert "missing-key" in codes and "run-history" not in codes


def test_an_invalid_argo_definition_is_no_run_history(tmp_path: Path) -> None:
    # sniff knows a Workflow definition too (apiVersion argoproj.io, kind Workflow): without a status
    # it is no history, and its own findings (here a cycle) stay
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: c-}\nspec:\n  entrypoint: main\n"
        "  templates:\n  - name: main\n    dag:\n      tasks:\n      - {name: a, template: t, dependencies: [b]}\n"
        "      - {name: b, template: t, dependencies: [a]}\n  - name: t\n    container: {image: alpine}\n"
    )
    res = runner.invoke(app, ["validate", str(wf), "-f", "json"], env=ENV)
    assert res.exit_code == 1
    codes = [f["code"] for f in json.loads(res.stdout)["files"][0]["findings"]]
    assert "cycle" in codes and "run-history" not in codes, codes


def test_an_engine_files_undeclared_services_are_one_warning_that_says_why() -> None:
    pipeline = RECIPES / "tekton-skaffold-demo" / "pipeline.yaml"
    res = runner.invoke(app, ["validate", str(pipeline), "-f", "json"], env=ENV)
    assert res.exit_code == 0
    found = [f for f in json.loads(res.stdout)["files"][0]["findings"] if f["code"] == "unknown-service"]
    assert len(found) == 1, found  # it was three, one per task image, on every command
    assert found[0]["message"].startswith(
        "3 services are not declared: 'unit-tests' (used by skaffold-unit-tests); 'build-push' (used by "
        "build-skaffold-web, build-skaffold-app); 'demo-deploy-kubectl' (used by deploy-app, deploy-web); "
        "a Tekton Pipeline cannot declare them"
    )


def test_a_recipes_undeclared_services_stay_one_warning_each(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "apiVersion: recipemut/v1\nkind: Recipe\nname: r\nfields: {x: {type: string}}\ninputs: []\noutputs: [x]\n"
        "operations:\n- {id: a, service: s1, action: A, consumes: [], produces: [x]}\n"
        "- {id: b, service: s2, action: B, consumes: [x], produces: []}\n"
    )
    res = runner.invoke(app, ["validate", str(recipe), "-f", "json"], env=ENV)
    found = [f for f in json.loads(res.stdout)["files"][0]["findings"] if f["code"] == "unknown-service"]
    assert [f["message"] for f in found] == [
        "service 's1' (used by a) is not declared in services; forecast cannot size it",
        "service 's2' (used by b) is not declared in services; forecast cannot size it",
    ]


@pytest.mark.parametrize("command", ["profile", "suggest", "evaluate", "forecast", "report", "convert"])
def test_the_mapping_and_store_help_are_whole_at_80_columns(command: str) -> None:
    # rich cut a word wider than the help column: "schemas/mapping.schem…", ".recipemut/store.sqli…"
    res = runner.invoke(app, [command, "-h"], env={"COLUMNS": "80"})
    assert res.exit_code == 0
    assert "mapping.schema.json" in res.output and "mapping.schem…" not in res.output
    assert "store.sqli…" not in res.output


@pytest.mark.parametrize("command", ["profile", "suggest", "evaluate", "forecast", "report", "convert"])
def test_the_mapping_help_points_at_what_an_installed_user_has(command: str) -> None:
    """--map said its schema was 'mapping.schema.json in schemas/', a folder of a clone only: it names the
    schema's path inside the package (installed with it) and the docs section that gives every key."""
    import recipemut

    res = runner.invoke(app, [command, "-h"], env={"COLUMNS": "80"})
    assert res.exit_code == 0
    assert "recipemut/schemas/mapping.schema.json" in res.output and "in schemas/" not in res.output
    help_text = " ".join(res.output.replace("│", " ").split())
    assert 'docs/log-format.md, "From spans to operations"' in help_text, help_text
    package = Path(recipemut.__file__).resolve().parent
    assert (package.parent / "recipemut" / "schemas" / "mapping.schema.json").is_file()  # shipped: package-data
    docs = (package.parent / "docs" / "log-format.md").read_text(encoding="utf-8")
    assert "\n### From spans to operations\n" in docs


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2", "2 is outside (0, 1]: a share of requests, 0.1 for one in ten (a percentage? 2% is 0.02)"),
        ("0", "0 is outside (0, 1]: a share of requests, 0.1 for one in ten"),
    ],
)
def test_sample_requests_out_of_range_says_what_a_share_is(value: str, says: str) -> None:
    # it said only "2 is outside (0, 1]"
    logs = str(CHECKOUT / "logs.jsonl.gz")
    args = ["profile", str(CHECKOUT / "recipe.yaml"), "--logs", logs, "--sample-requests", value]
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 2
    assert says in " ".join(res.output.replace("│", " ").split()), res.output


def test_history_of_an_engine_file_says_version_none_as_apply_does(tmp_path: Path) -> None:
    # apply printed "version none -> 1" and history then showed "None -> 1"
    import shutil

    for name in ("pipeline.yaml", "runs.yaml"):
        shutil.copy(RECIPES / "tekton-skaffold-demo" / name, tmp_path / name)
    pipeline, plan = tmp_path / "pipeline.yaml", tmp_path / "plan.json"
    runs = str(tmp_path / "runs.yaml")
    args = ["suggest", str(pipeline), "--logs", runs, "-O", "parallelize", "-o", str(plan), "-q"]
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["apply", str(pipeline), "--plan", str(plan)], env=ENV).exit_code == 0
    res = runner.invoke(app, ["history", str(pipeline)], env=ENV)
    assert res.exit_code == 0
    assert "none -> 1" in res.stdout and "None" not in res.stdout, res.stdout


def test_an_engine_files_service_warning_names_a_few_steps_only() -> None:
    sfn = RECIPES / "sfn-checkout" / "definition.asl.json"
    res = runner.invoke(app, ["validate", str(sfn), "-f", "json"], env=ENV)
    [found] = [f for f in json.loads(res.stdout)["files"][0]["findings"] if f["code"] == "unknown-service"]
    assert "'dynamodb' (used by Set_Order_Payment_and_Shipping_Status, Set_Payment_Status_Unsuccessful and 3 more)" in (
        found["message"]
    )


@pytest.mark.parametrize("command", [["import", "-"], ["profile", "-", "--logs", "x.jsonl"]])
def test_standard_input_as_the_recipe_says_it_is_for_logs_only(command: list[str]) -> None:
    # `recipemut import - < workflow.yaml` said "error: -: no such file"
    res = runner.invoke(app, command, input="kind: Workflow\n", env=ENV)
    assert res.exit_code == 2
    assert "standard input is read by --logs only; name the file" in " ".join(res.output.split())
