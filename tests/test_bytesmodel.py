"""bytes model: the format table, the fit, attribution and the per-request delta."""

from __future__ import annotations

import numpy as np
import pytest
from _operators_helpers import make_profile, mini
from hypothesis import given, settings
from hypothesis import strategies as st

from recipemut.mutate.mutation import mutate
from recipemut.predict import bytesmodel
from recipemut.profile.build import Profile
from recipemut.recipe import transfer
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import recipe_from_dict


def test_table_overrides_merge_key_by_key() -> None:
    t = transfer.table({"gzip": {"encode_ms_per_mb": 5}, "flatbuf": {"size_ratio": 0.4, "decode_ms_per_mb": 0.1}})
    assert t["gzip"] == transfer.FormatCost(0.3, 5.0, 4.0)
    assert t["flatbuf"] == transfer.FormatCost(0.4, 0.0, 0.1)
    fmts, comps = transfer.formats_and_compressions(t)
    assert "flatbuf" in fmts and "gzip" in comps and "gzip" not in fmts


def test_size_factor_and_codec_cost() -> None:
    t = transfer.table()
    assert transfer.size_factor(t, "json", "none", "msgpack", "gzip") == pytest.approx(0.8 * 0.3)
    assert transfer.size_factor(t, "protobuf", "zstd", "json", "none") == pytest.approx(1 / 0.14)
    # 1 wire MB of msgpack+gzip = 1/0.24 JSON MB (4 ms/MB) + 1/0.3 raw MB (20 ms/MB)
    got = transfer.codec_ms_per_wire_mb(t, "msgpack", "gzip", "out")
    assert got == pytest.approx(4.0 / 0.24 + 20.0 / 0.3)
    assert transfer.codec_of(None) == ("json", "none")


def test_fit_recovers_known_slopes() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    bin_ = rng.uniform(1e3, 1e5, n)
    bout = rng.uniform(1e3, 1e4, n)
    lat = 5.0 + 0.001 * bin_ + 0.0005 * bout + rng.normal(0, 2.0, n)
    f = bytesmodel.fit_one("x", lat, bin_, bout)
    assert f is not None
    assert f.slope_in == pytest.approx(0.001, rel=0.02) and f.slope_out == pytest.approx(0.0005, rel=0.1)
    assert f.intercept == pytest.approx(5.0, abs=0.5) and f.r2 > 0.95 and f.good
    # pure noise: a poor fit
    g = bytesmodel.fit_one("y", rng.normal(20, 5, n), bin_, bout)
    assert g is not None and not g.good and g.r2 < 0.05
    assert bytesmodel.fit_one("z", np.ones(2), np.ones(2), np.ones(2)) is None


def _two_ops() -> dict:
    return mini(
        [
            {"id": "p", "consumes": ["id"], "produces": ["blob", "tag"]},
            {"id": "c", "consumes": ["blob", "id"], "produces": ["out"]},
        ],
        outputs=("out",),
        types={"blob": "object"},
    )


def test_fit_over_a_profile_uses_ok_calls_only() -> None:
    doc = _two_ops()
    r = recipe_from_dict(doc)
    n = 500
    b = np.linspace(1e3, 1e5, n)
    status = np.ones(n, dtype=np.int8)
    status[:50] = 2  # errors: excluded
    lat = 1.0 + 0.002 * b
    lat[:50] = 10_000.0
    p = make_profile(r, n, latency_ms={"c": lat}, bytes_in={"c": b}, status={"c": status})
    fits = bytesmodel.fit(p)
    assert fits["c"].slope_in == pytest.approx(0.002) and fits["c"].r2 == pytest.approx(1.0)
    assert fits["c"].n <= 450


def test_field_shares_follow_type_weights() -> None:
    r = recipe_from_dict(_two_ops())
    s = bytesmodel.field_shares(r, "c", "in")
    assert s["blob"] == pytest.approx(2048 / 2088) and s["id"] == pytest.approx(40 / 2088)
    assert bytesmodel.field_shares(r, "p", "in") == {"id": 1.0}


def test_latency_delta_claims_savings_only_with_a_good_fit() -> None:
    doc = _two_ops()
    r = recipe_from_dict(doc)
    n = 400
    b = np.linspace(1e4, 1e6, n)
    p = make_profile(r, n, latency_ms={"c": 1.0 + 0.001 * b}, bytes_in={"c": b}, bytes_out={"p": b})
    fits = bytesmodel.fit(p)
    assert fits["c"].good and not fits["p"].good  # p's latency is constant
    after = mutate(doc, [Edit("set", ("fields", "blob", "format"), "protobuf")])
    d = bytesmodel.latency_delta(r, after, p, fits)
    assert set(d.per_op) == {"p", "c"} and d.unfitted == ("p",)
    share = 2048 / 2088
    wire0 = b * share
    # consumer: slope * (0.5 - 1) * wire + decode (protobuf 3 ms/MB of json-equivalent = wire0) - json 12 ms/MB
    expect_c = 0.001 * (-0.5 * wire0) + (3.0 * wire0 - 12.0 * wire0) / 1e6
    assert d.per_op["c"] == pytest.approx(expect_c)
    # producer: no fit, so only the codec change: encode 3 vs 10 ms/MB
    assert d.per_op["p"] == pytest.approx((3.0 - 10.0) * b * share / 1e6)
    assert d.bytes_per_op["c"] == pytest.approx(-0.5 * wire0)
    assert d.total(n) == pytest.approx(expect_c + (3.0 - 10.0) * b * share / 1e6)


def test_latency_delta_of_a_dropped_field_and_of_a_substitute() -> None:
    doc = _two_ops()
    r = recipe_from_dict(doc)
    n = 300
    b = np.linspace(1e3, 1e5, n)
    p = make_profile(r, n, latency_ms={"p": 2.0 + 0.0001 * b}, bytes_out={"p": b})
    fits = bytesmodel.fit(p)
    after = mutate(doc, [Edit("remove", ("operations", "p", "produces", 1))])  # drop `tag`
    d = bytesmodel.latency_delta(r, after, p, fits)
    tag_share = 40 / (2048 + 40)
    assert d.bytes_per_op["p"] == pytest.approx(-b * tag_share)
    assert d.per_op["p"] == pytest.approx(-0.0001 * b * tag_share - 10.0 * b * tag_share / 1e6)
    swapped = mutate(
        doc, [Edit("set", ("operations", "p", "action"), "Other"), Edit("set", ("fields", "blob", "format"), "arrow")]
    )
    assert "p" not in bytesmodel.latency_delta(r, swapped, p, fits).per_op


def test_constant_bytes_are_left_out_and_insignificant_slopes_unused() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    bin_ = rng.uniform(1e3, 1e5, n)
    lat = 5.0 + 0.001 * bin_ + rng.normal(0, 2.0, n)
    f = bytesmodel.fit_one("x", lat, bin_, np.full(n, 8.0))
    assert f is not None
    # the constant bytes_out would otherwise absorb the intercept (5 ms / 8 bytes)
    assert f.slope_out == 0.0 and f.t_out == 0.0 and f.intercept == pytest.approx(5.0, abs=0.5)
    assert f.slope("in") == pytest.approx(0.001, rel=0.02) and f.slope("out") == 0.0
    # a real but tiny, noisy out-slope: the fit is good thanks to bytes_in, the out-slope is not usable
    bout = rng.uniform(1e3, 1e4, n)
    g = bytesmodel.fit_one("y", lat + rng.normal(0, 0.5, n) + 1e-9 * bout, bin_, bout)
    assert g is not None and g.good and abs(g.t_out) < 3.0 and g.slope("out") == 0.0


# ---- opaque files: `type: bytes` without a serialisation format ---------------------------------


def _file_ops(fmt: str | None = None) -> dict:
    doc = mini(
        [
            {"id": "p", "consumes": ["id"], "produces": ["upload"]},
            {"id": "c", "consumes": ["upload"], "produces": ["out"]},
        ],
        outputs=("out",),
        types={"upload": "bytes"},
    )
    if fmt is not None:
        doc["fields"]["upload"]["format"] = fmt
    return doc


def _file_profile(doc: dict, n: int = 400) -> tuple[np.ndarray, Profile]:
    b = np.linspace(1e4, 1e6, n)
    r = recipe_from_dict(doc)
    return b, make_profile(r, n, latency_ms={"c": 1.0 + 0.001 * b}, bytes_in={"c": b}, bytes_out={"p": b})


def test_compressing_an_opaque_file_claims_no_shrink_and_charges_its_codec() -> None:
    doc = _file_ops()
    r = recipe_from_dict(doc)
    b, p = _file_profile(doc)
    fits = bytesmodel.fit(p)
    assert fits["c"].good
    after = mutate(doc, [Edit("set", ("fields", "upload", "compression"), "zstd")])
    d = bytesmodel.latency_delta(r, after, p, fits)
    assert d.bytes_per_op["p"] == pytest.approx(np.zeros_like(b)) and d.bytes_per_op["c"] == pytest.approx(0 * b)
    # zstd: 3 ms per MB compressed at p, 1 ms per MB decompressed at c; no bytes saved
    assert d.per_op["p"] == pytest.approx(3.0 * b / 1e6)
    assert d.per_op["c"] == pytest.approx(1.0 * b / 1e6)
    # a serialisation format means nothing to a file: no change at all
    d = bytesmodel.latency_delta(r, mutate(doc, [Edit("set", ("fields", "upload", "format"), "arrow")]), p, fits)
    assert np.all(d.per_op["c"] == 0.0) and np.all(d.bytes_per_op["c"] == 0.0)


def test_a_file_declared_as_a_document_shrinks_by_the_table() -> None:
    doc = _file_ops("json")
    r = recipe_from_dict(doc)
    b, p = _file_profile(doc)
    after = mutate(doc, [Edit("set", ("fields", "upload", "compression"), "zstd")])
    d = bytesmodel.latency_delta(r, after, p, bytesmodel.fit(p))
    assert d.bytes_per_op["c"] == pytest.approx((0.28 - 1.0) * b)
    # slope on the bytes saved, plus the decode cost: json 12 ms/MB of the same document, zstd 1 ms per raw MB
    wire1 = 0.28 * b
    expect = 0.001 * (wire1 - b) + ((12.0 / 0.28 + 1.0 / 0.28) * wire1 - 12.0 * b) / 1e6
    assert d.per_op["c"] == pytest.approx(expect)


@settings(max_examples=40, deadline=None)
@given(
    fmt=st.sampled_from(sorted(n for n in transfer.FORMATS if n not in transfer.COMPRESSIONS)),
    comp=st.sampled_from(sorted(transfer.COMPRESSIONS)),
    comp0=st.sampled_from(sorted(transfer.COMPRESSIONS)),
)
def test_no_codec_change_of_an_opaque_file_ever_claims_bytes_saved(fmt: str, comp: str, comp0: str) -> None:
    doc = _file_ops()
    doc["fields"]["upload"]["compression"] = comp0
    r = recipe_from_dict(doc)
    edits = [Edit("set", ("fields", "upload", "format"), fmt), Edit("set", ("fields", "upload", "compression"), comp)]
    after = mutate(doc, edits)
    b, p = _file_profile(doc, 60)
    d = bytesmodel.latency_delta(r, after, p, bytesmodel.fit(p))
    for op in d.bytes_per_op:
        assert np.all(d.bytes_per_op[op] == 0.0)
    # only the change of compression codec time is counted: a saving only from a cheaper codec
    t = transfer.table()
    for op, side in (("p", "encode_ms_per_mb"), ("c", "decode_ms_per_mb")):
        per_mb = getattr(t[comp], side) - getattr(t[comp0], side)
        assert d.per_op.get(op, np.zeros(60)) == pytest.approx(per_mb * b / 1e6)
