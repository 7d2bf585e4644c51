"""The run-history readers' times and services, vectorised (recipemut.logs.runs.rows): ``times_ms``
reads a whole column as ``time_ms`` reads each value, and a table's first bad span is the one the
per-value rule names."""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipemut.errors import LogError
from recipemut.logs.runs.rows import Rows, time_ms, times_ms
from recipemut.recipe.loader import load_recipe

UTC = dt.timezone.utc

# RFC 3339 text as the engines write it (years pandas reads at any precision: 1970..2200)
_instants = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1))
_offsets = st.sampled_from(["Z", "z", "+00:00", "+02:00", "-05:30", "+14:00", ""])


@st.composite
def rfc3339(draw: st.DrawFn) -> str:
    t = draw(_instants)
    digits = draw(st.sampled_from([0, 3, 6, 9]))
    frac = "" if not digits else "." + f"{t.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    sep = draw(st.sampled_from(["T", " "]))
    return t.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + frac + draw(_offsets)


# text that is no time: no digits (hypothesis' text could otherwise spell a year pandas reads), and no
# lower-case "now" or "today" (pandas reads them as the clock's time, which moves between two calls)
_junk_text = st.one_of(
    st.text(alphabet=string.ascii_uppercase + "bcefghijklmpqrsuvxz :-+.", max_size=12),
    st.sampled_from(["", "yesterday", "2024-13-01T00:00:00Z", "2024-01-01T25:00:00Z", "2024-02-30T00:00:00Z"]),
    st.sampled_from(["12:00:00", "1600000000", "2024-01-01T00:00:00+25:00", "NOW"]),
)
_numbers = st.one_of(
    st.integers(-(10**13), 10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(10**13, 10**20),
    st.just(10**400),  # beyond a double: no time
)
_datetimes = st.one_of(
    _instants,
    st.builds(lambda t, h: t.replace(tzinfo=dt.timezone(dt.timedelta(hours=h))), _instants, st.integers(-12, 14)),
)
_others = st.one_of(
    st.none(),
    st.booleans(),
    st.dates(),
    st.just({"seconds": 1}),
    st.just([1, 2]),
    st.just(["2024-01-01T00:00:00Z"]),
)
values = st.one_of(rfc3339(), _junk_text, _numbers, _datetimes, _others)


def same(got: np.ndarray, want: list[float]) -> None:
    np.testing.assert_array_equal(got, np.asarray(want, dtype=np.float64))  # (NaN equals NaN here)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(values, max_size=40))
def test_times_ms_reads_a_column_as_time_ms_reads_each_value(column: list[Any]) -> None:
    same(times_ms(column), [time_ms(v) for v in column])
    same(times_ms(tuple(column)), [time_ms(v) for v in column])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(values, values), min_size=1, max_size=30))
def test_the_first_bad_span_is_the_one_the_per_value_rule_names(spans: list[tuple[Any, Any]]) -> None:
    rows = _rows(spans)
    bad = [i for i, (s, e) in enumerate(spans) if not (time_ms(s) <= time_ms(e))]  # (False where either is NaN)
    if not bad:
        table, counts, _ = rows.table(engine="Argo", strict=True)
        assert table.num_rows == len(spans) and counts["steps_without_time"] == 0
        return
    first = bad[0]
    start, end = spans[first]
    message = f"run 'r{first}', step 's{first}': no usable start or end time ({start!r} .. {end!r}) (--strict)"
    with pytest.raises(LogError) as err:
        rows.table(engine="Argo", strict=True)
    assert err.value.message == message
    table, counts, notes = _rows(spans).table(engine="Argo", strict=False)
    assert counts["steps_without_time"] == len(bad) and table.num_rows == len(spans) - len(bad)
    steps = f"{len(bad)} step{'s' * (len(bad) != 1)}"
    assert f"{steps} without a usable start and end time left out (first: run 'r{first}', " in notes[0]


def _rows(spans: list[tuple[Any, Any]]) -> Rows:
    rows = Rows(Path("runs.json"), None)
    for i, (start, end) in enumerate(spans):
        rows.add(f"r{i}", f"s{i}", "svc", start, end, "ok")
    return rows


def test_the_documented_forms() -> None:
    naive = dt.datetime(2024, 1, 1, 0, 0, 1)
    aware = dt.datetime(2024, 1, 1, 1, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    column = ["2024-01-01T00:00:01Z", 1704067201, 1704067201.25, 1704067201250, naive, aware,
              None, True, "yesterday", {"a": 1}, [1], dt.date(2024, 1, 1), 10**400]  # fmt: skip
    want = 1704067201000.0
    same(times_ms(column), [want, want, want + 250, want + 250, want, want] + [np.nan] * 7)


def test_an_integer_beyond_a_double_is_no_time_not_a_crash() -> None:
    # (float(10**400) raises OverflowError: the per-value loop let it out of Rows.table)
    same(times_ms([1, 10**400, "1970-01-01T00:00:02Z"]), [1000.0, np.nan, 2000.0])
    rows = Rows(Path("runs.json"), None)
    rows.add("r", "a", "svc", 1, 10**400, "ok")
    with pytest.raises(LogError, match=r"run 'r', step 'a': no usable start or end time \(1 \.\. 1000+\) \(--strict\)"):
        rows.table(engine="Argo", strict=True)


def test_the_recipe_names_the_service_of_its_operations_and_only_those(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "apiVersion: recipemut/v1\nkind: Recipe\nname: x\noperations:\n"
        "  - {id: a, service: cart, action: a}\n  - {id: b, service: pay, action: b}\n"
    )
    rows = Rows(tmp_path / "runs.json", load_recipe(path))
    for i, (op, service) in enumerate([("a", None), ("b", "engine"), ("c", "engine"), ("d", None), ("a", "x")]):
        rows.add("r", op, service, i, i + 1, "ok")
    table, _, _ = rows.table(engine="Argo", strict=False)
    assert table.column("service").to_pylist() == ["cart", "pay", "engine", None, "cart"]
    assert table.column("start_ms").to_pylist() == [0.0, 1000.0, 2000.0, 3000.0, 4000.0]


def test_an_empty_history_makes_an_empty_table() -> None:
    table, counts, notes = Rows(Path("runs.json"), None).table(engine="Argo", strict=True)
    assert table.num_rows == 0 and counts["spans_read"] == 0 and notes == []
    assert times_ms([]).shape == (0,)
