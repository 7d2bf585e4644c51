"""OTLP readers, differential: the msgspec reader (:func:`otlp.parse`) gives the same frame through its
typed structs as through plain JSON (``json``, shaped by hand), and whenever the compiled scanner
(:func:`otlpfast.parse_arrow`, the ``fast-otlp`` extra) gives a frame, it is that frame too, on
generated files that vary what a byte-level parser must get right (layout, whitespace, key order,
string escapes, number forms, value types, fields to skip, gzip).
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest
from _telemetry_helpers import otlp_doc, otlp_span, write_json
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from recipemut.logs import otlp, otlpfast
from recipemut.logs.common import DEFAULT_ATTRIBUTES

# ---- the keys --------------------------------------------------------------------------------------

KEY = "app.key"  # any value type
NUM = "app.num"  # numbers, numeric text, other text
RES = "app.res"  # on resources only: every span takes its resource's value
ODD = 'app."k\\/é😀\t'  # a wanted key that needs escapes
WANTED = (KEY, NUM, RES, ODD)
UNWANTED = ("http.url", 'x."skip😀', "app.ke")  # "app.ke": a prefix of a wanted key
ATTRS = (*DEFAULT_ATTRIBUTES, *WANTED)


# ---- strategies: content ---------------------------------------------------------------------------

#: characters whose JSON forms differ: escapes (short and \\u), non-ASCII, astral (surrogate pairs)
ALPHABET = ["a", "Z", "0", " ", ".", '"', "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x01", "\x1f", "\x7f"]
ALPHABET += ["é", "ß", "中", "\u2028", "😀", "𝄞"]
texts = st.text(st.sampled_from(ALPHABET), max_size=6)
names = st.one_of(texts, st.sampled_from(["GetCart", 'a"b\\c\u00e9', "😀/x", ""]))

DOUBLES = [0.5, 3, 1e-7, -2.25, 0.0, -0.0, 1e20, 123456.789, 2.5e-300]


@st.composite
def _hex(draw: st.DrawFn, n: int) -> str:
    """An id of ``n`` hex digits in lower, upper or mixed case (two draws, not ``n``)."""
    digits = f"{draw(st.integers(0, 16**n - 1)):0{n}x}"
    case = draw(st.sampled_from(["lower", "upper", "mixed"]))
    if case == "mixed":
        mask = draw(st.integers(0, 2**n - 1))
        return "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(digits))
    return digits.upper() if case == "upper" else digits


@st.composite
def any_values(
    draw: st.DrawFn, int_as: str, nested: bool = True, numeric_like: bool = False, empty: bool = False
) -> dict[str, Any]:
    """One OTLP AnyValue; ``int_as``: "str" / "num" / "mixed" (how intValue is written); ``empty``: ``{}`` too."""
    kinds = ["string", "int", "double", "bool", "bytes"] + (["array", "kvlist"] if nested else [])
    if numeric_like:
        kinds = ["int", "double", "string", "numtext", "numtext"]
    kind = draw(st.sampled_from(kinds + (["empty"] if empty else [])))
    if kind == "empty":
        return {}
    if kind == "string":
        return {"stringValue": draw(texts)}
    if kind == "numtext":
        return {"stringValue": draw(st.sampled_from(["12.5", "-4", "1e3", " 7", "0x10", "nan", ""]))}
    if kind == "int":
        i = draw(st.integers(-(2**53), 2**53))
        as_str = int_as == "str" or (int_as == "mixed" and draw(st.booleans()))
        return {"intValue": str(i) if as_str else i}
    if kind == "double":
        return {"doubleValue": draw(st.sampled_from(DOUBLES) | st.floats(allow_nan=False, allow_infinity=False))}
    if kind == "bool":
        return {"boolValue": draw(st.booleans())}
    if kind == "bytes":
        return {"bytesValue": draw(st.sampled_from(["", "AAEC", "aGk/+w=="]))}
    inner = st.lists(any_values(int_as, nested=False), max_size=2)
    if kind == "array":
        return {"arrayValue": {"values": draw(inner)}}
    keys = st.sampled_from(["k", 'q"', "é"])
    return {"kvlistValue": {"values": [{"key": draw(keys), "value": v} for v in draw(inner)]}}


@st.composite
def span_attributes(draw: st.DrawFn, style: dict[str, str]) -> list[dict[str, Any]]:
    """Attributes, wanted and not, the same key twice now and then; keys that need escapes only when
    the file's style says (a scanner may decline a file for them: they would hide everything else)."""
    keys = (KEY, KEY, NUM, ODD, *UNWANTED, "recipe.operation", "peer.service", "tracestate", "sampling.probability")
    if style["escaped_keys"] == "no":
        keys = tuple(k for k in keys if k.isascii() and k.isprintable() and '"' not in k)
    int_as = style["int"]
    out = []
    for key in draw(st.lists(st.sampled_from(keys), max_size=4)):
        nested = style["complex"] == "yes" or key not in ATTRS
        value = draw(any_values(int_as, nested=nested, numeric_like=key == NUM, empty=True))
        out.append({"key": key, "value": value})
    return out


def _time(t: int, mode: str, draw: st.DrawFn) -> int | str:
    return str(t) if mode == "str" or (mode == "mixed" and draw(st.booleans())) else t


@st.composite
def spans(draw: st.DrawFn, style: dict[str, str]) -> dict[str, Any]:
    """One span; ``style`` fixes, per file, how times / ints / kind / status codes are written."""
    sp: dict[str, Any] = {"traceId": draw(_hex(32)), "spanId": draw(_hex(16)), "name": draw(names)}
    parent = draw(st.sampled_from(["absent", "empty", "set", "set"]))
    if parent != "absent":
        sp["parentSpanId"] = "" if parent == "empty" else draw(_hex(16))
    start = draw(st.integers(0, 2**62))
    sp["startTimeUnixNano"] = _time(start, style["time"], draw)
    if draw(st.integers(0, 9)):  # now and then a span without an end
        sp["endTimeUnixNano"] = _time(start + draw(st.integers(0, 10**12)), style["time"], draw)
    kind = draw(st.integers(-1, 5))
    if kind >= 0:
        as_name = style["kind"] == "name" or (style["kind"] == "mixed" and draw(st.booleans()))
        sp["kind"] = f"SPAN_KIND_{[*otlp.KINDS.values()][kind - 1].upper()}" if as_name and kind else kind
        if as_name and not kind:
            sp["kind"] = "SPAN_KIND_UNSPECIFIED"
    status = draw(st.sampled_from(["absent", "empty", "error", "ok-msg", "unset"]))
    if status != "absent":
        code_as_name = style["code"] == "name" or (style["code"] == "mixed" and draw(st.booleans()))
        code = {"error": 2, "ok-msg": 1, "unset": 0}.get(status)
        names_ = {2: "STATUS_CODE_ERROR", 1: "STATUS_CODE_OK", 0: "STATUS_CODE_UNSET"}
        sp["status"] = {} if code is None else {"code": names_[code] if code_as_name else code}
        if status == "ok-msg":
            sp["status"]["message"] = draw(texts)
    attrs = draw(st.sampled_from(["absent", "empty", "some", "some"]))
    if attrs != "absent":
        sp["attributes"] = [] if attrs == "empty" else draw(span_attributes(style))
    # fields the readers skip, some holding wanted keys and nested objects / arrays
    if draw(st.booleans()):
        sp["events"] = [{"timeUnixNano": str(start), "name": draw(texts), "attributes": draw(span_attributes(style))}]
    if draw(st.booleans()):
        sp["links"] = [{"traceId": draw(_hex(32)), "spanId": draw(_hex(16)), "traceState": "a=b", "attributes": []}]
    if draw(st.booleans()):
        sp["flags"] = draw(st.sampled_from([0, 1, 257]))
        sp["droppedAttributesCount"] = draw(st.integers(0, 3))
        sp["droppedEventsCount"] = 0
    trace_state = draw(st.sampled_from([None, "", "ot=th:c;rv:123", 'vendor=x"y']))
    if trace_state is not None:
        sp["traceState"] = trace_state
    return sp


@st.composite
def resource_spans(draw: st.DrawFn, style: dict[str, str]) -> dict[str, Any]:
    rs: dict[str, Any] = {}
    if draw(st.integers(0, 7)):
        attrs = []
        if draw(st.integers(0, 4)):
            attrs.append({"key": "service.name", "value": {"stringValue": draw(names)}})
        if draw(st.booleans()):
            attrs.append({"key": RES, "value": draw(any_values(style["int"], nested=style["complex"] == "yes"))})
        if draw(st.integers(0, 3)) == 0:  # a numeric key spans carry too
            attrs.append({"key": NUM, "value": draw(any_values(style["int"], numeric_like=True))})
        if draw(st.booleans()):  # a key spans carry too: theirs counts where they have it
            attrs.append({"key": KEY, "value": {"stringValue": draw(texts)}})
        if draw(st.booleans()):
            attrs.append({"key": "host.name", "value": {"stringValue": draw(texts)}})
        attrs = draw(st.permutations(attrs))
        rs["resource"] = {"attributes": attrs, "droppedAttributesCount": 0}
    library = style["scopes"] == "library" or (style["scopes"] == "mixed" and draw(st.booleans()))
    scopes_key = "instrumentationLibrarySpans" if library else "scopeSpans"
    scope_key = "instrumentationLibrary" if library else "scope"
    scopes = []
    for _ in range(draw(st.integers(1, 2))):
        scope: dict[str, Any] = {"spans": draw(st.lists(spans(style), max_size=3))}
        if draw(st.booleans()):
            scope[scope_key] = {"name": draw(texts), "version": "1.2.3"}
        if draw(st.booleans()):
            scope["schemaUrl"] = "https://opentelemetry.io/schemas/1.21.0"
        scopes.append(scope)
    rs[scopes_key] = scopes
    return rs


@st.composite
def exports(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Documents (``{"resourceSpans": [...]}``) and the per-file style they were written in."""
    mixed = draw(st.integers(0, 3)) == 0  # else one JSON type per field, as exporters write
    forms = st.sampled_from(["str", "num", "mixed"] if mixed else ["str", "num"])
    style = {
        "time": draw(forms),
        "int": draw(forms),
        "kind": draw(st.sampled_from(["int", "name", "mixed"] if mixed else ["int", "name"])),
        "code": draw(st.sampled_from(["int", "name", "mixed"] if mixed else ["int", "name"])),
        "scopes": draw(st.sampled_from(["scope", "scope", "library", "library", "mixed"])),
        # arrayValue / kvlistValue under wanted keys; keys needing escapes, ASCII written as \uXXXX:
        # in some files only, as a columnar reader may decline a file for them (hiding all else)
        "complex": "yes" if draw(st.integers(0, 2)) == 0 else "no",
        "escaped_keys": "yes" if draw(st.integers(0, 3)) == 0 else "no",
    }
    docs = [
        {"resourceSpans": draw(st.lists(resource_spans(style), min_size=1, max_size=2))}
        for _ in range(draw(st.integers(1, 3)))
    ]
    return docs, style


# ---- writing JSON text: layout, whitespace, key order, escapes -------------------------------------

_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _u(c: str, rng: random.Random) -> str:
    """``c`` as ``\\uXXXX`` escapes (a surrogate pair beyond the BMP), hex digits in either case."""
    b = c.encode("utf-16-be")
    units = [int.from_bytes(b[i : i + 2], "big") for i in range(0, len(b), 2)]
    return "".join(f"\\u{u:04X}" if rng.random() < 0.5 else f"\\u{u:04x}" for u in units)


def _string(s: str, rng: random.Random, ascii_escapes: float) -> str:
    """A JSON string literal for ``s``, each character in one of the forms JSON allows."""
    out = ['"']
    for c in s:
        r = rng.random()
        if c in _SHORT:
            out.append(_SHORT[c] if r < 0.8 else _u(c, rng))
        elif ord(c) < 0x20:
            out.append(_u(c, rng))
        elif c == "/":
            out.append("\\/" if r < 0.5 else "/")
        elif ord(c) > 0x7E:
            out.append(_u(c, rng) if r < 0.5 else c)
        else:
            out.append(_u(c, rng) if r < ascii_escapes else c)
    out.append('"')
    return "".join(out)


def _dump(v: Any, rng: random.Random, ws: str, key_escapes: bool) -> str:
    """``v`` as JSON with keys in random order and random whitespace (from ``ws``) between tokens;
    ``key_escapes``: plain ASCII characters of keys and values written as ``\\uXXXX`` now and then."""

    def gap() -> str:
        return "".join(rng.choice(ws) for _ in range(rng.choice((0, 0, 0, 1, 2))))

    if isinstance(v, dict):
        items = list(v.items())
        rng.shuffle(items)
        body = ",".join(
            f"{gap()}{_string(k, rng, 0.02 * key_escapes)}{gap()}:{gap()}{_dump(x, rng, ws, key_escapes)}{gap()}"
            for k, x in items
        )
        return "{" + (body or gap()) + "}"
    if isinstance(v, list):
        return "[" + (",".join(f"{gap()}{_dump(x, rng, ws, key_escapes)}{gap()}" for x in v) or gap()) + "]"
    if isinstance(v, str):
        return _string(v, rng, 0.02 * key_escapes)
    return json.dumps(v)


def _shuffled(v: Any, rng: random.Random) -> Any:
    """``v`` with the keys of every object in random order (json.dumps keeps the order)."""
    if isinstance(v, dict):
        items = list(v.items())
        rng.shuffle(items)
        return {k: _shuffled(x, rng) for k, x in items}
    if isinstance(v, list):
        return [_shuffled(x, rng) for x in v]
    return v


_UHEX = re.compile(r"(\\\\)|\\u([0-9a-f]{4})")


def render(docs: list[dict[str, Any]], layout: str, rng: random.Random, key_escapes: bool = False) -> bytes:
    """The file's bytes: ``lines`` (one document a line, spaces and tabs between tokens), ``pretty``
    (json.dumps indent=2, ``\\/`` and upper-case ``\\u`` hex here and there), ``spread`` (any JSON
    whitespace between tokens, newlines included)."""
    if layout == "lines":
        end = rng.choice(["\n", "\n", "\r\n"])
        text = end.join(_dump(d, rng, " \t", key_escapes) for d in docs) + rng.choice([end, ""])
    elif layout == "pretty":
        ascii_ = rng.random() < 0.5
        text = "\n".join(json.dumps(_shuffled(d, rng), indent=2, ensure_ascii=ascii_) for d in docs) + "\n"
        text = text.replace("/", "\\/") if rng.random() < 0.5 else text  # "/" occurs in strings only
        text = _UHEX.sub(lambda m: m.group(1) or "\\u" + m.group(2).upper(), text)
    else:
        text = rng.choice(["\n", " ", "\n\n"]).join(_dump(d, rng, " \t\r\n", key_escapes) for d in docs)
    return text.encode("utf-8")


# ---- the comparison --------------------------------------------------------------------------------


class _Refuses:
    """A decoder that refuses every export: the reader then takes each as plain JSON (``json``)."""

    def decode(self, data: Any) -> Any:
        raise msgspec.ValidationError("refused")


def document_frame(data: bytes, path: Path, numeric: tuple[str, ...]) -> pd.DataFrame:
    """The frame of the plain-JSON route (the standard library's ``json``, every export shaped by hand),
    ``numeric`` attribute columns read as numbers; the typed msgspec route must give the same."""
    typed = otlp.parse(data, path, ATTRS).reset_index(drop=True)
    real, otlp._DECODER = otlp._DECODER, _Refuses()
    try:
        slow = otlp.parse(data, path, ATTRS).reset_index(drop=True)
    finally:
        otlp._DECODER = real
    pd.testing.assert_frame_equal(typed, slow, check_dtype=False)
    for k in numeric:
        slow["attr:" + k] = pd.to_numeric(slow["attr:" + k], errors="coerce").astype("float64")
    return slow


def assert_readers_agree(path: Path, plain: bytes, numeric: tuple[str, ...] = ()) -> bool:
    """True when the columnar reader gave a frame (and it equals the document reader's), False when it declined."""
    fast = otlpfast.parse_arrow(path, ATTRS, numeric)
    if fast is None:
        return False
    slow = document_frame(plain, path, numeric)
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow, check_dtype=False)
    return True


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("otlp_fuzz")


@settings(
    max_examples=60,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    export=exports(),
    layout=st.sampled_from(["lines", "lines", "pretty", "spread"]),
    numeric=st.sampled_from([(), (), (NUM,), (NUM, RES), (KEY,)]),
    gz=st.booleans(),
    seed=st.integers(0, 2**32 - 1),  # of the layout: whitespace, key order, escape forms
)
def test_columnar_reader_gives_the_document_readers_frame(
    workdir: Path,
    export: tuple[list[dict[str, Any]], dict[str, str]],
    layout: str,
    numeric: tuple[str, ...],
    gz: bool,
    seed: int,
) -> None:
    docs, style = export
    rng = random.Random(seed)
    plain = render(docs, layout, rng, key_escapes=style["escaped_keys"] == "yes")
    path = workdir / ("export.json.gz" if gz else "export.json")
    path.write_bytes(gzip.compress(plain) if gz else plain)
    read = assert_readers_agree(path, plain, numeric)
    regular = "mixed" not in style.values() and style["escaped_keys"] == style["complex"] == "no"
    event(f"columnar {'read' if read else 'declined'} ({layout}, {'regular' if regular else 'irregular'})")


# ---- hand-written files: concrete values -----------------------------------------------------------

#: one line, keys in an odd order, every string escape form, ids in upper case, times as JSON numbers
ESCAPED = (
    '{"resourceSpans":[{"scopeSpans":[{"scope":{"version":"1","name":"s\\/1"},"spans":['
    '{"name":"a\\"b\\\\c\\u00e9","kind":2,"endTimeUnixNano":1700000000002000000,"spanId":"00F067AA0BA902B7",'
    '"startTimeUnixNano":1700000000000000000,"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","parentSpanId":"",'
    '"events":[{"name":"e","attributes":[{"key":"app.key","value":{"stringValue":"not me"}}]}],"flags":1,'
    '"attributes":[{"value":{"stringValue":"\\ud83d\\ude00 \\/ \\t\\n"},"key":"app.key"},'
    '{"key":"app.\\"k\\\\\\/\\u00e9\\uD83D\\uDE00\\t","value":{"intValue":42}},'
    '{"key":"app.num","value":{"doubleValue":1e-7}}],"status":{"message":"x","code":2}}]}],'
    '"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"caf\\u00e9 \\ud83d\\ude00"}},'
    '{"key":"app.res","value":{"doubleValue":-2.25}}]}}]}\n'
)


def _pin_escaped(df: pd.DataFrame) -> None:
    row = df.iloc[0]
    assert len(df) == 1
    assert row["name"] == 'a"b\\cé'
    assert row["service"] == "café 😀"
    assert row["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" and row["span_id"] == "00f067aa0ba902b7"
    assert pd.isna(row["parent_id"])
    assert row["kind"] == "server" and bool(row["error"]) is True
    assert row["start_ns"] == 1_700_000_000_000_000_000 and row["dur_ns"] == 2_000_000
    assert row["attr:" + KEY] == "😀 / \t\n"  # the span's own value, not the event's
    assert row["attr:" + ODD] == "42"
    assert row["attr:" + RES] == "-2.25"


@pytest.mark.parametrize("gz", [False, True])
def test_escaped_strings_and_numbers_by_hand(tmp_path: Path, gz: bool) -> None:
    plain = ESCAPED.encode("ascii")
    assert plain.count(b"\n") == 1
    p = tmp_path / "escaped.json"
    p.write_bytes(gzip.compress(plain) if gz else plain)
    slow = otlp.parse(plain, p, ATTRS)
    _pin_escaped(slow)
    assert float(slow["attr:" + NUM].iloc[0]) == 1e-7
    assert document_frame(plain, p, (NUM, RES))["attr:" + NUM].tolist() == [1e-7]  # typed and plain agree
    if not otlpfast.available():
        return
    fast = otlpfast.parse_arrow(p, ATTRS)
    assert fast is not None  # one line, one type per field: the columnar path's ground
    _pin_escaped(fast)
    assert assert_readers_agree(p, plain, (NUM, RES))
    fast_num = otlpfast.parse_arrow(p, ATTRS, (NUM, RES))
    assert fast_num is not None
    assert fast_num["attr:" + NUM].tolist() == [1e-7] and fast_num["attr:" + RES].tolist() == [-2.25]


def test_escaped_file_pretty_printed_with_raw_utf8_reads_the_same(tmp_path: Path) -> None:
    (doc,) = [json.loads(line) for line in ESCAPED.splitlines()]
    p = tmp_path / "pretty.json"
    p.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    assert "😀" in p.read_text(encoding="utf-8")
    slow = otlp.parse(p.read_bytes(), p, ATTRS)
    _pin_escaped(slow)
    if otlpfast.parse_arrow(p, ATTRS) is not None:
        assert assert_readers_agree(p, p.read_bytes())


def test_regular_line_delimited_export_is_read_column_wise(tmp_path: Path) -> None:
    """The Collector's everyday output (one export a line, times and ints as strings, scalar attribute
    values, one JSON type per field) is what the columnar path exists for: it must not decline it."""
    docs = []
    for d in range(4):
        spans = [
            otlp_span(
                f"{d:016x}{t:016X}",
                f"{d:08x}{t:08X}",
                ["GetCart", "Charge", 'a"b/é'][t % 3],
                10**18 + d * 10**9 + t,
                (t + 1) * 10**6,
                parent=f"{d:08x}{0:08x}" if t else None,
                kind=3 if t else 2,
                status={"code": 2} if t == 2 else {},
                attrs={"peer.service": "db", KEY: f"k{t}", NUM: 10 * t, "http.url": "/x"},
                trace_state="ot=th:8" if t == 1 else None,
            )
            for t in range(3)
        ]
        docs.append(otlp_doc({"checkout": spans[:2], "cart 😀": spans[2:]}, resource_attrs={RES: "eu"}))
    p = write_json(tmp_path / "export.json", docs, lines=True)
    for numeric in ((), (NUM,)):
        assert assert_readers_agree(p, p.read_bytes(), numeric) is otlpfast.available()
    fast = otlpfast.parse_arrow(p, ATTRS, (NUM,)) if otlpfast.available() else document_frame(p.read_bytes(), p, (NUM,))
    assert fast is not None and len(fast) == 12
    assert fast["service"].tolist()[:3] == ["checkout", "checkout", "cart 😀"]
    assert fast["attr:" + NUM].tolist()[:3] == [0.0, 10.0, 20.0]
    assert fast["attr:tracestate"].tolist()[1] == "ot=th:8" and pd.isna(fast["attr:tracestate"].iloc[0])
    assert set(fast["attr:" + RES]) == {"eu"}
    assert fast["index"].tolist() == list(range(1, 13))


# ---- hand-written cases the pyarrow.json columnar reader got wrong: agree or decline ---------------


def _one_span(attrs: list[dict[str, Any]], res: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    sp = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "n", "startTimeUnixNano": "1", "endTimeUnixNano": "3"}
    return {
        "resourceSpans": [
            {"resource": {"attributes": res}, "scopeSpans": [{"spans": [{**sp, **fields, "attributes": attrs}]}]}
        ]
    }


def _kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


HAND_CASES = {
    # kind's enum name for 0: the document reader lower-cases the whole name
    "kind-unspecified": ([_one_span([], [], kind="SPAN_KIND_UNSPECIFIED")], (), "kind", ["span_kind_unspecified"]),
    # complex values under a wanted key are JSON text, on spans and on resources
    "array": ([_one_span([_kv(KEY, {"arrayValue": {"values": [{"intValue": "1"}]}})], [])], (), "attr:" + KEY, ["[1]"]),
    "kvlist": (
        [_one_span([_kv(KEY, {"kvlistValue": {"values": [_kv("k", {"boolValue": True})]}})], [])],
        (),
        "attr:" + KEY,
        ['{"k":true}'],
    ),
    "resource-array": ([_one_span([], [_kv(RES, {"arrayValue": {"values": []}})])], (), "attr:" + RES, ["[]"]),
    # the span's own value counts even when it says nothing: no fall back to the resource's
    "empty-value": ([_one_span([_kv(KEY, {})], [_kv(KEY, {"stringValue": "r"})])], (), "attr:" + KEY, [None]),
    "numeric-text": (
        [
            _one_span([_kv(NUM, {"stringValue": "abc"})], [_kv(NUM, {"stringValue": "5"})]),
            _one_span([], [_kv(NUM, {"intValue": "5"})]),
        ],
        (NUM,),
        "attr:" + NUM,
        [None, 5.0],
    ),
    # numbers with a fraction where an integer belongs: the document reader truncates them
    "fraction-time": ([_one_span([], [], startTimeUnixNano=1000.5)], (), "start_ns", [1000]),
    "fraction-status-code": ([_one_span([], [], status={"code": 2.0})], (), "error", [True]),
    "fraction-int-text": ([_one_span([_kv(KEY, {"intValue": "1.5"})], [])], (), "attr:" + KEY, ["1"]),
    # an integer beyond 2**53 read as a number: rounded to the nearest double, as text read as a number is
    "big-int-numeric": (
        [_one_span([_kv(NUM, {"intValue": str(2**53 + 1)})], [])],
        (NUM,),
        "attr:" + NUM,
        [float(2**53)],
    ),
    # ids and kind names lower-cased as Python does it (dotted capital I, final sigma)
    "non-ascii-trace-id": ([_one_span([], [], traceId="\u0130D")], (), "trace_id", ["i\u0307d"]),
    "non-ascii-span-id": ([_one_span([], [], spanId="\u0391\u03a3")], (), "span_id", ["\u03b1\u03c2"]),
    "non-ascii-kind": ([_one_span([], [], kind="\u0391\u03a3")], (), "kind", ["\u03b1\u03c2"]),
    # scopeSpans in one resourceSpans entry, the older instrumentationLibrarySpans in the next
    "mixed-scopes": (
        [
            {
                "resourceSpans": [
                    _one_span([], [])["resourceSpans"][0],
                    {"instrumentationLibrarySpans": [{"spans": [{"traceId": "ef" * 16, "spanId": "01" * 8}]}]},
                ]
            }
        ],
        (),
        "trace_id",
        ["ab" * 16, "ef" * 16],
    ),
}


@pytest.mark.parametrize("case", sorted(HAND_CASES))
def test_hand_cases_read_alike_or_are_declined(tmp_path: Path, case: str) -> None:
    """Each case pins the document reader's value; the columnar reader gives the same or declines.
    (The pyarrow.json columnar reader gave a frame that differed on every one of them.)"""
    docs, numeric, column, expected = HAND_CASES[case]
    p = write_json(tmp_path / "case.json", docs, lines=True)
    slow = document_frame(p.read_bytes(), p, numeric)
    assert [None if pd.isna(x) else x for x in slow[column]] == expected
    assert_readers_agree(p, p.read_bytes(), numeric)


#: a key written twice in one object: JSON readers keep its last value, so the first one must not count
_SPAN = '{"traceId":"' + "ab" * 16 + '","spanId":"' + "cd" * 8 + '","startTimeUnixNano":"1","endTimeUnixNano":"3"'
_SVC = '{"key":"service.name","value":{"stringValue":"svc"}}'
_SCOPES = '"scopeSpans":[{"spans":[' + _SPAN + "}]}]"
DUPLICATE_KEYS = {
    # (an entry with a scope of no spans last: the count of resourceSpans must not be the scope's)
    "resourceSpans": ('{"resourceSpans":[{' + _SCOPES + '},{"scopeSpans":[{}]}],"resourceSpans":[]}', "span_id", []),
    "resource": (
        '{"resourceSpans":[{"resource":{"attributes":[' + _SVC + ']},"resource":null,' + _SCOPES + "}]}",
        "service",
        [None],
    ),
    "resource-attributes": (
        '{"resourceSpans":[{"resource":{"attributes":[' + _SVC + '],"attributes":[]},' + _SCOPES + "}]}",
        "service",
        [None],
    ),
    "spans": ('{"resourceSpans":[{"scopeSpans":[{"spans":[' + _SPAN + '}],"spans":[]}]}]}', "span_id", []),
    "span-attributes": (
        '{"resourceSpans":[{"scopeSpans":[{"spans":['
        + _SPAN
        + ',"attributes":[{"key":"'
        + KEY
        + '","value":{"stringValue":"x"}}],"attributes":[]}]}]}]}',
        "attr:" + KEY,
        [None],
    ),
}


@pytest.mark.parametrize("case", sorted(DUPLICATE_KEYS))
def test_a_repeated_key_counts_once_as_in_the_document_reader(tmp_path: Path, case: str) -> None:
    text, column, expected = DUPLICATE_KEYS[case]
    p = tmp_path / "dup.json"
    p.write_text(text + "\n", encoding="utf-8")
    slow = document_frame(p.read_bytes(), p, ())
    assert [None if pd.isna(x) else x for x in slow[column]] == expected
    assert_readers_agree(p, p.read_bytes())
