"""Numbers in loggen.yaml that would overflow the generator (huge lists, NaN or huge times) are one error line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import RecipemutError
from recipemut.loggen import load_params

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.mark.parametrize(
    ("yaml_text", "said"),
    [
        ("fields: {cart: {items_mean: 1.0e9}}\n", "at most 100,000"),
        ("fields: {cart: {items_max: 1.0e12}}\n", "at most 100,000"),
        ("fields: {cart: {items_mean: .nan}}\n", "finite"),
        ("operations: {lookup_tax: {per_item_ms: .nan}}\n", "finite"),
        ("operations: {lookup_tax: {per_item_ms: 1.0e308}}\n", "at most 86,400,000"),
        ("operations: {lookup_tax: {latency_median_ms: .inf}}\n", "finite"),
        ("defaults: {cost_noise: 1.0e300}\n", "at most 1e+12"),
    ],
)
def test_a_number_the_generator_cannot_use_is_refused_with_its_line(tmp_path: Path, yaml_text: str, said: str) -> None:
    params = tmp_path / "loggen.yaml"
    params.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(RecipemutError) as e:
        load_params(params)
    assert said in str(e.value) and "loggen.yaml:1" in str(e.value)


def test_generate_with_a_huge_list_is_one_line_not_a_memory_error(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    shutil.copy(ROOT / "recipes" / "checkout" / "recipe.yaml", recipe)
    params = tmp_path / "lg.yaml"
    params.write_text("fields: {cart: {items_mean: 1.0e9}}\n", encoding="utf-8")
    res = runner.invoke(app, ["generate", str(recipe), "-n", "100", "--params", str(params),
                              "--out", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 1, res.output
    assert "at most 100,000" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.jsonl").exists()
