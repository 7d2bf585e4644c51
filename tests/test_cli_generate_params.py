"""generate: a canary's own recipe run without generation parameters is flagged (its verdict means nothing)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from recipemut.cli import app

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout"
runner = CliRunner()


def _with_canary(folder: Path, *, own_recipe: bool, loggen: bool) -> Path:
    """The checkout recipe in ``folder``, with a canary that substitutes price_items (as apply --canary writes)."""
    doc = yaml.safe_load((CHECKOUT / "recipe.yaml").read_text(encoding="utf-8"))
    if own_recipe:
        variant = yaml.safe_load((CHECKOUT / "recipe.yaml").read_text(encoding="utf-8"))
        for op in variant["operations"]:
            if op["id"] == "price_items":
                op.update(service="pricing-edge", action="PriceItemsV2", substituted_from="PriceItems")
        doc["variants"] = [{"name": "canary", "share": 0.2, "recipe": variant}]
    recipe = folder / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    if loggen:
        shutil.copy(CHECKOUT / "loggen.yaml", folder / "loggen.yaml")
    return recipe


def _generate(recipe: Path, *extra: str) -> tuple[int, str, str]:
    out = recipe.parent / "canary.jsonl"
    res = runner.invoke(  # --force: the tests generate twice into one file
        app, ["generate", str(recipe), "-n", "50", "--days", "0.01", "--out", str(out), "--force", *extra]
    )
    return res.exit_code, res.stdout, res.stderr


def test_canary_recipe_without_params_warns(tmp_path: Path) -> None:
    recipe = _with_canary(tmp_path, own_recipe=True, loggen=False)
    code, out, err = _generate(recipe, "--canary", "0.2")
    assert code == 0, out + err
    assert "warning: no generation parameters" in err and "--params" in err, err
    assert "(default parameters)" in out
    # the recipe's own variants (no --canary) run through the canary's recipe too
    code, out, err = _generate(recipe)
    assert code == 0, out + err
    assert "warning: no generation parameters" in err, err


def test_no_warning_with_params_or_without_a_variant_recipe(tmp_path: Path) -> None:
    with_params = tmp_path / "with"
    with_params.mkdir()
    code, out, err = _generate(_with_canary(with_params, own_recipe=True, loggen=True), "--canary", "0.2")
    assert code == 0, out + err
    assert "warning" not in err, err
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    recipe = _with_canary(explicit, own_recipe=True, loggen=False)
    code, out, err = _generate(recipe, "--canary", "0.2", "--params", str(CHECKOUT / "loggen.yaml"))
    assert code == 0, out + err
    assert "warning" not in err, err
    # a treatment-only canary (no recipe of its own) is synthetic by design: no canary warning, only the
    # plain one that the log describes an invented system (no loggen.yaml)
    plain = tmp_path / "plain"
    plain.mkdir()
    code, out, err = _generate(
        _with_canary(plain, own_recipe=False, loggen=False), "--canary", "0.2", "--treatment", "price_items=0.5"
    )
    assert code == 0, out + err
    assert "canary" not in err and "invented system where every operation takes" in err, err


def test_any_recipe_without_params_warns_as_documented(tmp_path: Path) -> None:
    """docs/commands/evaluate.md: "Without one, `generate` warns and invents a system where every operation
    takes ~20 ms" (issue 16: it said nothing unless the recipe had a canary)."""
    recipe = _with_canary(tmp_path, own_recipe=False, loggen=False)
    code, out, err = _generate(recipe)
    assert code == 0, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"warning: no generation parameters (no loggen.yaml beside {recipe}"), err
    assert "every operation takes the generic defaults (20 ms median" in err and "--params" in err, err
    assert "(default parameters)" in out
    shutil.copy(CHECKOUT / "loggen.yaml", tmp_path / "loggen.yaml")  # beside the recipe now: no warning
    code, out, err = _generate(recipe)
    assert code == 0 and "warning" not in err, out + err


def test_a_bad_out_is_the_only_line(tmp_path: Path) -> None:
    """A wrong --out stops generate before the parameter warning: one line, the error."""
    recipe = _with_canary(tmp_path, own_recipe=True, loggen=False)
    res = runner.invoke(app, ["generate", str(recipe), "-n", "50", "--out", str(tmp_path / "no" / "x.jsonl")])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        f"error: --out {tmp_path / 'no' / 'x.jsonl'}: folder does not exist: {tmp_path / 'no'}"
    ], res.stderr


def test_the_summary_line_groups_thousands_as_convert_does(tmp_path: Path) -> None:
    out = tmp_path / "g.jsonl"
    res = runner.invoke(app, ["generate", str(CHECKOUT / "recipe.yaml"), "-n", "2000",
                              "--seed", "1", "-o", str(out)], env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert re.search(r"wrote \d{1,3},\d{3} spans of 2,000 requests of checkout", res.output), res.output
