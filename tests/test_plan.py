"""Plan files: round trip, schema errors as one line with file and line, staleness helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipemut.errors import InputFileError, PlanError
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, load_plan, parse_plan, recipe_sha256, write_plan
from recipemut.recipe.edits import Edit

SHA = "a" * 64


def _plan(**kw: object) -> Plan:
    m1 = PlannedMutation("parallelize:a->b", "parallelize", ("a", "b"), "Run b beside a.",
                         (Edit("set", ("operations", "b", "after"), []),),
                         {"latency_p95_ms": {"delta": -41.0, "ci": [-48.0, -35.0]}}, "improves")
    m2 = PlannedMutation("cache:c", "cache", ("c",), "Cache c.",
                         (Edit("set", ("operations", "c", "cache"), {"ttl_s": 600, "max_entries": 10}),))
    defaults: dict[str, object] = {"recipe": PlanRecipe("r.yaml", SHA, "demo", 4), "mutations": (m1, m2),
                                   "plan": ("cache:c", "parallelize:a->b")}
    defaults.update(kw)
    return Plan(**defaults)  # type: ignore[arg-type]


def test_write_then_load_gives_the_same_plan(tmp_path: Path) -> None:
    p = _plan()
    write_plan(p, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == p
    data = json.loads((tmp_path / "plan.json").read_text())
    assert data["planVersion"] == 1 and data["recipe"]["sha256"] == SHA
    assert data["mutations"][0]["edits"] == [{"op": "set", "path": ["operations", "b", "after"], "value": []}]


def test_unknown_keys_are_kept_not_interpreted(tmp_path: Path) -> None:
    d = _plan().to_dict()
    d["baseline"] = {"latency_p95_ms": 300}
    d["mutations"][0]["imputed_share"] = 0.1
    (tmp_path / "p.json").write_text(json.dumps(d))
    p = load_plan(tmp_path / "p.json")
    assert p.extra["baseline"] == {"latency_p95_ms": 300}
    assert p.to_dict()["mutations"][0]["imputed_share"] == 0.1


def test_chosen_follows_plan_order_and_only() -> None:
    p = _plan()
    assert [m.id for m in p.chosen()] == ["cache:c", "parallelize:a->b"]
    assert [m.id for m in p.chosen(["parallelize:a->b"])] == ["parallelize:a->b"]
    assert [e.path[-1] for e in p.edits()] == ["cache", "after"]
    with pytest.raises(PlanError, match="--only 'nope'"):
        p.chosen(["nope"])


def test_plan_naming_an_unknown_mutation_is_refused() -> None:
    with pytest.raises(PlanError, match="not in `mutations`"):
        _plan(plan=("ghost",))


def test_schema_error_names_file_line_and_key(tmp_path: Path) -> None:
    d = _plan().to_dict()
    d["mutations"][1]["edits"][0]["op"] = "frobnicate"
    f = tmp_path / "p.json"
    f.write_text(json.dumps(d, indent=2))
    with pytest.raises(PlanError) as ei:
        load_plan(f)
    msg = str(ei.value)
    lines = f.read_text().splitlines()
    assert msg.startswith(f"{f}:")
    assert "mutations[1].edits[0].op" in msg and "frobnicate" in msg
    assert ei.value.line is not None and "frobnicate" in lines[ei.value.line - 1]
    assert "\n" not in msg


def test_bad_sha_and_bad_json_and_missing_file(tmp_path: Path) -> None:
    d = _plan().to_dict()
    d["recipe"]["sha256"] = "XYZ"
    with pytest.raises(PlanError, match=r"recipe\.sha256"):
        parse_plan(json.dumps(d), source="p.json")
    with pytest.raises(PlanError, match="not valid JSON") as ei:
        parse_plan('{\n  "planVersion": 1,\n', source="p.json")
    assert ei.value.line == 3
    with pytest.raises(InputFileError, match="no such plan file"):
        load_plan(tmp_path / "absent.json")


def test_recipe_sha256_of_bytes_and_file(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_bytes(b"name: x\n")
    assert recipe_sha256(f) == recipe_sha256(b"name: x\n") == recipe_sha256(str(f))
    with pytest.raises(InputFileError):
        recipe_sha256(tmp_path / "nope.yaml")
