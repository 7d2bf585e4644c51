"""The bytes model summed over requests (``summed_delta``, ``byte_sums``), what ``datapipe`` scores its
candidates with, against the per-request arrays (``latency_delta``) the simulator keeps; and the
variants ``_primary_spans`` finds without walking every span."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
from _operators_helpers import make_profile, mini, scenario, scenario_doc, scenario_profile
from hypothesis import given, settings
from hypothesis import strategies as st

from recipemut.mutate.mutation import mutate
from recipemut.mutate.operators import OperatorContext, datapipe
from recipemut.predict import bytesmodel
from recipemut.profile.build import Profile
from recipemut.recipe import transfer
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import Recipe, recipe_from_dict
from recipemut.usecases import inputs

FORMATS = sorted(n for n in transfer.FORMATS if n not in transfer.COMPRESSIONS)
COMPRESSIONS = sorted(transfer.COMPRESSIONS)
TYPES = ["object", "array", "bytes", "string", "integer"]


def assert_sums_of_arrays(s: bytesmodel.SummedDelta, d: bytesmodel.BytesDelta, p: Profile) -> None:
    """``s`` is ``d``'s arrays summed over the requests, to float rounding."""
    assert set(s.latency_ms) == set(d.per_op) and set(s.bytes) == set(d.bytes_per_op)
    assert s.unfitted == d.unfitted
    for op in d.per_op:
        j = p.col(op)
        # rounding is relative to the bytes involved, not to a result that may cancel to ~0
        scale = 1.0 + float(np.nansum(p.bytes_in[:, j]) + np.nansum(p.bytes_out[:, j]))
        assert s.latency_ms[op] == pytest.approx(float(d.per_op[op].sum()), rel=1e-12, abs=1e-12 * scale)
        assert s.bytes[op] == pytest.approx(float(d.bytes_per_op[op].sum()), rel=1e-12, abs=1e-12 * scale)


def _three_ops(types: dict[str, str], file_format: str | None, codec: tuple[str, str]) -> dict:
    doc = mini(
        [
            {"id": "p", "consumes": ["id"], "produces": ["blob", "tag", "file"]},
            {"id": "c", "consumes": ["blob", "id", "file"], "produces": ["out"]},
            {"id": "d", "consumes": ["tag", "blob"], "produces": ["more"]},
        ],
        outputs=("out", "more"),
        types=types,
    )
    doc["fields"]["blob"]["format"], doc["fields"]["blob"]["compression"] = codec
    if file_format is not None:
        doc["fields"]["file"]["format"] = file_format
    return doc


@st.composite
def cases(draw: st.DrawFn) -> tuple[Recipe, Recipe, Profile, dict[str, bytesmodel.BytesFit], list[str] | None]:
    """A recipe, a change of it (codecs, a dropped product, a substitute), a profile with absent cells
    and fits good or poor, and which operations are looked at."""
    types = {f: draw(st.sampled_from(TYPES)) for f in ("blob", "tag", "file")}
    doc = _three_ops(
        types,
        draw(st.sampled_from([None, "json", "jpeg"])),
        (draw(st.sampled_from(FORMATS)), draw(st.sampled_from(COMPRESSIONS))),
    )
    r = recipe_from_dict(doc)
    edits = []
    for f in draw(st.lists(st.sampled_from(["blob", "tag", "file"]), max_size=3, unique=True)):
        edits += [
            Edit("set", ("fields", f, "format"), draw(st.sampled_from(FORMATS))),
            Edit("set", ("fields", f, "compression"), draw(st.sampled_from(COMPRESSIONS))),
        ]
    if draw(st.booleans()):
        edits.append(Edit("remove", ("operations", "p", "produces", draw(st.sampled_from(["tag", "file"])))))
    if draw(st.booleans()):
        edits.append(Edit("set", ("operations", draw(st.sampled_from(["p", "c", "d"])), "action"), "Other"))
    after = mutate(doc, edits)
    n = draw(st.integers(1, 80))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cols = {}
    for name in ("bytes_in", "bytes_out"):
        cols[name] = {}
        for op in ("p", "c", "d"):
            b = rng.lognormal(draw(st.floats(0.0, 14.0)), 1.0, n)
            b[rng.random(n) < draw(st.floats(0.0, 0.5))] = np.nan  # absent cells: counted 0
            cols[name][op] = b
    p = make_profile(r, n, **cols)
    fits = {}
    for op in draw(st.lists(st.sampled_from(["p", "c", "d"]), unique=True)):
        fits[op] = bytesmodel.BytesFit(
            op,
            1.0,
            draw(st.floats(-1e-3, 1e-2)),
            draw(st.floats(-1e-3, 1e-2)),
            r2=draw(st.floats(0.0, 1.0)),
            n=draw(st.integers(3, 200)),
            t_in=draw(st.floats(-10.0, 10.0)),
            t_out=draw(st.floats(-10.0, 10.0)),
        )
    only = draw(st.none() | st.lists(st.sampled_from(["p", "c", "d", "gone"]), unique=True))
    return r, after, p, fits, only


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_summed_delta_is_the_sum_of_the_per_request_delta(case: tuple) -> None:
    before, after, p, fits, only = case
    d = bytesmodel.latency_delta(before, after, p, fits, only=only)
    s = bytesmodel.summed_delta(before, after, p, fits, only=only)
    assert_sums_of_arrays(s, d, p)


def test_every_candidate_datapipe_scores_on_a_generated_profile() -> None:
    """Each field x format x compression pair datapipe scores on a generated profile (absent and halted
    calls, real fits): the sums are the arrays'."""
    r, p = scenario(), scenario_profile()
    fits = bytesmodel.fit(p)
    tbl = transfer.table(r.formats)
    formats, compressions = transfer.formats_and_compressions(tbl)
    assert np.isnan(p.bytes_in).any()  # absent cells are part of what is checked
    seen = 0
    for f, spec in r.fields.items():
        if f not in r.producers or spec.type not in transfer.PAYLOAD_TYPES:
            continue
        for fmt in formats:
            for comp in compressions:
                after = replace(
                    r, fields=MappingProxyType({**r.fields, f: replace(spec, format=fmt, compression=comp)})
                )
                d = bytesmodel.latency_delta(r, after, p, fits, tbl=tbl)
                assert_sums_of_arrays(bytesmodel.summed_delta(r, after, p, fits, tbl=tbl), d, p)
                seen += bool(d.per_op)
    assert seen > 20


def _two_profiles() -> tuple[dict, Recipe, Profile, Profile]:
    doc = mini(
        [
            {"id": "p", "consumes": ["id"], "produces": ["blob"]},
            {"id": "c", "consumes": ["blob"], "produces": ["out"]},
        ],
        outputs=("out",),
        types={"blob": "object"},
    )
    r = recipe_from_dict(doc)
    b = np.linspace(1e4, 1e6, 300)
    small = make_profile(r, 300, latency_ms={"c": 1.0 + 0.001 * b}, bytes_in={"c": b}, bytes_out={"p": b})
    big = make_profile(r, 300, latency_ms={"c": 1.0 + 0.001 * b}, bytes_in={"c": 7 * b}, bytes_out={"p": 7 * b})
    return doc, r, small, big


def test_the_sums_belong_to_their_profile() -> None:
    """Two profiles of one recipe, one after the other: each gets its own sums, never the other's."""
    doc, r, small, big = _two_profiles()
    after = mutate(doc, [Edit("set", ("fields", "blob", "format"), "protobuf")])
    fits = bytesmodel.fit(small)  # the same slopes for both: only the bytes differ
    for p in (small, big, small):
        assert_sums_of_arrays(
            bytesmodel.summed_delta(r, after, p, fits), bytesmodel.latency_delta(r, after, p, fits), p
        )
    c = small.col("c")
    assert bytesmodel.byte_sums(small)["in"][c] == pytest.approx(float(small.bytes_in[:, c].sum()))
    assert bytesmodel.byte_sums(big)["in"][c] == pytest.approx(7 * float(small.bytes_in[:, c].sum()))
    # a caller changing the arrays it got does not change what the next caller gets
    bytesmodel.byte_sums(small)["in"][:] = -1.0
    assert bytesmodel.byte_sums(small)["in"][c] > 0


def test_the_remembered_sums_do_not_keep_a_profile_alive() -> None:
    _, _, small, _ = _two_profiles()
    bytesmodel.byte_sums(small)
    ref = weakref.ref(small)
    del small
    gc.collect()
    assert ref() is None


def _no_per_request_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("datapipe built per-request arrays to score a candidate")

    monkeypatch.setattr(bytesmodel, "latency_delta", refuse)
    monkeypatch.setattr(datapipe, "latency_delta", refuse, raising=False)


def test_datapipe_scores_format_candidates_without_a_per_request_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = OperatorContext.build(scenario(), doc=scenario_doc(), profile=scenario_profile())
    _no_per_request_pass(monkeypatch)
    ms = datapipe.generate(ctx)
    assert [m.id for m in ms] == ["datapipe:cart=protobuf+zstd"]


def test_datapipe_scores_a_dropped_field_without_a_per_request_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = mini(
        [
            {"id": "p", "consumes": ["id"], "produces": ["out", "dbg"]},
        ],
        outputs=("out",),
        types={"dbg": "object"},
    )
    r = recipe_from_dict(doc)
    b = np.linspace(2e4, 2e6, 400)
    p = make_profile(r, 400, latency_ms={"p": 2.0 + 0.0005 * b}, bytes_out={"p": b})
    ctx = OperatorContext.build(r, doc=doc, profile=p)
    d = bytesmodel.latency_delta(
        r, mutate(doc, [Edit("remove", ("operations", "p", "produces", "dbg"))]), p, ctx.bytes_fits
    )
    _no_per_request_pass(monkeypatch)
    (m,) = [m for m in datapipe.generate(ctx) if m.id.startswith("datapipe:drop:")]
    assert m.id == "datapipe:drop:p.dbg"
    # the figures said are the per-request arrays' means
    assert f"{float(d.bytes_per_op['p'].sum()) / 400:+,.0f} bytes per request" in m.description
    assert f"predicts {float(d.per_op['p'].sum()) / 400:+.2f} ms" in m.description


# ---- _primary_spans: the variants from the distinct values --------------------------------------


def _spans(variants: list[object], dtype: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"request_id": [f"r{i}" for i in range(len(variants))], "variant": pd.Series(variants, dtype=dtype)}
    )


@pytest.mark.parametrize("dtype", ["str", "object", "category"])
def test_primary_spans_keeps_the_control_requests_and_names_the_others(dtype: str) -> None:
    spans = _spans(["control", "canary", None, "control", "blue", "canary"], dtype)
    got, note = inputs._primary_spans(spans)
    assert list(got["request_id"]) == ["r0", "r3"]
    assert note == "the logs hold canary variants (blue, canary); only the 'control' requests are replayed"


@pytest.mark.parametrize("variants", [["control", None, "control"], ["canary", "blue"], [None, None]])
def test_primary_spans_leaves_logs_of_one_variant_or_without_control(variants: list[object]) -> None:
    spans = _spans(variants, "str")
    got, note = inputs._primary_spans(spans)
    assert got is spans and note == ""


def test_primary_spans_does_not_walk_every_span(monkeypatch: pytest.MonkeyPatch) -> None:
    """The distinct values are taken from the column, not from a Python walk over its spans."""
    spans = _spans(["control", "canary"] * 1000, "str")

    def refuse(self: pd.Series) -> None:
        raise AssertionError("walked the span table")

    monkeypatch.setattr(pd.Series, "__iter__", refuse)
    got, note = inputs._primary_spans(spans)
    assert len(got) == 1000 and "canary" in note
