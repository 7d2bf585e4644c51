"""Zipkin v2 JSON: the real fixtures (simple-db, skew, Jaeger's collector sample), shared halves and skew."""

from __future__ import annotations

import json

import pytest
from _telemetry_helpers import EXAMPLE, real, recipe

from recipemut.logs import traces as formats
from recipemut.profile.build import build_profile
from recipemut.recipe.loader import load_recipe


def test_simple_db_by_hand() -> None:
    # five spans of one trace; durations in the file (us): 2033, 2414, 6051, 252016, 1118
    df, counts, notes = formats.read(real("zipkin_lens_simple-db-p6.json"), recipe=None)
    assert formats.detect_file(real("zipkin_lens_simple-db-p6.json")) == "zipkin"
    assert df["latency_ms"].tolist() == pytest.approx([2.033, 2.414, 6.051, 252.016, 1.118])
    assert df["start_ms"].iloc[3] == pytest.approx(1541485537291.342)
    assert df["service"].unique().tolist() == ["bootifulmeters"]
    assert sorted(df["op"].unique()) == ["call", "http:/book", "insert"]
    assert df["request_id"].unique().tolist() == ["19f84f102048e047"]
    # without a recipe every span is an operation named by its span: the server span holds the four calls
    assert {k: v for k, v in counts.items() if v} == {
        "spans_read": 5,
        "spans_mapped": 5,
        "traces": 1,
        "own_time_charged": 1,
    }
    assert notes == [
        "1 span holds spans of other operations: each is charged its own time (its span minus the time those cover)"
    ]


def test_skew_fixture_merges_the_shared_halves_and_corrects_the_server_clock() -> None:
    # "post" is recorded twice with id 74280ae0c10d8062: the CLIENT half by servicea
    # (1470150004074202, 94539 us) and the shared SERVER half by serviceb (1470150004008761, 93577 us):
    # serviceb's clock is ~65.9 ms behind. Its child "async" (008762) moves with it.
    df, counts, notes = formats.read(real("zipkin_lens_skew.json"), recipe=None)
    assert counts["spans_read"] == 4 and len(df) == 3
    assert counts["shared_merged"] == 1
    post = df[df["op"] == "post"].iloc[0]
    assert post["latency_ms"] == pytest.approx(94.539)  # the client's view
    assert post["start_ms"] == pytest.approx(1470150004074.202)
    assert post["service"] == "serviceb"  # the server that ran it
    # server centred in the client: shift = 074202 + (94539 - 93577) // 2 - 008761 = 65922 us
    asyn = df[df["op"] == "async"].iloc[0]
    assert asyn["start_ms"] == pytest.approx(1470150004008.762 + 65.922)
    assert asyn["latency_ms"] == pytest.approx(65.0)
    assert counts["clock_skew_corrected"] == 1
    assert any("client half for 1" in n for n in notes)


def test_prefer_server_latency_through_the_mapping(tmp_path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text("apiVersion: recipemut/v1\nkind: SpanMapping\nmerge: {latency: server}\n", encoding="utf-8")
    df, _, notes = formats.read(real("zipkin_lens_skew.json"), recipe=None, mapping=m)
    assert df.loc[df["op"] == "post", "latency_ms"].item() == pytest.approx(93.577)
    assert any("server half for 1" in n for n in notes)


def test_jaeger_collector_sample_tiny_times() -> None:
    df, _, _ = formats.read(real("zipkin_v2_jaeger_testdata_02.json"), recipe=None)
    assert df[["op", "service"]].values.tolist() == [["foo", "bar"]]
    assert df["latency_ms"].item() == pytest.approx(0.010)
    assert df["start_ms"].item() == pytest.approx(0.001)


def test_error_tag_client_peer_matching_and_invalid_halves(tmp_path) -> None:
    spans = [
        {
            "traceId": "t1",
            "id": "a",
            "kind": "CLIENT",
            "name": "get",
            "timestamp": 1_000,
            "duration": 300,
            "localEndpoint": {"serviceName": "frontend"},
            "remoteEndpoint": {"serviceName": "cart"},
            "tags": {"error": "timeout"},
        },
        {"traceId": "t1", "id": "b", "name": "get", "localEndpoint": {"serviceName": "cart"}},  # no times
    ]
    p = tmp_path / "z.json"
    p.write_text(json.dumps(spans), encoding="utf-8")
    r = recipe([{"id": "load_cart", "service": "cart", "action": "get"}])
    df, counts, notes = formats.read(p, recipe=r)
    assert df["op"].tolist() == ["load_cart"] and df["service"].tolist() == ["cart"]
    assert df["status"].tolist() == ["error"]
    assert counts["invalid_spans"] == 1
    assert any("without id, start or duration (or with one negative" in n for n in notes)


def test_example_recipe_profiles_from_the_trace_alone() -> None:
    r = load_recipe(EXAMPLE / "recipe.yaml")
    df, counts, notes = formats.read(EXAMPLE / "trace.json", recipe=r, mapping=EXAMPLE / "mapping.yaml")
    by_op = dict(zip(df["op"], df["latency_ms"], strict=True))
    assert by_op == pytest.approx(
        {"next_id": 6.051, "insert_book": 2.414, "insert_revinfo": 2.033, "insert_book_aud": 1.118}
    )
    assert counts["unmapped_spans"] == 1 and "'http:/book' (bootifulmeters) x1" in notes[-1]
    prof = build_profile(df, r)
    assert prof.n_requests == 1
    assert prof.stats("next_id").p50_ms == pytest.approx(6.051)
    # without the mapping the three inserts are ambiguous, and only the sequence call maps
    df0, c0, _ = formats.read(EXAMPLE / "trace.json", recipe=r)
    assert df0["op"].tolist() == ["next_id"] and c0["ambiguous_spans"] == 3


def test_cli_profile_and_suggest_from_the_trace_through_the_mapping() -> None:
    from typer.testing import CliRunner

    from recipemut.cli import app

    runner = CliRunner()
    args = [str(EXAMPLE / "recipe.yaml"), "--logs", str(EXAMPLE / "trace.json"), "--map", str(EXAMPLE / "mapping.yaml")]
    res = runner.invoke(app, ["profile", *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["summary"]["spans"] == 4 and out["summary"]["requests"] == 1
    assert {o["op"]: o["p50_ms"] for o in out["ops"]} == pytest.approx(
        {"next_id": 6.051, "insert_book": 2.414, "insert_revinfo": 2.033, "insert_book_aud": 1.118}
    )
    # recorded end to end: first start (391810 us) to last end (498305 + 1118 us)
    assert out["e2e"]["latency_p50_ms"] == pytest.approx(107.613, abs=1e-3)
    res = runner.invoke(app, ["suggest", *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["recipe"]["name"] == "book_post" and plan["report"]["baseline"]["requests"] == 1
    # both inserts are external side effects: nothing may run them in parallel, and suggest says so
    assert plan["plan"] == []


def test_cli_forced_format_and_bad_mapping_are_one_line_errors(tmp_path) -> None:
    from typer.testing import CliRunner

    from recipemut.cli import app

    runner = CliRunner()
    recipe_path = str(EXAMPLE / "recipe.yaml")
    res = runner.invoke(app, ["profile", recipe_path, "--logs", str(EXAMPLE / "trace.json"), "--log-format", "otlp"])
    assert res.exit_code == 1, res.output
    assert "trace.json" in res.output and "Traceback" not in res.output
    bad = tmp_path / "m.yaml"
    bad.write_text("apiVersion: recipemut/v1\nkind: SpanMapping\noperations:\n  - op: nope\n    name: x\n")
    res = runner.invoke(app, ["profile", recipe_path, "--logs", str(EXAMPLE / "trace.json"), "--map", str(bad)])
    assert res.exit_code == 1, res.output
    assert f"{bad}:4" in res.output and "'nope' names no operation" in res.output


def test_strict_refuses_an_unusable_span(tmp_path) -> None:
    from recipemut.errors import LogError
    from recipemut.logs.ingest import read_logs

    spans = [
        {
            "traceId": "t1",
            "id": "a",
            "name": "get",
            "timestamp": 1_000,
            "duration": 5,
            "localEndpoint": {"serviceName": "s"},
        },
        {"traceId": "t1", "id": "b", "name": "get", "localEndpoint": {"serviceName": "s"}},
    ]
    p = tmp_path / "z.json"
    p.write_text(json.dumps(spans), encoding="utf-8")
    df, report = read_logs([p])
    assert len(df) == 1 and report.format_counts["invalid_spans"] == 1
    with pytest.raises(LogError, match=r"span #2 has no") as e:
        read_logs([p], strict=True)
    assert e.value.file == str(p)


# ---- odd values where real exporters write strings and numbers ----------------------------------------


def _simple_db_with(tmp_path, i: int, key: str, value) -> tuple:  # type: ignore[no-untyped-def]
    """The simple-db trace with span ``i``'s ``key`` (``a.b`` for a nested key) set to ``value``."""
    spans = json.loads((EXAMPLE / "trace.json").read_text())
    *outer, last = key.split(".")
    part = spans[i]
    for k in outer:
        part = part[k]
    part[last] = value
    p = tmp_path / "z.json"
    p.write_text(json.dumps(spans), encoding="utf-8")
    return p, load_recipe(EXAMPLE / "recipe.yaml")


@pytest.mark.parametrize("key", ["timestamp", "duration"])
@pytest.mark.parametrize("value", [10**30, -(10**30), "1e20", 1e300])
def test_a_time_beyond_146_years_makes_the_span_invalid(tmp_path, key: str, value) -> None:  # type: ignore[no-untyped-def]
    p, r = _simple_db_with(tmp_path, 2, key, value)  # span 3 is the sequence call, next_id
    df, counts, notes = formats.read(p, recipe=r, mapping=EXAMPLE / "mapping.yaml")
    assert counts["invalid_spans"] == 1 and "span #3" in notes[0]
    assert "next_id" not in df["op"].tolist() and len(df) == 3


@pytest.mark.parametrize("key", ["localEndpoint.serviceName", "remoteEndpoint.serviceName"])
def test_a_service_name_that_is_a_number_or_boolean_reads_as_json_writes_it(tmp_path, key: str) -> None:  # type: ignore[no-untyped-def]
    p, _ = _simple_db_with(tmp_path, 2, key, 7)
    df, _, _ = formats.read(p, recipe=None)
    assert "7" in df["service"].tolist() or key.startswith("remote")
    p, _ = _simple_db_with(tmp_path, 2, key, True)
    df, _, _ = formats.read(p, recipe=None)
    assert len(df) == 5


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("localEndpoint.serviceName", {"a": 1}),
        ("remoteEndpoint.serviceName", ["app_db"]),
        ("traceId", {"high": 1, "low": 2}),
        ("id", ["5d532ef6fed52445"]),
        ("parentId", {"id": "19f84f102048e047"}),
        ("name", ["insert"]),
    ],
)
def test_an_object_or_list_where_a_string_belongs_is_a_log_error_naming_the_span(tmp_path, key: str, value) -> None:  # type: ignore[no-untyped-def]
    from recipemut.errors import LogError

    p, r = _simple_db_with(tmp_path, 1, key, value)
    kind = "object" if isinstance(value, dict) else "list"
    with pytest.raises(LogError, match=rf"span 2: {key} is a JSON {kind}, expected a string") as e:
        formats.read(p, recipe=r)
    assert e.value.file == str(p)


def test_cli_odd_values_are_one_line_or_a_note_never_a_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from recipemut.cli import app

    runner = CliRunner()
    mapping = str(EXAMPLE / "mapping.yaml")
    p, _ = _simple_db_with(tmp_path, 0, "localEndpoint.serviceName", {"a": 1})
    res = runner.invoke(app, ["profile", str(EXAMPLE / "recipe.yaml"), "--logs", str(p), "--map", mapping])
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert f"error: {p}: span 1: localEndpoint.serviceName is a JSON object" in res.stderr
    p, _ = _simple_db_with(tmp_path, 2, "timestamp", 10**30)
    res = runner.invoke(app, ["profile", str(EXAMPLE / "recipe.yaml"), "--logs", str(p), "--map", mapping])
    assert res.exit_code == 0 and res.exception is None, res.exception
    said = "1 span without id, start or duration (or with one negative or out of range) dropped (span #3...)"
    assert said in res.stderr
