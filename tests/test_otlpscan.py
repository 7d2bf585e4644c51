"""The compiled OTLP scanner's own pieces: the word-at-a-time string search, the integer reader, the
growth of its record arrays (paths the whole-file tests reach only by chance) and where it says it
gave up."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")  # the compiled scanner: the fast-otlp extra
import numba

from recipemut.logs import otlp, otlpfast, otlpscan
from recipemut.logs.common import DEFAULT_ATTRIBUTES
from recipemut.logs.otlpscan import lex, scan
from recipemut.logs.otlpscan.memory import byte_pointer

SPECIAL = {0x22, 0x5C} | set(range(0x20)) | set(range(0x80, 0x100))


@numba.njit(cache=False)
def _plain(a: np.ndarray, i: int, n: int) -> int:
    return lex.plain_end(byte_pointer(a), i, n)


@numba.njit(cache=False)
def _string(a: np.ndarray, i: int, n: int) -> tuple[int, int]:
    return lex.string_end(byte_pointer(a), i, n)


#: bytes mostly plain, with every kind of special byte somewhere
plain_bytes = st.binary(max_size=80) | st.lists(
    st.sampled_from([*b"abcXYZ019 .:-_{}", 0x22, 0x5C, 0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xFF]), max_size=80
).map(bytes)


@settings(max_examples=400, deadline=None)
@given(plain_bytes, st.data())
def test_plain_stops_at_the_first_quote_backslash_control_or_non_ascii_byte(data: bytes, draw: st.DataObject) -> None:
    a = np.frombuffer(data + b"\x00" * 8, dtype=np.uint8)  # a special byte past the end must not count
    n = draw.draw(st.integers(0, len(data)))
    i = draw.draw(st.integers(0, n))
    expected = next((k for k in range(i, n) if data[k] in SPECIAL), n)
    assert _plain(a, i, n) == expected


texts = st.text(
    st.sampled_from(["a", "Z", "0", " ", '"', "\\", "/", "\n", "\x01", "\x7f", "é", "中", "😀"]), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(texts, st.booleans(), st.integers(0, 9))
def test_string_end_and_escape_flag_match_json(text: str, ascii_only: bool, pad: int) -> None:
    body = json.dumps(text, ensure_ascii=ascii_only).encode("utf-8")
    data = b" " * pad + body + b',"next"'
    end, esc = _string(np.frombuffer(data, dtype=np.uint8), pad, len(data))
    assert end == pad + len(body)
    assert esc == int(b"\\" in body)


def test_a_string_cut_by_the_end_of_the_part_is_bad_json() -> None:
    data = b'"abcdefghijklmnop","x"'
    end, _ = _string(np.frombuffer(data, dtype=np.uint8), 0, 12)  # the closing quote lies past n
    assert end == -otlpscan.BAD_JSON


def test_record_arrays_grow_past_their_first_room(tmp_path: Path) -> None:
    """Spans of a dozen bytes and attribute records of eleven: more than the room the scanner
    sets aside for a part of this size, so both arrays grow mid-scan; the frame stays the
    document reader's."""
    n_spans, n_records = 12_000, 40_000
    spans = [{"name": f"s{k % 7}"} for k in range(n_spans)]
    for k in range(0, n_spans, n_spans // 4):  # four spans hold most of the attribute records
        spans[k] = {
            "name": "many",
            "attributes": [{"key": "app.x"}] * (n_records // 4 - 1)
            + [{"key": "app.x", "value": {"stringValue": f"last{k}"}}],
        }
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}
    path = tmp_path / "tiny.json"
    data = json.dumps(doc, separators=(",", ":")).encode()
    path.write_bytes(data)
    part = len(data)
    assert n_spans > part // 128 + 4096 and n_records > part // 32 + 4096  # the first room is too small

    attrs = (*DEFAULT_ATTRIBUTES, "app.x")
    fast = otlpfast.parse_arrow(path, attrs)
    assert fast is not None
    slow = otlp.parse(data, path, attrs)
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow.reset_index(drop=True), check_dtype=False)
    assert sorted(fast["attr:app.x"].dropna().unique()) == sorted(f"last{k}" for k in range(0, n_spans, n_spans // 4))


@numba.njit(cache=False)
def _int(a: np.ndarray, s: int, e: int) -> tuple[int, int]:
    return lex.parse_int(byte_pointer(a), s, e)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*b"0123456789", *b"0123456789", *b"-+. e/:\x00"]), max_size=21).map(bytes))
def test_int_takes_decimal_digits_only(text: bytes) -> None:
    """Every byte below '0' or above '9' makes it not an integer (a '.', '-', '/' or space inside
    the digits once went into the value as a negative digit)."""
    value, ok = _int(np.frombuffer(text + b"9", dtype=np.uint8), 0, len(text))  # a digit past the end must not count
    digits = re.fullmatch(rb"-?([0-9]{1,19})", text)
    expected = digits is not None and int(digits.group(1)) < 2**63
    assert ok == expected
    if ok:
        assert value == int(text)


def test_a_failed_scan_names_the_export_it_stopped_in() -> None:
    good = b'{"resourceSpans":[]}\n'
    bad = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"1.5"}]}]}]}\n'
    data = np.frombuffer(good + good + bad, dtype=np.uint8)
    wk = np.frombuffer(b"service.namepeer.service", dtype=np.uint8)
    wo = np.array([0, 12, 24], dtype=np.int64)
    code, pos, *_ = otlpscan.scan_part(data, 0, data.size, wk, wo)
    assert code == otlpscan.NOT_INTEGER
    assert pos == 2 * len(good)


@pytest.mark.parametrize("gz", [False, True])
def test_loading_the_scanner_up_front_compiles_what_a_real_read_calls(tmp_path: Path, monkeypatch, gz: bool) -> None:
    """otlpfast._load_scanner() calls scan_part and gather with the argument types a read passes them, so
    a read afterwards compiles no other variant (one would cost a compile of many seconds, inside the
    scanning threads, with an empty cache). A gzip file's bytes are gunzipped into writable memory,
    a mapped file's are read-only: to numba, two array types."""
    seen: dict[str, set[tuple]] = {"scan_part": set(), "gather": set()}

    def spy(name: str):
        real = getattr(otlpscan, name)

        def call(*args):
            seen[name].add(tuple(numba.typeof(a) for a in args))
            return real(*args)

        return call

    for name in seen:
        monkeypatch.setattr(otlpscan, name, spy(name))
    otlpfast._load_scanner.__wrapped__()
    warmed = {k: set(v) for k, v in seen.items()}
    spans = [
        {"traceId": "AB" * 16, "spanId": "cd" * 8, "name": 'n"\\u00e9', "startTimeUnixNano": "1", "endTimeUnixNano": 2}
    ]
    spans[0]["attributes"] = [
        {"key": "app.x", "value": {"doubleValue": 1.5}},
        {"key": "peer.service", "value": {"stringValue": "db"}},
    ]
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}
    path = tmp_path / "one.json"
    text = (json.dumps(doc) + "\n").encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    got = otlpfast.parse_arrow(path, (*DEFAULT_ATTRIBUTES, "app.x"), ("app.x",))
    assert got is not None and got["attr:app.x"].tolist() == [1.5] and got["peer_service"].tolist() == ["db"]
    assert seen == warmed  # the read called them with no argument types the warm-up did not


def test_a_slow_load_of_the_scanner_says_it_is_compiling(monkeypatch, caplog) -> None:
    """The first use after installing compiles the scanner for tens of seconds: a user sees why."""
    import threading
    import time

    real = otlpscan.scan_part

    def slow(*args):
        end = time.monotonic() + 120  # as a compile would take: the load lasts until the note is out
        while otlpfast.SLOW_LOAD_NOTE not in caplog.messages and time.monotonic() < end:
            time.sleep(0.01)
        return real(*args)

    monkeypatch.setattr(otlpscan, "scan_part", slow)
    monkeypatch.setattr(otlpfast, "SLOW_LOAD_S", 0.05)
    with caplog.at_level("WARNING"):
        otlpfast._load_scanner.__wrapped__()
    assert otlpfast.SLOW_LOAD_NOTE in caplog.messages
    caplog.clear()

    timers: list[threading.Timer] = []

    class Recorded(threading.Timer):
        def start(self) -> None:
            timers.append(self)
            super().start()

    monkeypatch.setattr(threading, "Timer", Recorded)
    monkeypatch.setattr(otlpscan, "scan_part", real)  # loaded already: fast
    monkeypatch.setattr(otlpfast, "SLOW_LOAD_S", 60.0)
    with caplog.at_level("WARNING"):
        otlpfast._load_scanner.__wrapped__()
        # the note was called off when the load ended, whenever its delay would have run out
        assert len(timers) == 1 and timers[0].finished.is_set()
        timers[0].join(timeout=60)
    assert otlpfast.SLOW_LOAD_NOTE not in caplog.messages


def test_the_cached_entry_points_change_with_every_module_compiled_into_them() -> None:
    """numba keys its cache of scan_part and gather on scan.py's content alone, though every other
    module of the scanner is compiled into them: scan.py carries those modules' digest, so that an
    edit to one of them is an edit to scan.py and the scanner compiles again (else the cached code
    of the old module would run)."""
    folder = Path(scan.__file__).parent
    others = {p.stem for p in folder.glob("*.py")} - {"__init__", "scan"}
    assert set(scan.COMPILED_IN) == others, "every module scan.py compiles in is in COMPILED_IN"
    digest = hashlib.sha256()
    for name in scan.COMPILED_IN:
        digest.update((folder / f"{name}.py").read_bytes().replace(b"\r\n", b"\n"))
    want = digest.hexdigest()[:16]
    assert want == scan.SOURCES_DIGEST, f"a module of the scanner changed: set scan.SOURCES_DIGEST = {want!r}"
