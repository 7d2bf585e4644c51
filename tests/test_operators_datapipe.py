"""datapipe: format changes and dropped fields, proposed only where the bytes fit is good."""

from __future__ import annotations

import numpy as np
import pytest
from _operators_helpers import edits, ids, make_profile, mini, scenario, scenario_doc, scenario_profile

from recipemut.mutate.operators import OperatorContext, datapipe
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.model import recipe_from_dict

N = 400
BIG = np.linspace(2e4, 2e6, N)


def _doc(**kw: object) -> dict:
    return mini(
        [
            {"id": "p", "consumes": ["id"], "produces": ["blob", "dbg"]},
            {"id": "c", "consumes": ["blob"], "produces": ["out"]},
        ],
        outputs=("out",),
        types={"blob": "object", "dbg": "object"},
        **kw,
    )


def _ctx(doc: dict, c_lat: np.ndarray, p_lat: np.ndarray | None = None, **options: object) -> OperatorContext:
    r = recipe_from_dict(doc)
    p = make_profile(
        r,
        N,
        latency_ms={"c": c_lat, "p": p_lat if p_lat is not None else np.full(N, 5.0) + np.arange(N) % 3},
        bytes_in={"c": BIG},
        bytes_out={"p": BIG * 2},
    )
    return OperatorContext.build(r, doc=doc, profile=p, options=options)


def test_best_format_for_a_big_field_read_by_a_bytes_bound_op() -> None:
    ctx = _ctx(_doc(), 2.0 + 0.0005 * BIG)  # 0.5 ms per KB received: transfer dominates
    (m,) = datapipe.generate(ctx)
    # bytes cost 500 ms/MB at c: the smallest format (protobuf) with zstd; brotli is 10% smaller still
    # but its encode cost (60 ms per raw MB, charged at p although p's fit is poor) outweighs that
    assert m.id == "datapipe:blob=protobuf+zstd"
    assert edits(m) == [
        {"op": "set", "path": ["fields", "blob", "format"], "value": "protobuf"},
        {"op": "set", "path": ["fields", "blob", "compression"], "value": "zstd"},
    ]
    assert m.targets == ("blob", "p", "c")
    assert "`c`: R² 1.00" in m.description and "poor fit: no saving claimed" in m.description  # p's fit is poor
    assert check_structure(ctx.recipe, m.recipe) == []


def test_codec_costs_can_outweigh_bytes() -> None:
    # a tiny slope: compression costs more than it saves, and a cheaper codec wins
    ctx = _ctx(_doc(), 2.0 + 0.000001 * BIG)
    (m,) = datapipe.generate(ctx)
    assert m.id == "datapipe:blob=arrow+none"


def test_format_table_overrides_from_the_recipe_are_used() -> None:
    doc = _doc(formats={"flat": {"size_ratio": 0.01, "encode_ms_per_mb": 0, "decode_ms_per_mb": 0}})
    (m,) = datapipe.generate(_ctx(doc, 2.0 + 0.0005 * BIG))
    assert m.id.startswith("datapipe:blob=flat+")


def test_nothing_without_a_good_fit_or_a_profile_or_when_frozen() -> None:
    rng = np.random.default_rng(0)
    assert datapipe.generate(_ctx(_doc(), rng.normal(50, 10, N))) == []
    doc = _doc()
    assert datapipe.generate(OperatorContext.build(recipe_from_dict(doc), doc=doc)) == []
    assert datapipe.generate(_ctx(_doc(constraints={"frozen": ["c"]}), 2.0 + 0.0005 * BIG)) == []
    # a high minimum saving
    assert datapipe.generate(_ctx(_doc(), 2.0 + 0.0005 * BIG, datapipe_min_saving_ms=1e6)) == []


def test_drops_an_unconsumed_product_when_the_producer_is_bytes_bound() -> None:
    # p's latency grows with the bytes it sends; dbg is half of them by type weight and nobody reads it
    ctx = _ctx(_doc(), np.full(N, 3.0) + np.arange(N) % 2, p_lat=1.0 + 0.0002 * BIG * 2)
    ms = datapipe.generate(ctx)
    drop = [m for m in ms if m.id == "datapipe:drop:p.dbg"]
    assert len(drop) == 1
    assert edits(drop[0]) == [{"op": "remove", "path": ["operations", "p", "produces", "dbg"]}]
    assert drop[0].recipe.ops["p"].produces == ("blob",)
    assert check_structure(ctx.recipe, drop[0].recipe) == []
    # blob is consumed: never dropped
    assert all(m.id != "datapipe:drop:p.blob" for m in ms)


def test_scenario_recommends_a_compact_cart() -> None:
    r = scenario()
    ms = datapipe.generate(OperatorContext.build(r, doc=scenario_doc(), profile=scenario_profile()))
    assert ids(ms) == ["datapipe:cart=protobuf+zstd"]
    assert "`price`: R² 1.00" in ms[0].description


def test_described_saving_is_that_of_the_written_edits() -> None:
    """Candidates are scored on a cheaply built recipe; the edits must give the same prediction."""
    import re

    from recipemut.predict.bytesmodel import latency_delta

    ctx = _ctx(_doc(), 2.0 + 0.0005 * BIG)
    (m,) = datapipe.generate(ctx)
    assert ctx.profile is not None
    d = latency_delta(ctx.recipe, m.recipe, ctx.profile, ctx.bytes_fits)
    mean = float(sum(v.sum() for v in d.per_op.values())) / N
    said = float(re.search(r"fits predict ([-+0-9.]+) ms", m.description).group(1))  # type: ignore[union-attr]
    assert mean == pytest.approx(said, abs=0.05)
    assert mean < -1.0


# ---- files: `type: bytes` fields --------------------------------------------------------------


def _file_doc(fmt: str | None = None, **kw: object) -> dict:
    """``p`` stages an uploaded file read by ``c``; ``dbg`` is a file nobody reads."""
    doc = mini(
        [
            {"id": "p", "consumes": ["id"], "produces": ["upload", "dbg"]},
            {"id": "c", "consumes": ["upload"], "produces": ["out"]},
        ],
        outputs=("out",),
        types={"upload": "bytes", "dbg": "bytes"},
        **kw,
    )
    if fmt is not None:
        doc["fields"]["upload"]["format"] = fmt
    return doc


def test_an_opaque_file_gets_no_format_or_compression_candidate(caplog: pytest.LogCaptureFixture) -> None:
    # the same bytes-bound consumer that makes an object field worth protobuf+zstd (first test above)
    ctx = _ctx(_file_doc(), 2.0 + 0.0005 * BIG)
    with caplog.at_level("INFO", logger="recipemut.mutate.operators.datapipe"):
        assert datapipe.generate(ctx) == []
    why = datapipe.not_proposed(ctx)
    assert sorted(why) == ["dbg", "upload"]
    assert why["upload"].startswith("`upload` is a file (type bytes, no `format`): it has no serialisation format")
    assert "barely shrinks, so no compression saving is claimed" in why["upload"]
    assert any(why["upload"] in rec.getMessage() for rec in caplog.records)


def test_a_file_whose_format_is_not_a_serialisation_format_stays_opaque() -> None:
    ctx = _ctx(_file_doc("mp4"), 2.0 + 0.0005 * BIG)
    assert datapipe.generate(ctx) == []
    assert "`format: mp4`, not a serialisation format of the table" in datapipe.not_proposed(ctx)["upload"]


def test_a_file_declared_as_a_document_gets_compression_only() -> None:
    ctx = _ctx(_file_doc("protobuf"), 2.0 + 0.0005 * BIG)
    (m,) = datapipe.generate(ctx)
    assert m.id == "datapipe:upload=protobuf+zstd"
    assert edits(m) == [
        {"op": "set", "path": ["fields", "upload", "format"], "value": "protobuf"},  # as declared
        {"op": "set", "path": ["fields", "upload", "compression"], "value": "zstd"},
    ]
    assert m.description.startswith(
        "compress `upload` with zstd instead of none (a file whose declared `format: protobuf` stays)"
    )
    assert m.recipe.fields["upload"].format == "protobuf" and m.recipe.fields["upload"].compression == "zstd"
    assert list(datapipe.not_proposed(ctx)) == ["dbg"]
    assert check_structure(ctx.recipe, m.recipe) == []


def test_a_format_added_under_formats_declares_a_file_compressible() -> None:
    doc = _file_doc("csv", formats={"csv": {"size_ratio": 1.0}})
    (m,) = datapipe.generate(_ctx(doc, 2.0 + 0.0005 * BIG))
    assert m.id == "datapipe:upload=csv+zstd"


def test_an_unread_file_is_still_dropped() -> None:
    # the logs support this one: the producer's latency grows with the bytes it sends
    ctx = _ctx(_file_doc(), np.full(N, 3.0) + np.arange(N) % 2, p_lat=1.0 + 0.0002 * BIG * 2)
    (m,) = datapipe.generate(ctx)
    assert m.id == "datapipe:drop:p.dbg"
    assert edits(m) == [{"op": "remove", "path": ["operations", "p", "produces", "dbg"]}]
    assert "-202.00 ms" in m.description  # 0.2 ms/KB out on the half of 2 x BIG the file weighs


def test_object_fields_are_not_affected_by_the_file_rule() -> None:
    assert datapipe.not_proposed(_ctx(_doc(), 2.0 + 0.0005 * BIG)) == {}
