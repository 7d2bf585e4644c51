"""The package and the files around it: LICENSE and metadata, `make demo`, the GitHub Action, the
pre-commit hook, the recipes' schema modeline and the schemas' one `$id` scheme.

The Action's scripts are run here as GitHub would run them (bash, with its environment variables),
on a throwaway git repository, with a stand-in `gh` on ``PATH`` that records its calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the copy pip vendors
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
MARKER = "<!-- recipemut -->"


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def action() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    return doc


def step(name: str) -> dict[str, Any]:
    (found,) = [s for s in action()["runs"]["steps"] if s.get("name") == name]
    return found


def recipemut_help(*command: str) -> str:
    result = subprocess.run(
        [str(BIN / "recipemut"), *command, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# ---- the package


def test_license_is_the_canonical_apache_2_text_and_ships_in_the_wheel_metadata() -> None:
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    project = pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]


def test_metadata_is_pep_639_so_setuptools_77_accepts_it() -> None:
    """setuptools>=77 refuses a ``License ::`` classifier beside a license expression, and older
    ones do not know the expression: the build requirement says which."""
    data = pyproject()
    assert data["build-system"]["requires"] == ["setuptools>=77"]
    classifiers = data["project"]["classifiers"]
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert "Typing :: Typed" in classifiers
    assert (ROOT / "recipemut" / "py.typed").exists()
    floor = data["project"]["requires-python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {floor}" in classifiers


def test_upper_bounds_admit_what_is_installed() -> None:
    from importlib.metadata import version

    from packaging.requirements import Requirement

    for line in pyproject()["project"]["dependencies"]:
        requirement = Requirement(line)
        assert requirement.specifier.contains(version(requirement.name), prereleases=True), line


def make_dry_run(target: str) -> str:
    make = shutil.which("make")
    assert make, "make is needed for the Makefile's targets"
    result = subprocess.run([make, "-n", "-B", target], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_demo_installs_the_runtime_dependencies_only_and_says_so() -> None:
    demo = make_dry_run("demo")
    assert "[dev" not in demo and "dask" not in demo
    assert "pip --quiet --disable-pip-version-check install -e ." in demo
    assert 'echo "creating .venv and installing recipemut (about a minute, once)..."' in demo
    assert "recipemut suggest recipes/checkout/recipe.yaml" in demo


def test_make_test_still_installs_the_dev_tools() -> None:
    """The test venv has the dev tools and the dask extra (its engine is tested on a local cluster)."""
    assert "install -e '.[dev,dask]'" in make_dry_run("test")


# ---- editors: modeline and schema ids


def test_every_shipped_recipe_starts_with_a_schema_modeline_that_resolves() -> None:
    recipes = sorted((ROOT / "recipes").glob("*/recipe.yaml"))
    assert recipes
    for recipe in recipes:
        first = recipe.read_text(encoding="utf-8").splitlines()[0]
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, f"{recipe}: {first!r}"
        assert (recipe.parent / match[1]).resolve() == (ROOT / "recipemut/schemas/recipe.schema.json").resolve()


def test_the_four_schemas_share_one_id_scheme_and_still_load() -> None:
    from recipemut.apply.history import history_schema
    from recipemut.plan.planfile import plan_schema
    from recipemut.recipe.loader import recipe_schema

    for path in sorted((ROOT / "recipemut" / "schemas").glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$id"] == f"https://recipemut.dev/schemas/{path.name}"
    assert recipe_schema()["$id"].endswith("/recipe.schema.json")
    assert plan_schema()["$id"].endswith("/plan.schema.json")
    assert history_schema()["$id"].endswith("/history.schema.json")


# ---- pre-commit


def test_pre_commit_hook_runs_validate_on_recipe_files() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "recipemut-validate"
    assert hook["entry"] == "recipemut validate"
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    assert files.search("recipes/checkout/recipe.yaml")
    assert files.search("recipe.yml")
    assert not files.search("recipes/checkout/loggen.yaml")
    assert "Recipes to check" in recipemut_help("validate")


# ---- the GitHub Action


def test_action_is_composite_and_names_only_existing_commands_and_options() -> None:
    doc = action()
    assert doc["runs"]["using"] == "composite"
    assert {"recipes", "logs", "python-version"} <= set(doc["inputs"])
    scripts = "\n".join(s["run"] for s in doc["runs"]["steps"] if "run" in s)
    assert "actions/setup-python@v5" in [s.get("uses") for s in doc["runs"]["steps"]]
    used = {
        "validate": set(),
        "suggest": {"--logs", "--format", "--detailed-exitcode", "--map"},
    }
    assert re.search(r'recipemut validate "\$\{recipes\[@\]\}"', scripts)
    assert 'args=(suggest "$recipe" --logs' in scripts
    for command, options in used.items():
        text = recipemut_help(command)
        for option in options:
            assert option in scripts, option
            assert re.search(rf"{option}\b", text), f"{command} has no {option}"
    assert "markdown" in recipemut_help("suggest")
    for s in doc["runs"]["steps"]:
        if "run" in s:
            check = subprocess.run(["bash", "-n"], input=s["run"], text=True, capture_output=True)
            assert check.returncode == 0, (s.get("name"), check.stderr)


def git_repo(tmp_path: Path, *recipes: str) -> Path:
    repo = tmp_path / "repo"
    for name in recipes:
        source = ROOT / "recipes" / name
        shutil.copytree(source, repo / "recipes" / name)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    return repo


def run_step(name: str, cwd: Path, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run one step's script as the runner would: bash, its `env:` with inputs' defaults filled in."""
    s = step(name)
    defaults = {k: str(v.get("default", "")) for k, v in action()["inputs"].items()}
    environ = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(tmp_path / "runner"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    for key, value in s.get("env", {}).items():
        match = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", str(value))
        environ[key] = defaults[match[1]] if match else ""
    environ.update(env)
    (tmp_path / "runner").mkdir(exist_ok=True)
    result = subprocess.run(["bash", "-c", s["run"]], cwd=cwd, env=environ, capture_output=True, text=True)
    return result, tmp_path / "output"


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_action_suggests_on_a_valid_recipe_and_writes_the_marked_report(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, "zipkin_simple_db")
    result, out = run_step("validate and suggest", repo, tmp_path, LOGS="trace.json")
    assert result.returncode == 0, result.stdout + result.stderr
    values = outputs(out)
    assert values["improvements"] == "false"
    report = Path(values["report"]).read_text()
    assert report.startswith(MARKER + "\n")
    assert "## recipemut suggest: `recipes/zipkin_simple_db/recipe.yaml`" in report
    assert report in (tmp_path / "summary").read_text()


def test_action_fails_on_an_invalid_recipe_and_reports_the_finding(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, "zipkin_simple_db")
    recipe = repo / "recipes" / "zipkin_simple_db" / "recipe.yaml"
    recipe.write_text(recipe.read_text().replace("apiVersion:", "apiVersionn:", 1))
    result, out = run_step("validate and suggest", repo, tmp_path, LOGS="trace.json")
    assert result.returncode == 1
    report = Path(outputs(out)["report"]).read_text()
    assert "## recipemut validate: failed (exit 1)" in report
    assert "recipes/zipkin_simple_db/recipe.yaml:" in report


def test_action_without_matching_recipes_writes_no_report(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, "zipkin_simple_db")
    result, out = run_step("validate and suggest", repo, tmp_path, RECIPES="workflows/*.yaml")
    assert result.returncode == 0, result.stderr
    assert "report" not in outputs(out)
    assert "no recipe matching" in result.stdout


FAKE_GH = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$GH_CALLS"
if [ "$1 $2" = "api --paginate" ]; then printf '%s' "$GH_EXISTING"; fi
"""


@pytest.mark.parametrize(
    ("existing", "expected"),
    [("", "POST repos/o/r/issues/7/comments"), ("41\n42\n", "PATCH repos/o/r/issues/comments/41")],
)
def test_action_posts_one_comment_then_updates_it(tmp_path: Path, existing: str, expected: str) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "gh").write_text(FAKE_GH)
    (fake / "gh").chmod(0o755)
    report = tmp_path / "report.md"
    report.write_text(MARKER + "\nbody\n")
    calls = tmp_path / "calls"
    result, _ = run_step(
        "sticky pull-request comment",
        tmp_path,
        tmp_path,
        PATH=f"{fake}{os.pathsep}{os.environ['PATH']}",
        GH_CALLS=str(calls),
        GH_EXISTING=existing,
        REPO="o/r",
        PR="7",
        REPORT=str(report),
    )
    assert result.returncode == 0, result.stderr
    lines = calls.read_text().splitlines()
    assert lines[0].startswith("api --paginate repos/o/r/issues/7/comments --jq")
    assert MARKER in lines[0]
    assert lines[1] == f"api --method {expected} -F body=@{report}"
    assert len(lines) == 2
