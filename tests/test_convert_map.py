"""``convert`` of traces for a recipe (recipemut/usecases/convert.py, recipemut/commands/convert.py,
recipemut/usecases/partition.py ``recipe=``): ``convert TRACES --recipe R --map M -o x.parquet`` writes the
spans as ``profile R --logs TRACES --map M`` reads them, so that ``profile R --logs x.parquet`` gives the
same profile, on every trace fixture that has a mapping; ``--map`` without the recipe is refused in one
line; traces converted without a recipe keep their span names, and a note says how to map them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from _convert_helpers import ROOT, lines, run

from recipemut.logs.mapping import MappingError
from recipemut.recipe.loader import load_recipe
from recipemut.usecases.convert import convert_logs
from recipemut.usecases.inputs import LogSource

TR = ROOT / "tests" / "data" / "traces"
DB = ROOT / "recipes" / "zipkin_simple_db"
#: (recipe, traces, mapping): every mapping fixture, with each recipe it maps to
CASES = [
    (TR / "tempo_checkout.yaml", TR / "tempo_checkout.tempo.json", TR / "tempo_checkout.mapping.yaml"),
    (DB / "recipe.yaml", DB / "trace.json", DB / "mapping.yaml"),
    (TR / "hotrod_drivers.yaml", TR / "hotrod_n_plus_one.jaeger.json", TR / "hotrod_drivers.mapping.yaml"),
    (TR / "hotrod_drivers_foreach.yaml", TR / "hotrod_n_plus_one.jaeger.json", TR / "hotrod_drivers.mapping.yaml"),
    (TR / "hotrod_routes.yaml", TR / "hotrod_routes_overlap.jaeger.json", TR / "hotrod_routes.mapping.yaml"),
]
IDS = [r.stem for r, _, _ in CASES]


def _profile(recipe: Path, *logs: str) -> dict[str, Any]:
    """``profile -f json`` without what names the files read (the ingest report)."""
    r = run("profile", str(recipe), "--logs", *logs, "-f", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    data.pop("ingest")
    data["summary"].pop("text")  # names the file
    return dict(data)


def test_every_mapping_fixture_is_a_case() -> None:
    found = {*TR.glob("*.mapping.yaml"), *ROOT.glob("recipes/*/mapping.yaml")}
    assert found == {m for _, _, m in CASES}


@pytest.mark.parametrize(("recipe", "logs", "mapping"), CASES, ids=IDS)
def test_converted_traces_profile_as_the_traces(recipe: Path, logs: Path, mapping: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    r = run("convert", str(logs), "--recipe", str(recipe), "--map", str(mapping), "-o", str(out))
    assert r.exit_code == 0, r.output
    rec = load_recipe(recipe)
    t = pq.read_table(out)
    assert set(t.column("op").to_pylist()) <= set(rec.ops)
    assert set(t.column("recipe").to_pylist()) == {rec.name}
    assert {o.id: o.service for o in rec.operations if o.id in set(t.column("op").to_pylist())} == dict(
        zip(t.column("op").to_pylist(), t.column("service").to_pylist(), strict=True)
    )
    want = _profile(recipe, str(logs), "--map", str(mapping))
    got = _profile(recipe, str(out))
    assert got["ops"] == want["ops"]
    assert got == want  # the critical path, the calls and their findings too


def test_dask_reads_the_converted_traces(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    recipe, logs, mapping = CASES[0]
    out = tmp_path / "t.parquet"
    assert run("convert", str(logs), "--recipe", str(recipe), "--map", str(mapping), "-o", str(out)).exit_code == 0
    want = _profile(recipe, str(logs), "--map", str(mapping))
    got = _profile(recipe, str(out), "--engine", "dask")
    assert [o["op"] for o in got["ops"]] == ["load_cart", "charge"]
    assert got["ops"] == want["ops"]


def test_into_a_folder_too(tmp_path: Path) -> None:
    recipe, logs, mapping = CASES[1]
    r = run("convert", str(logs), "--recipe", str(recipe), "--map", str(mapping), "-o", f"{tmp_path}/days/")
    assert r.exit_code == 0, r.output
    assert _profile(recipe, f"{tmp_path}/days")["ops"] == _profile(recipe, str(logs), "--map", str(mapping))["ops"]


def test_map_without_the_recipe_is_refused_in_one_line(tmp_path: Path) -> None:
    _, logs, mapping = CASES[0]
    out = tmp_path / "t.parquet"
    r = run("convert", str(logs), "--map", str(mapping), "-o", str(out))
    assert r.exit_code == 2, r.output
    said = " ".join(lines(r.output))
    assert str(mapping) in said and "--recipe RECIPE" in said and "Traceback" not in said
    assert not out.exists()


def test_map_of_another_recipe_is_refused_before_reading(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    r = run("convert", str(CASES[0][1]), "--recipe", str(CASES[4][0]), "--map", str(CASES[0][2]), "-o", str(out))
    assert r.exit_code == 1, r.output
    (line,) = lines(r.output)
    assert f"{CASES[0][2]}:" in line and "'load_cart' names no operation of recipe 'hotrod_routes'" in line
    assert not out.exists()


def test_recipe_without_map_is_the_default_matching(tmp_path: Path) -> None:
    """zipkin_simple_db's next_id is found by its action ("call"): only the recipe says so."""
    recipe, logs, _ = CASES[1]
    out = tmp_path / "db.parquet"
    r = run("convert", str(logs), "--recipe", str(recipe), "-o", str(out), "-f", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["recipe"] == load_recipe(recipe).name == "book_post"
    assert "next_id" in pq.read_table(out).column("op").to_pylist()
    assert _profile(recipe, str(out)) == _profile(recipe, str(logs))


def test_run_history_for_its_workflow(tmp_path: Path) -> None:
    recipe, logs = ROOT / "recipes" / "argo-ci" / "workflow.yaml", ROOT / "recipes" / "argo-ci" / "runs.yaml"
    out = tmp_path / "runs.parquet"
    assert run("convert", str(logs), "--recipe", str(recipe), "-o", str(out)).exit_code == 0
    assert _profile(recipe, str(out)) == _profile(recipe, str(logs))


def test_traces_without_a_recipe_keep_their_names_and_say_how(tmp_path: Path) -> None:
    _, logs, _ = CASES[0]
    out = tmp_path / "t.parquet"
    r = run("convert", str(logs), "-o", str(out), "-f", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["recipe"] is None
    t = pq.read_table(out)
    assert sorted(t.column("op").to_pylist()) == [
        "GET /checkout", "cart.CartService/GetCart", "payment.PaymentService/Charge", "payment.PaymentService/Charge",
    ]  # fmt: skip
    assert t.column("recipe").null_count == t.num_rows
    (note,) = [x for x in lines(r.stderr) if "--recipe RECIPE" in x]
    assert note.startswith(f"note: {logs}: otlp spans are written under their span names, for no recipe")


def test_native_logs_need_no_note_and_are_written_as_they_are(tmp_path: Path) -> None:
    log = tmp_path / "n.jsonl"
    span = '{"request_id": "r1", "recipe": "%s", "op": "%s", "start_ms": 1, "latency_ms": 2, "status": "ok"}\n'
    log.write_text(span % ("other", "x") + span % ("tempo_checkout", "charge"))
    for extra in ([], ["--recipe", str(CASES[0][0])]):
        out = tmp_path / f"n{len(extra)}.parquet"
        r = run("convert", str(log), "-o", str(out), *extra)
        assert r.exit_code == 0, r.output
        assert "--recipe RECIPE" not in r.output
        assert pq.read_table(out).column("op").to_pylist() == ["x", "charge"]


def test_the_flow_takes_a_loaded_recipe_and_refuses_a_mapping_without_one(tmp_path: Path) -> None:
    recipe, logs, mapping = CASES[0]
    source = LogSource.of(logs, mapping=mapping)
    got = convert_logs(source, tmp_path / "t.parquet", recipe=load_recipe(recipe))
    assert (got.rows, got.recipe, got.hint) == (3, "tempo_checkout", None)
    with pytest.raises(MappingError) as e:
        convert_logs(source, tmp_path / "u.parquet")
    assert e.value.code == "no-recipe" and e.value.file == str(mapping)
    assert not (tmp_path / "u.parquet").exists()
