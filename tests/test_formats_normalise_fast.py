"""The fast paths of trace normalisation against plain references and the general paths.

Each fast path (span ids encoded in blocks of whole traces, the default rule on one table of
combinations, the cycle search over unfinished chains, the skew pass skipped when nothing starts
before its parent) must give exactly what the general path or a per-span reference gives, on inputs
where it applies and on inputs where it must step aside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _telemetry_helpers import recipe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipemut.logs import mapping as mapping_mod
from recipemut.logs import normalise as norm
from recipemut.logs.common import raw_frame
from recipemut.logs.mapping import DEFAULT_MAPPING, Rule, SpanMapping, assign_operations
from recipes import checkout_ops

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATH = Path("traces.json")


def frame(
    rows: list[dict[str, Any]], attrs: dict[str, list[Any]] | None = None, *, plain: bool = False
) -> pd.DataFrame:
    """A raw span frame (``formats.common.RAW_COLUMNS``) from row dicts; ``plain``: object columns, not arrow."""
    defaults: dict[str, Any] = {
        "parent_id": None,
        "parent_trace_id": None,
        "name": "x",
        "service": "svc",
        "peer_service": None,
        "kind": "server",
        "start_ns": 0,
        "dur_ns": 1,
        "error": False,
        "shared": False,
        "foreign_ref": False,
    }
    full = [{**defaults, **r, "index": i + 1} for i, r in enumerate(rows)]
    cols = {c: [r[c] for r in full] for c in (*defaults, "trace_id", "span_id", "index")}
    raw = raw_frame(cols, attrs or {})
    if plain:
        raw = raw.astype({c: object for c in raw.columns if pd.api.types.is_string_dtype(raw[c])})
    return raw


# ---- span ids: blocks of whole traces ---------------------------------------------------------------

ID = st.sampled_from(["a1", "b2", "c3", "A1", "", "0000000000000001", "zz-9", "e5f6e5f6e5f6e5f6"])


@st.composite
def traced_spans(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Spans of a few traces, each trace's spans in one run or spread over the file, ids often reused."""
    traces = draw(st.lists(st.sampled_from(["t1", "t2", "t3", "t4", "T5", ""]), min_size=1, max_size=5, unique=True))
    rows: list[dict[str, Any]] = []
    for t in traces:
        for _ in range(draw(st.integers(1, 6))):
            rows.append({"trace_id": t, "span_id": draw(ID), "parent_id": draw(st.none() | ID)})
    if draw(st.booleans()):  # interleave the traces
        rows = draw(st.permutations(rows))
    for r in rows:
        if draw(st.integers(0, 9)) == 0:
            r["parent_trace_id"] = "t9"
    return rows


def _parents_with(raw: pd.DataFrame, codes: norm.Codes) -> tuple[list[int], dict[str, int], list[str]]:
    counts = dict.fromkeys(norm.COUNT_KEYS, 0)
    notes: list[str] = []
    parent, _ = norm._parents(raw, codes, norm._ids_unique(codes), counts, notes)
    return parent.tolist(), counts, notes


def _arrow_codes(raw: pd.DataFrame) -> norm.Codes:
    return norm._arrow_codes(*(norm._arrow_strings(raw[c]) for c in ("trace_id", "span_id", "parent_id")))


@SETTINGS
@given(traced_spans(), st.integers(1, 4), st.booleans())
def test_block_codes_find_the_parents_the_plain_codes_find(rows, block, plain) -> None:
    raw = frame(rows, plain=plain)
    general = norm._codes(raw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(norm, "ID_BLOCK", block)
        fast = _arrow_codes(raw)
    assert fast[0].tolist() == general[0].tolist()  # trace codes: the same numbers
    tcode, scode, pcode, m = fast
    assert scode.max(initial=-1) < m and pcode.max(initial=-1) < m
    span, par = raw["span_id"].tolist(), raw["parent_id"].tolist()
    for i in range(len(raw)):
        assert (pcode[i] < 0) == (par[i] is None or par[i] != par[i])
        for j in range(len(raw)):
            if tcode[i] == tcode[j]:  # within a trace, equal codes exactly for equal ids
                assert (scode[i] == scode[j]) == (span[i] == span[j])
                assert (pcode[i] >= 0 and pcode[i] == scode[j]) == (par[i] == span[j])
    assert _parents_with(raw, fast) == _parents_with(raw, general)


def test_batched_traces_are_encoded_in_several_blocks() -> None:
    # two export batches: trace t1 ends in the first, t2 and t3 interleave in the second
    tcode = np.array([0, 0, 0, 1, 2, 1, 2, 2])
    assert norm._trace_blocks(tcode, 2).tolist() == [0, 3, 8]
    assert norm._trace_blocks(tcode, 100).tolist() == [0, 8]
    assert norm._trace_blocks(np.array([0, -1, 1, 1]), 1).tolist() == [0, 4]  # a span without trace id


@SETTINGS
@given(st.lists(st.integers(0, 5), min_size=0, max_size=40), st.integers(1, 8))
def test_trace_blocks_never_split_a_trace(tcode, block) -> None:
    codes = pd.factorize(np.array(tcode, dtype=np.int64))[0].astype(np.int64)
    bounds = norm._trace_blocks(codes, block)
    if not len(codes):
        assert bounds.tolist() == [0, 0]
        return
    assert bounds[0] == 0 and bounds[-1] == len(codes) and (np.diff(bounds) > 0).all()
    block_of = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    for t in set(codes.tolist()):
        assert len(set(block_of[codes == t].tolist())) == 1
    # every cut that keeps traces whole and lands on a target's first allowed row is taken
    if len(codes) > block:
        last = {t: int(np.flatnonzero(codes == t).max()) for t in set(codes.tolist())}
        allowed = [c for c in range(1, len(codes)) if all(last[t] < c for t in set(codes[:c].tolist()))]
        for target in range(block, len(codes), block):
            later = [c for c in allowed if c >= target]
            if later:
                assert later[0] in bounds.tolist()


def test_blocked_ids_on_a_large_batched_file_give_the_same_table() -> None:
    # 300 traces of 20 spans in 3 batches, each trace's spans spread over its batch (services grouped)
    rows = []
    for batch in range(3):
        for svc in range(4):
            for t in range(100):
                tid = f"{batch * 100 + t:032x}"
                for k in range(5):
                    sid = f"{(batch * 100 + t) * 20 + svc * 5 + k:016x}"
                    parent = None if svc == 0 and k == 0 else f"{(batch * 100 + t) * 20:016x}"
                    rows.append({"trace_id": tid, "span_id": sid, "parent_id": parent, "service": f"s{svc}"})
    raw = frame(rows)
    codes = _arrow_codes(raw)
    assert len(norm._trace_blocks(codes[0], norm.ID_BLOCK)) - 1 == 1  # 6000 spans: below one block
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(norm, "ID_BLOCK", 500)
        assert len(norm._trace_blocks(codes[0], norm.ID_BLOCK)) - 1 == 3
        fast = norm.normalise_table(raw, path=PATH, fmt="otlp", recipe=None, mapping=DEFAULT_MAPPING)
    general = norm.normalise_table(raw, path=PATH, fmt="otlp", recipe=None, mapping=DEFAULT_MAPPING)
    assert fast[0].equals(general[0]) and fast[1:] == general[1:]
    assert fast[1]["parent_missing"] == 0 and fast[1]["traces"] == 300


# ---- the whole table: blocked ids and shortcuts against one block ----------------------------------


@st.composite
def span_frames(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    rows = draw(traced_spans())
    for r in rows:
        r["start_ns"] = draw(st.integers(-1, 50))
        r["dur_ns"] = draw(st.integers(-1, 30))
        r["name"] = draw(st.sampled_from(["GetCart", "PriceItems", "other"]))
        r["kind"] = draw(st.sampled_from(["server", "client", None]))
        r["service"] = draw(st.sampled_from(["cart", "pricing", None]))
    n = len(rows)
    attrs = {
        "app.cost": draw(st.lists(st.none() | st.floats(0, 5, allow_nan=False), min_size=n, max_size=n)),
        "sampling.priority": draw(st.lists(st.sampled_from([None, "1", "0"]), min_size=n, max_size=n)),
    }
    return rows, attrs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 3 whole tables each
@given(span_frames(), st.integers(1, 3), st.booleans())
def test_normalise_table_is_the_same_with_blocked_ids(data, block, with_recipe) -> None:
    rows, attrs = data
    raw = frame(rows, attrs)
    rec = recipe(checkout_ops("load_cart", "price")) if with_recipe else None
    m = SpanMapping(cost_usd="app.cost")
    general = norm.normalise_table(raw, path=PATH, fmt="otlp", recipe=rec, mapping=m)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(norm, "ID_BLOCK", block)
        fast = norm.normalise_table(raw, path=PATH, fmt="otlp", recipe=rec, mapping=m)
    assert fast[0].equals(general[0])
    assert fast[1] == general[1] and fast[2] == general[2]
    # a numeric attribute column is read as it is; the same values as text give the same table
    text = {**attrs, "app.cost": [None if v is None else repr(v) for v in attrs["app.cost"]]}
    as_text = norm.normalise_table(frame(rows, text), path=PATH, fmt="otlp", recipe=rec, mapping=m)
    assert as_text[0].column("cost_usd").equals(general[0].column("cost_usd"))


# ---- parent cycles ----------------------------------------------------------------------------------


def _cycle_rows_reference(parent: list[int]) -> list[int]:
    on = []
    for x in range(len(parent)):
        y, steps = parent[x], 0
        while y >= 0 and y != x and steps <= len(parent):
            y, steps = parent[y], steps + 1
        if y == x:
            on.append(x)
    return on


@SETTINGS
@given(st.integers(0, 30).flatmap(lambda n: st.lists(st.integers(-1, max(n - 1, -1)), min_size=n, max_size=n)))
def test_cycles_are_the_rows_on_a_cycle(parent) -> None:
    assert norm._cycles(np.array(parent, dtype=np.int64)).tolist() == _cycle_rows_reference(parent)


@SETTINGS
@given(st.integers(1, 30).flatmap(lambda n: st.lists(st.integers(-1, n - 1), min_size=n, max_size=n)), st.booleans())
def test_cycles_shortcut_for_ordered_parents(raw_parent, forward) -> None:
    # parents all before (or all after) their children: no cycle, without the search
    n = len(raw_parent)
    parent = [p if (p < i if forward else p > i) else -1 for i, p in enumerate(raw_parent)]
    assert norm._cycles(np.array(parent, dtype=np.int64)).tolist() == [] == _cycle_rows_reference(parent)
    # one back edge makes a cycle the shortcut must not hide
    if n >= 2:
        loop = [1, 0] + [-1] * (n - 2)
        assert norm._cycles(np.array(loop, dtype=np.int64)).tolist() == [0, 1]


# ---- clock skew ---------------------------------------------------------------------------------------


def _skew_reference(start: list[int], parent: list[int], skew0: list[int]) -> tuple[list[int], int]:
    n = len(start)
    self_shift, pass_shift, skewed = [0] * n, list(skew0), 0
    kids: dict[int, list[int]] = {}
    for i, p in enumerate(parent):
        kids.setdefault(p, []).append(i)
    todo = list(kids.get(-1, []))
    while todo:
        nxt = []
        for p in todo:
            for k in kids.get(p, []):
                own = max(0, (start[p] + self_shift[p]) - (start[k] + pass_shift[p]))
                skewed += own > 0
                self_shift[k] = pass_shift[p] + own
                pass_shift[k] = self_shift[k] + skew0[k]
                nxt.append(k)
        todo = nxt
    skewed += sum(1 for s in skew0 if s)
    return [s + d for s, d in zip(start, self_shift, strict=True)], skewed


@st.composite
def forests(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    n = draw(st.integers(1, 25))
    parent = [draw(st.integers(-1, i - 1)) for i in range(n)]
    perm = draw(st.permutations(range(n)))
    where = {old: new for new, old in enumerate(perm)}
    shuffled = [-1] * n
    for old, p in enumerate(parent):
        shuffled[where[old]] = where[p] if p >= 0 else -1
    start = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))
    skew0 = [draw(st.sampled_from([0, 0, 0, 5, -3])) for _ in range(n)] if draw(st.booleans()) else [0] * n
    return start, shuffled, skew0


@SETTINGS
@given(forests(), st.booleans())
def test_skew_correction_matches_a_per_span_walk(forest, ordered) -> None:
    start, parent, skew0 = forest
    if ordered:  # no child before its parent: the shortcut path
        start = [0] * len(start)
        for _ in range(len(start)):
            start = [max(s, start[p]) if p >= 0 else s for s, p in zip(start, parent, strict=True)]
        skew0 = [0] * len(start)
    counts = dict.fromkeys(norm.COUNT_KEYS, 0)
    notes: list[str] = []
    got = norm._correct_skew(np.array(start, dtype=np.int64), np.array(parent), np.array(skew0), counts, notes)
    want, skewed = _skew_reference(start, parent, skew0)
    assert got.tolist() == want
    assert counts["clock_skew_corrected"] == skewed and len(notes) == (1 if skewed else 0)
    if ordered:
        assert skewed == 0


# ---- the default rule: one table of combinations --------------------------------------------------


def _assign_reference(rows: list[dict[str, Any]], opattr: list[Any] | None, rec: Any) -> tuple[list[int], list[bool]]:
    ops, amb = [], []
    for i, r in enumerate(rows):
        cand = opattr[i] if opattr is not None and opattr[i] is not None else r["name"]
        hits = {
            j
            for j, o in enumerate(rec.operations)
            if cand is not None
            and cand in {o.id, o.action} - {""}
            and (r["service"] == o.service or (r["kind"] == "client" and r["peer_service"] == o.service)
                 # a span naming no service, and calling none, by its name alone
                 or (r["service"] is None and not (r["kind"] == "client" and r["peer_service"] is not None)))
        }
        ops.append(next(iter(hits)) if len(hits) == 1 else -1)
        amb.append(len(hits) > 1)
    return ops, amb


NAMES = st.sampled_from(["GetCart", "load_cart", "Charge", "charge", "PriceItems", "", None])
SERVICES = st.sampled_from(["cart", "payments", "pricing", "", None])


@st.composite
def default_rule_cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Any] | None]:
    n = draw(st.integers(0, 30))
    rows = [
        {
            "trace_id": "t",
            "span_id": f"s{i}",
            "name": draw(NAMES) or "",
            "service": draw(SERVICES),
            "peer_service": draw(SERVICES),
            "kind": draw(st.sampled_from(["client", "server", None])),
        }
        for i in range(n)
    ]
    opattr = draw(st.none() | st.lists(NAMES, min_size=n, max_size=n))
    return rows, opattr


REC = recipe(
    [
        *checkout_ops("load_cart", "charge"),
        {"id": "charge_again", "service": "payments", "action": "Charge"},  # ambiguous with charge
        *checkout_ops("price"),
    ]
)


@SETTINGS
@given(default_rule_cases(), st.booleans(), st.booleans(), st.booleans())
def test_default_rule_matches_a_per_span_reference(case, plain, sparse, with_rule) -> None:
    rows, opattr = case
    raw = frame(rows, {"recipe.operation": opattr} if opattr is not None else {}, plain=plain)
    m = SpanMapping(rules=(Rule(op="price", name="GetCart", kind="server"),)) if with_rule else DEFAULT_MAPPING
    with pytest.MonkeyPatch.context() as mp:
        if sparse:  # the factorised combinations instead of one table
            mp.setattr(mapping_mod, "DENSE_PER_SPAN", 0)
            mp.setattr(mapping_mod, "DENSE_MIN", 0)
        op, ambiguous = assign_operations(raw, REC, m)
    want_op, want_amb = _assign_reference(rows, opattr, REC)
    if with_rule:
        for i, r in enumerate(rows):
            if r["name"] == "GetCart" and r["kind"] == "server":
                want_op[i], want_amb[i] = 3, False
    assert op.tolist() == want_op
    assert ambiguous.tolist() == want_amb


def test_default_rule_with_many_distinct_names_uses_the_factorised_combinations() -> None:
    # 400 spans, each its own name and service: 2 x 401 x 402 x 1 slots > 65536, so no dense table
    rows = [{"trace_id": "t", "span_id": f"s{i}", "name": f"n{i}", "service": f"v{i}"} for i in range(400)]
    rows[7].update(name="GetCart", service="cart")
    rows[9].update(name="Charge", service="payments")
    op, ambiguous = assign_operations(frame(rows), REC, DEFAULT_MAPPING)
    assert np.flatnonzero(op >= 0).tolist() == [7] and op[7] == 0
    assert np.flatnonzero(ambiguous).tolist() == [9]


# ---- small column helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize("plain", [False, True])
def test_empty_and_has_values_on_arrow_and_object_columns(plain) -> None:
    s = pd.Series(["a", "", None, ""], dtype="str")
    if plain:
        s = s.astype(object)
    assert norm._empty(s).tolist() == [False, True, False, True]
    assert norm._has_values(s) and not norm._has_values(pd.Series([None, None], dtype="str"))


def test_text_codes_on_arrow_and_object_columns() -> None:
    arrow = pd.Series(["b", None, "a", "b"], dtype="str")
    for s in (arrow, arrow.astype(object)):
        codes, values = mapping_mod._text_codes(s)
        assert codes.tolist() == [0, -1, 1, 0] and values.tolist() == ["b", "a"]
    codes, values = mapping_mod._text_codes(pd.Series([None, None], dtype="str"))
    assert codes.tolist() == [-1, -1] and len(values) == 0
    assert pa.array(pd.Series(["x"], dtype="str").array).type == pa.large_string()  # the zero-copy path's input


# ---- status, sampling and attribute shortcuts --------------------------------------------------------


@SETTINGS
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from([None, "ERROR", "OK"]), st.sampled_from([None, "1", "0"])), max_size=20
    ),
    st.booleans(),
)
def test_status_codes_with_and_without_halted_or_ok_tests(spans, with_tests) -> None:
    rows = [{"trace_id": "t", "span_id": f"s{i}", "error": e} for i, (e, _, _) in enumerate(spans)]
    raw = frame(rows, {"otel.status_code": [o for _, o, _ in spans], "app.halt": [h for _, _, h in spans]})
    halt = (mapping_mod.AttrTest("app.halt", equals="1"),) if with_tests else ()
    fine = (mapping_mod.AttrTest("app.halt", equals="0"),) if with_tests else ()
    got = mapping_mod.status_codes(raw, SpanMapping(halted=halt, ok=fine)).tolist()
    want = []
    for e, o, h in spans:
        code = 2 if with_tests and h == "1" else 1 if e or o == "ERROR" else 0
        want.append(0 if with_tests and h == "0" else code)
    assert got == want


@SETTINGS
@given(st.lists(st.sampled_from([None, "0.25", "0.5", "x"]), min_size=1, max_size=12), st.booleans())
def test_sampling_rates_skip_only_attributes_no_span_carries(probs, all_columns) -> None:
    # the same rates whether absent attributes are missing columns or columns of nulls
    rows = [{"trace_id": f"t{i % 3}", "span_id": f"s{i}"} for i in range(len(probs))]
    none = [None] * len(probs)
    attrs: dict[str, list[Any]] = {"sampling.probability": probs}
    if all_columns:
        attrs.update(
            {k: none for k in ("sampler.type", "sampler.param", "SampleRate", "tracestate", "sampling.priority")}
        )
    counts: dict[str, int] = {}
    rate = norm._sample_rates(frame(rows, attrs), DEFAULT_MAPPING, counts)
    want = {}
    for i, p in enumerate(probs):
        if p not in (None, "x"):
            want.setdefault(f"t{i % 3}", float(p))
    assert [None if np.isnan(r) else r for r in rate] == [want.get(f"t{i % 3}") for i in range(len(probs))]
    assert counts["sample_rate_from_trace"] == sum(p not in (None, "x") for p in probs)


@pytest.mark.parametrize("variant", ["missing", "all null", "some"])
def test_text_attributes_absent_null_or_present(variant) -> None:
    rows = [{"trace_id": "t", "span_id": f"s{i}"} for i in range(3)]
    attrs = {"all null": {"recipe.variant": [None] * 3}, "some": {"recipe.variant": ["b", None, "b"]}}.get(variant, {})
    table, _, _ = norm.normalise_table(frame(rows, attrs), path=PATH, fmt="otlp", recipe=None, mapping=DEFAULT_MAPPING)
    want = ["b", "control", "b"] if variant == "some" else ["control"] * 3
    assert table.column("variant").to_pylist() == want
    assert table.column("cache_key").to_pylist() == [None] * 3
    assert table.schema.field("variant").type == pa.string()
