"""OTLP columnar reader on large files: cut into parts scanned and assembled in parallel, same table as in one piece."""

from __future__ import annotations

import gzip
import itertools
import json

import pandas as pd
import pyarrow as pa
import pytest
from _telemetry_helpers import otlp_doc, otlp_span, recipe, write_json

from recipemut.logs import otlp, otlpfast

pytest.importorskip("numba")  # the compiled scanner: the fast-otlp extra
from recipemut.logs import otlpscan
from recipemut.logs import traces as formats
from recipemut.logs.common import DEFAULT_ATTRIBUTES
from recipes import checkout_ops

ATTRS = (*DEFAULT_ATTRIBUTES, "app.cache_key", "app.bytes")


def _docs(n_docs: int = 6, per_doc: int = 4, *, numbers_from: int | None = None) -> list[dict]:
    """Exports of a few traces; each trace's children are in the *next* export (parents across cuts)."""
    docs = []
    for d in range(n_docs):
        spans = []
        for t in range(per_doc):
            tid = f"{d:016x}{t:016x}"
            as_numbers = numbers_from is not None and d >= numbers_from
            spans.append(
                otlp_span(tid, f"{d:08x}{t:08x}", "root", 10**18 + d * 10**9, 9 * 10**6, as_numbers=as_numbers)
            )
            if d:  # a child of the previous export's root: the parent is in another part
                ptid = f"{d - 1:016x}{t:016x}"
                spans.append(
                    otlp_span(
                        ptid,
                        f"{d:08x}{t:08x}ff",
                        "Charge" if t % 2 else "GetCart",
                        10**18 + (d - 1) * 10**9 + 10**6,
                        2 * 10**6,
                        parent=f"{d - 1:08x}{t:08x}",
                        kind=3,
                        status={"code": 2} if t == 3 else {},
                        attrs={"peer.service": "db", "app.cache_key": f"k{t}", "app.bytes": 10 * t},
                        as_numbers=as_numbers,
                    )
                )
        docs.append(otlp_doc({"svc": spans}))
    return docs


@pytest.fixture
def in_parts(monkeypatch):
    """Every file is cut into parts of (about) one line, on two workers even on one CPU."""
    monkeypatch.setattr(otlpfast, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(otlpfast, "PART_BYTES", (1, 1))
    monkeypatch.setattr(otlpfast.os, "cpu_count", lambda: 2)
    calls: list[tuple[int, int]] = []  # (begin, end) of every part scanned; (0, -1) for a whole file
    otlpfast._load_scanner()  # loaded (once a process) before the spy: its warm-up call is no part
    real = otlpscan.scan_part

    def spy(buf, begin, end, wk, wo):
        calls.append((0, -1) if (begin, end) == (0, len(buf)) else (begin, end))
        return real(buf, begin, end, wk, wo)

    monkeypatch.setattr(otlpscan, "scan_part", spy)
    return calls


def test_cut_is_at_line_ends_and_covers_every_byte() -> None:
    import pyarrow as pa

    data = pa.py_buffer(b"aaaa\nbb\ncccccc\nd\n\neeeee")
    raw = data.to_pybytes()
    parts = otlpfast._cut(data, 3)
    assert b"".join(raw[b:e] for b, e in parts) == raw
    assert all(raw[b:e].endswith(b"\n") for b, e in parts[:-1])
    assert all(e == b2 for (_, e), (b2, _) in itertools.pairwise(parts))
    assert len(parts) > 2
    assert otlpfast._cut(data, 100) == [(0, len(raw))]


def test_parts_give_the_table_of_one_piece_and_of_the_document_reader(tmp_path, in_parts) -> None:
    p = write_json(tmp_path / "export.json", _docs(), lines=True)
    parted = otlpfast.parse_arrow(p, ATTRS)
    assert parted is not None
    assert len(in_parts) == 6 and (0, -1) not in in_parts  # one task per export line
    slow = otlp.parse(p.read_bytes(), p, ATTRS)
    pd.testing.assert_frame_equal(parted, slow, check_dtype=False)
    assert parted["index"].tolist() == list(range(1, len(slow) + 1))  # position in the whole file, not the part


def test_parents_in_another_part_are_found(tmp_path, in_parts) -> None:
    p = write_json(tmp_path / "export.json", _docs(), lines=True)
    r = recipe(checkout_ops("load_cart", "charge", service="db"))
    a, ca, _ = formats.read(p, recipe=r)
    assert ca["parent_missing"] == 0 and ca["spans_read"] == 6 * 4 + 5 * 4
    assert len(a) == 5 * 4 and (a["status"] == "error").sum() == 5
    assert list(a["source_line"]) == sorted(a["source_line"])


def test_gzip_files_are_cut_too(tmp_path, in_parts) -> None:
    plain = write_json(tmp_path / "export.json", _docs(), lines=True)
    gz = tmp_path / "export.json.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, ca, _ = formats.read(plain, recipe=None)
    b, cb, _ = formats.read(gz, recipe=None)
    assert len(in_parts) == 12 and (0, -1) not in in_parts
    assert ca == cb
    pd.testing.assert_frame_equal(a.drop(columns="source_file"), b.drop(columns="source_file"))


def test_a_cut_inside_a_pretty_document_reads_the_file_in_one_piece(tmp_path, in_parts) -> None:
    p = tmp_path / "pretty.json"
    p.write_text("\n".join(json.dumps(d, indent=2) for d in _docs(3)), encoding="utf-8")
    raw, how = otlpfast.read_raw(p, ATTRS)
    assert how == "columnar"
    assert len(in_parts) > 2 and in_parts[-1] == (0, -1)  # the parts failed, then one piece
    pd.testing.assert_frame_equal(raw, otlp.parse(p.read_bytes(), p, ATTRS), check_dtype=False)


def test_value_types_may_differ_between_parts(tmp_path, in_parts) -> None:
    # times as strings in the first exports and as numbers in later ones: each part is uniform
    p = write_json(tmp_path / "mixed.json", _docs(numbers_from=3), lines=True)
    raw, how = otlpfast.read_raw(p, ATTRS)
    assert how == "columnar"
    pd.testing.assert_frame_equal(raw, otlp.parse(p.read_bytes(), p, ATTRS), check_dtype=False)


def test_ingest_takes_the_arrow_table_and_gets_what_the_frame_gave(tmp_path, monkeypatch) -> None:
    from recipemut.logs import ingest

    p = write_json(tmp_path / "export.json", _docs(), lines=True)
    r = recipe(checkout_ops("load_cart", "charge", service="db"))
    calls: list[str] = []
    real_table = formats.read_table
    monkeypatch.setattr(formats, "read_table", lambda *a, **kw: calls.append("table") or real_table(*a, **kw))
    a, rep_a = ingest.read_logs(p, recipe=r)
    assert calls == ["table"]

    def via_frame(*args, **kw):  # the same read handed over as a pandas frame, as read() returns it
        table, counts, notes = real_table(*args, **kw)
        return pa.Table.from_pandas(table.to_pandas(), preserve_index=False), counts, notes

    monkeypatch.setattr(formats, "read_table", via_frame)
    b, rep_b = ingest.read_logs(p, recipe=r)
    pd.testing.assert_frame_equal(a, b)
    assert rep_a.to_dict() == rep_b.to_dict()
    assert a["cost_usd"].isna().all() and a["sample_rate"].eq(1.0).all()  # NaN / filled as on the frame path


def test_a_gzip_inflating_beyond_the_limit_is_refused_not_read(tmp_path, monkeypatch) -> None:
    from recipemut.errors import InputFileError
    from recipemut.logs import common

    plain = write_json(tmp_path / "export.json", _docs(), lines=True)
    gz = tmp_path / "export.json.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setattr(otlpfast, "MAX_BYTES", 1000)
    monkeypatch.setattr(common, "MAX_BYTES", 1000)
    assert otlpfast.parse_arrow(gz, ATTRS) is None
    with pytest.raises(InputFileError, match="larger than 1000 bytes"):
        formats.read(gz, recipe=None)
    assert otlpfast.parse_arrow(plain, ATTRS) is None  # a plain file is read (never mapped): the same limit
    with pytest.raises(InputFileError, match="larger than 1000 bytes"):
        formats.read(plain, recipe=None)


def test_attributes_on_every_span_or_repeated_on_one_read_as_the_document_reader_does(tmp_path) -> None:
    every = [
        otlp_span(f"{t:032x}", f"{t:016x}", "x", 10**18, 10**6, attrs={"app.cache_key": f"k{t}"}) for t in range(5)
    ]
    twice = otlp_span(f"{9:032x}", f"{9:016x}", "x", 10**18, 10**6, attrs={"app.cache_key": "first"})
    twice["attributes"].append({"key": "app.cache_key", "value": {"stringValue": "last"}})
    for spans in (every, [*every[:2], twice, *every[2:]]):
        p = write_json(tmp_path / "e.json", [otlp_doc({"svc": spans})], lines=True)
        fast = otlpfast.parse_arrow(p, ATTRS)
        assert fast is not None
        pd.testing.assert_frame_equal(fast, otlp.parse(p.read_bytes(), p, ATTRS), check_dtype=False)
    assert fast["attr:app.cache_key"].tolist() == ["k0", "k1", "last", "k2", "k3", "k4"]


@pytest.mark.parametrize("int_as", ["string", "number"])
def test_numeric_attributes_read_columnar_as_the_document_reader_reads_them(tmp_path, int_as) -> None:
    """``numeric`` attributes from doubles, ints (strings or numbers), numeric and other strings,
    and absent on some spans: the float column the columnar path gives is the document reader's
    text read as numbers."""
    values = [1.5, 7, "12.25", "abc", None, 0.0, 3, "-4"]
    spans = []
    for i, v in enumerate(values):
        attrs = {"app.cost": v} if v is not None else {}
        attrs["app.cache_key"] = f"k{i % 3}"
        sp = otlp_span(f"{i:032x}", f"{i:016x}", "GetCart", 10**18 + i, 10**6, attrs=attrs)
        for a in sp["attributes"]:
            if int_as == "number" and "intValue" in a["value"]:
                a["value"]["intValue"] = int(a["value"]["intValue"])
        spans.append(sp)
    p = write_json(tmp_path / "export.json", [otlp_doc({"svc": spans[:4]}), otlp_doc({"svc": spans[4:]})], lines=True)
    keys = (*ATTRS, "app.cost")
    fast = otlpfast.parse_arrow(p, keys, numeric=["app.cost"])
    assert fast is not None
    slow = otlp.parse(p.read_bytes(), p, keys)
    want = pd.to_numeric(slow["attr:app.cost"], errors="coerce").tolist()
    got = fast["attr:app.cost"].tolist()
    assert [None if pd.isna(x) else x for x in got] == [None if pd.isna(x) else x for x in want]
    assert got[:4] == [1.5, 7.0, 12.25, got[3]] and pd.isna(got[3]) and pd.isna(got[4])
    assert fast["attr:app.cache_key"].tolist() == slow["attr:app.cache_key"].tolist()
