"""A recipe drafted from logs alone (`recipemut import TRACES`): recipemut/profile/draft.py, usecases/drafting.py."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs.ingest import read_logs
from recipemut.predict.simulate import replay
from recipemut.profile.build import build_profile
from recipemut.profile.draft import MAX_OPERATIONS, draft_recipe
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "recipes" / "checkout"
REAL = ROOT / "tests" / "realdata"
runner = CliRunner()


def _spans(rows: list[tuple[str, str, str, float, float, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["request_id", "op", "service", "start_ms", "latency_ms", "span_id",
                                       "parent_span_id"])  # fmt: skip


def _after(doc: dict) -> dict[str, list[str]]:
    return {o["id"]: o.get("after", []) for o in doc["operations"]}


def test_nesting_and_order_make_after_edges_and_overlap_makes_none() -> None:
    # a holds b and c (nested); b and c overlap (side by side); d begins after both ended
    rows = []
    for t in ("t1", "t2", "t3"):
        rows += [(t, "a", "s", 0.0, 100.0, f"{t}a", None), (t, "b", "s", 1.0, 40.0, f"{t}b", f"{t}a"),
                 (t, "c", "s", 2.0, 50.0, f"{t}c", f"{t}a"), (t, "d", "s2", 60.0, 10.0, f"{t}d", f"{t}a")]  # fmt: skip
    d = draft_recipe(_spans(rows), name="x")
    assert _after(d.document) == {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert d.traces == 3 and d.spans == 12
    assert all(o["side_effects"] == "idempotent" for o in d.document["operations"])


def test_an_order_seen_in_too_few_traces_is_no_edge() -> None:
    rows = []
    for i in range(20):  # b after a in 18 of 20 traces (90% < 95%): no edge
        b_start = 11.0 if i < 18 else 5.0
        rows += [(f"t{i}", "a", "s", 0.0, 10.0, None, None), (f"t{i}", "b", "s", b_start, 10.0, None, None)]
    assert _after(draft_recipe(_spans(rows), name="x").document) == {"a": [], "b": []}
    rows = [r if not (r[1] == "b" and r[3] == 5.0) else (*r[:3], 11.0, *r[4:]) for r in rows]
    assert _after(draft_recipe(_spans(rows), name="x").document) == {"a": [], "b": ["a"]}


def test_an_end_an_ulp_past_the_next_start_is_still_before() -> None:
    start = 1.7e12 + 0.1
    lat = 0.7
    end = start + lat  # as a log writes the next start: the sum, which reading back as start + latency may pass
    rows = [("t", "a", "s", start, lat, None, None), ("t", "b", "s", np.nextafter(end, 0), 5.0, None, None)]
    assert _after(draft_recipe(_spans(rows), name="x").document)["b"] == ["a"]


def test_a_parent_cycle_gives_no_order_and_shared_names_get_their_service() -> None:
    rows = [("t", "x", "s1", 0.0, 34.0, "1", "2"), ("t", "y", "s1", 0.0, 34.0, "2", "1"),
            ("t", "get", "s1", 40.0, 1.0, "3", None), ("t", "get", "s2", 42.0, 1.0, "4", None)]  # fmt: skip
    doc = draft_recipe(_spans(rows), name="x").document
    assert _after(doc) == {"x": [], "y": [], "get_s1": ["x", "y"], "get_s2": ["get_s1"]}
    assert [(o["service"], o["action"]) for o in doc["operations"][2:]] == [("s1", "get"), ("s2", "get")]


def test_too_many_distinct_span_names_are_refused_naming_them() -> None:
    n = MAX_OPERATIONS + 1
    spans = _spans([("t", f"GET /user/{i}", "s", float(i), 1.0, None, None) for i in range(n)])
    with pytest.raises(LogError, match=r"1,001 distinct \(service, name\) pairs.*'GET /user/"):
        draft_recipe(spans, name="x")


def test_the_checkout_log_drafts_its_recipes_order_and_the_replay_of_the_recorded_requests() -> None:
    """Every dependency of the real recipe shows in the draft (a call never starts before what it waits
    for has ended), and the draft replays the recorded requests as the recipe does."""
    spans, _ = read_logs([CHECKOUT / "logs.jsonl.gz"])
    draft = draft_recipe(spans, name="checkout").document
    real = load_recipe(CHECKOUT / "recipe.yaml")
    drafted = nx.DiGraph([(a, o["id"]) for o in draft["operations"] for a in o.get("after", [])])
    drafted.add_nodes_from(o["id"] for o in draft["operations"])
    assert set(drafted.nodes) == set(real.ops)
    for a, b in real.dag.edges:
        assert nx.has_path(drafted, a, b), f"{b} waits for {a} in the recipe, not in the draft"
    assert nx.is_directed_acyclic_graph(drafted)

    import recipemut.recipe.model as model

    doc = {**draft, "version": real.version}
    recipe = model.recipe_from_dict(doc)
    base = replay(real, build_profile(spans, real), rng=np.random.default_rng(0)).latency_ms
    ours = replay(recipe, build_profile(spans, recipe), rng=np.random.default_rng(0)).latency_ms
    assert abs(np.percentile(ours, 50) / np.percentile(base, 50) - 1) < 0.01
    assert abs(np.percentile(ours, 95) / np.percentile(base, 95) - 1) < 0.02


@pytest.mark.parametrize("trace", sorted(p.name for p in REAL.glob("*.json")))
def test_every_real_trace_drafts_a_recipe_that_validates_and_profiles(trace: str, tmp_path: Path) -> None:
    out = tmp_path / "recipe.yaml"
    res = runner.invoke(app, ["import", str(REAL / trace), "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.startswith("# Drafted by `recipemut import` from ") and "side_effects: idempotent" in text
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    prof = runner.invoke(app, ["profile", str(out), "--logs", str(REAL / trace), "--store", "off", "-f", "json"])
    assert prof.exit_code == 0, prof.output
    assert "land on no operation" not in res.output  # every span read lands on a drafted operation


def test_the_zipkin_skew_trace_drafts_the_call_chain_and_replays_its_recorded_time(tmp_path: Path) -> None:
    out = tmp_path / "skew.yaml"
    assert runner.invoke(app, ["import", str(REAL / "zipkin_lens_skew.json"), "-o", str(out)]).exit_code == 0
    doc = yaml.safe_load(out.read_text())
    assert _after(doc) == {"get": [], "post": ["get"], "async": ["post"]}
    assert [o["service"] for o in doc["operations"]] == ["servicea", "serviceb", "serviceb"]
    spans, _ = read_logs([REAL / "zipkin_lens_skew.json"], recipe=load_recipe(out))
    r = load_recipe(out)
    rep = replay(r, build_profile(spans, r), rng=np.random.default_rng(0))
    assert rep.latency_ms.tolist() == pytest.approx([99.411], abs=0.01)  # the recorded request, own times replayed


def test_import_of_logs_prints_the_draft_or_json_and_says_what_it_wrote(tmp_path: Path) -> None:
    trace = str(REAL / "zipkin_lens_skew.json")
    shown = runner.invoke(app, ["import", trace])
    assert shown.exit_code == 0 and "name: zipkin_lens_skew" in shown.stdout and "after: [get]" in shown.stdout
    data = json.loads(runner.invoke(app, ["import", trace, "-f", "json"]).stdout)
    assert data["drafted_from"] == "logs" and data["traces"] == 1 and data["spans"] == data["spans_mapped"] == 3
    assert [o["id"] for o in data["recipe"]["operations"]] == ["get", "post", "async"]
    out = tmp_path / "r.yaml"
    res = runner.invoke(app, ["import", trace, "-o", str(out)], env={"COLUMNS": "300"})
    assert "3 operations drafted from 1 trace, recipe written to" in " ".join(res.stderr.split())


def test_a_span_log_keeps_its_recipes_name_and_version(tmp_path: Path) -> None:
    res = runner.invoke(app, ["import", str(CHECKOUT / "logs.jsonl.gz"), "-f", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)["recipe"]
    assert (doc["name"], doc["version"]) == ("checkout", 4)


def test_an_engine_file_with_more_files_is_a_usage_error_and_logs_as_a_recipe_name_import() -> None:
    argo = ROOT / "recipes" / "argo-ci" / "workflow.yaml"
    res = runner.invoke(app, ["import", str(argo), str(REAL / "zipkin_lens_skew.json")])
    assert res.exit_code == 2 and "an engine's file is imported alone" in " ".join(res.output.split())
    res = runner.invoke(app, ["validate", str(REAL / "zipkin_lens_skew.json")], env={"COLUMNS": "300"})
    assert res.exit_code == 1
    assert "(no recipe yet? recipemut import " in res.output and "-o recipe.yaml drafts one)" in res.output


def test_import_will_not_write_the_draft_over_a_log(tmp_path: Path) -> None:
    log = tmp_path / "t.json"
    log.write_bytes((REAL / "zipkin_lens_skew.json").read_bytes())
    res = runner.invoke(app, ["import", str(log), "-o", str(log)])
    assert res.exit_code != 0 and log.read_bytes() == (REAL / "zipkin_lens_skew.json").read_bytes()


def test_the_order_is_read_from_a_stable_share_of_traces_holding_many_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    import recipemut.profile.draft as draft

    rows = [(f"t{i}", op, "s", float(j * 10), 5.0, None, None) for i in range(50) for j, op in enumerate("abcd")]
    monkeypatch.setattr(draft, "MAX_PAIRS", 16 * 7 + 15)  # 7 requests of 4 operations fit (16 pairs each)
    first = draft.draft_recipe(_spans(rows), name="x")
    again = draft.draft_recipe(_spans(rows[::-1]), name="x")  # the same requests, in another order
    assert first.edges_from == again.edges_from == 7 and first.traces == 50
    assert first.notes == ["the order of the operations was read from 7 of the 50 traces"]
    assert _after(first.document) == {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]}


# ---- what an attacker's traces found (each failed before its fix) --------------------------------------


def _zipkin(tmp_path: Path, spans: list[dict], name: str = "t.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(spans))
    return p


def _span(i: int, name: str, start_us: int, dur_us: int, service: str | None = "s", parent: str | None = None,
          trace: str = "01") -> dict:  # fmt: skip
    span: dict = {"traceId": trace, "id": f"{i:x}", "name": name, "timestamp": 1700000000000000 + start_us,
                  "duration": dur_us}  # fmt: skip
    if service is not None:
        span["localEndpoint"] = {"serviceName": service}
    if parent is not None:
        span["parentId"] = parent
    return span


def test_import_never_writes_over_a_recipe_it_did_not_write(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_bytes((CHECKOUT / "recipe.yaml").read_bytes())
    trace = str(REAL / "zipkin_lens_skew.json")
    res = runner.invoke(app, ["import", trace, "-o", str(mine)], env={"COLUMNS": "300"})
    assert res.exit_code == 1 and "already exists (" in res.stderr and "give --force to replace it" in res.stderr
    assert mine.read_bytes() == (CHECKOUT / "recipe.yaml").read_bytes()
    drafted = tmp_path / "d.yaml"
    for _ in range(2):  # the same draft again: nothing to lose
        assert runner.invoke(app, ["import", trace, "-o", str(drafted)]).exit_code == 0
    drafted.write_text(drafted.read_text().replace("side_effects: idempotent", "side_effects: external", 1))
    edited = drafted.read_bytes()  # a draft the user edited, as its header asks: never replaced without --force
    assert runner.invoke(app, ["import", trace, "-o", str(drafted)]).exit_code == 1 and drafted.read_bytes() == edited
    assert runner.invoke(app, ["import", trace, "-o", str(drafted), "--force"]).exit_code == 0


@pytest.mark.parametrize("name", ["1e3", "4038e79168401237", "0x1F", ".inf", "-1E+3", "12e03"])
def test_a_name_yaml_reads_as_a_number_is_quoted_and_reads_back(tmp_path: Path, name: str) -> None:
    trace = _zipkin(tmp_path, [_span(1, name, 0, 100, service=name)])
    res = runner.invoke(app, ["import", str(trace), "-f", "json"])
    assert res.exit_code == 0, res.output
    (op,) = json.loads(res.stdout)["recipe"]["operations"]
    out = tmp_path / "r.yaml"
    assert runner.invoke(app, ["import", str(trace), "-o", str(out)]).exit_code == 0
    (read,) = load_recipe(out).operations
    assert (read.action, read.service) == (op["action"], op["service"]) == (name, name)


def test_spans_that_name_no_service_are_drafted_and_read_by_their_name(tmp_path: Path) -> None:
    trace = _zipkin(tmp_path, [_span(1, "GET /", 0, 1000, service=None), _span(2, "db", 100, 400, None, parent="1")])
    out = tmp_path / "r.yaml"
    res = runner.invoke(app, ["import", str(trace), "-o", str(out)])
    assert res.exit_code == 0 and "land on no operation" not in res.output, res.output
    spans, report = read_logs([trace], recipe=load_recipe(out))
    assert sorted(spans["op"]) == ["GET_", "db"] and report.spans_kept == 2


def test_span_log_operations_no_id_can_name_are_left_out_and_said(tmp_path: Path) -> None:
    log = tmp_path / "n.jsonl"
    rows = [{"request_id": f"r{t}", "op": op, "start_ms": 1.76e12 + t * 1e4 + i * 10, "latency_ms": 5.0,
             "status": "ok", "service": "svc"} for t in range(3) for i, op in enumerate(["a_b", "a b", "http:/x"])]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = runner.invoke(app, ["import", str(log), "-f", "json"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [o["id"] for o in data["recipe"]["operations"]] == ["a_b"] and data["spans_mapped"] == 3
    assert "6 spans of operations no recipe id can name left out: 'a b' (3), 'http:/x' (3)" in res.stderr


def test_names_that_meet_on_one_id_keep_their_spans_apart(tmp_path: Path) -> None:
    spans = [_span(10 * t + i, n, 10 * i, 5, trace=f"{t:02x}") for t in range(4) for i, n in enumerate(["a b", "a_b"])]
    trace = _zipkin(tmp_path, spans)
    out = tmp_path / "r.yaml"
    assert runner.invoke(app, ["import", str(trace), "-o", str(out)]).exit_code == 0
    r = load_recipe(out)
    assert {(o.id, o.action) for o in r.operations} == {("a_b", "a_b"), ("a_b_2", "a b")}
    read, report = read_logs([trace], recipe=r)
    assert report.spans_kept == 8 and read.groupby("op").size().to_dict() == {"a_b": 4, "a_b_2": 4}


def test_a_span_log_naming_a_recipe_no_recipe_can_be_called_is_one_error(tmp_path: Path) -> None:
    log = tmp_path / "n.jsonl"
    log.write_text(json.dumps({"request_id": "r", "recipe": "my recipe", "op": "a", "start_ms": 1.76e12,
                               "latency_ms": 5.0, "status": "ok"}) + "\n")  # fmt: skip
    res = runner.invoke(app, ["import", str(log)], env={"COLUMNS": "300"})
    assert res.exit_code == 1 and "the spans name their recipe 'my recipe', which no recipe can be called" in res.stderr


def test_parent_links_the_times_deny_and_calls_at_one_instant_give_no_order(tmp_path: Path) -> None:
    # a 3-cycle of parent links: only C inside A agrees with the times (B starts after A, C after B)
    cyc = [_span(0xA1, "A", 0, 1000, parent="b1"), _span(0xB1, "B", 100, 500, parent="c1"),
           _span(0xC1, "C", 200, 200, parent="a1")]  # fmt: skip
    doc = json.loads(runner.invoke(app, ["import", str(_zipkin(tmp_path, cyc)), "-f", "json"]).stdout)["recipe"]
    assert _after(doc) == {"A": [], "B": [], "C": ["A"]}
    zero = [_span(1, "a", 0, 0), _span(2, "b", 0, 0), _span(3, "c", 0, 0)]
    doc = json.loads(runner.invoke(app, ["import", str(_zipkin(tmp_path, zero, "z.json")), "-f", "json"]).stdout)
    assert _after(doc["recipe"]) == {"a": [], "b": [], "c": []}


def test_the_reduction_keeps_exactly_the_edges_no_path_implies() -> None:
    from recipemut.profile.draft import _reduced

    rng = np.random.default_rng(3)
    for n in (2, 5, 12, 30):
        for _ in range(20):
            m = np.triu(rng.random((n, n)) < 0.3, 1)
            g = nx.DiGraph([(int(a), int(b)) for a, b in zip(*np.nonzero(m), strict=True)])
            assert sorted(_reduced(g)) == sorted(nx.transitive_reduction(g).edges())


def test_a_fifo_given_to_import_is_refused_without_being_opened(tmp_path: Path) -> None:
    """is_log read the head of a FIFO to tell a log, and import waited on it for good."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    res = subprocess.run([sys.executable, "-m", "recipemut", "import", str(fifo)], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert res.returncode == 1 and "is a FIFO (named pipe), not a recipe file" in res.stderr


def test_a_span_log_operation_on_two_services_is_one_operation(tmp_path: Path) -> None:
    """A span log names the operation by its id: it was drafted as x_a and x_b, which none of its spans named, and
    the import failed on its own logs."""
    log = tmp_path / "two.jsonl"
    rows = [{"request_id": f"r{t}", "op": "x", "start_ms": 1.76e12 + t, "latency_ms": 5.0, "status": "ok",
             "service": svc} for t, svc in enumerate(["b", "a", "b", "b"])]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = runner.invoke(app, ["import", str(log), "-f", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [(o["id"], o["service"]) for o in data["recipe"]["operations"]] == [("x", "b")]  # the most spans' service
    assert data["spans"] == data["spans_mapped"] == 4
