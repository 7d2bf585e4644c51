"""Huge, infinite and NaN numbers in a recipe are one located finding, never a traceback or an overflow later."""

from __future__ import annotations

import pytest

from recipemut.recipe.loader import check_text
from recipemut.recipe.yamlpos import MAX_INT_DIGITS

HEAD = "apiVersion: recipemut/v1\nkind: Recipe\nname: x\nservices: {s: {}}\noperations:\n  - id: a\n    service: s\n"


def _findings(extra: str) -> list[str]:
    recipe, findings = check_text(HEAD + "    action: A\n" + extra, file="r.yaml")
    assert recipe is None
    return [str(f) for f in findings if f.severity == "error"]


@pytest.mark.parametrize("number", ["9" * 5000, "-" + "1" * 4301, "0x" + "f" * 5000, "1_000" * 400])
def test_an_integer_beyond_the_digit_limit_is_one_located_finding(number: str) -> None:
    found = _findings(f"    cost_per_call_usd: {number}\n")
    assert len(found) == 1
    assert found[0].startswith("r.yaml:9:24: number with ") and f"digits; at most {MAX_INT_DIGITS}" in found[0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e308", "must be <= 1000000000000.0, got 1e+308 [out-of-range]"),
        ("1e400", "inf is not a finite number [bad-value]"),
        (".inf", "inf is not a finite number [bad-value]"),
        (".nan", "nan is not a finite number [bad-value]"),
        ("-.inf", "-inf is not a finite number [bad-value]"),
    ],
)
def test_huge_or_non_finite_costs_are_findings(value: str, message: str) -> None:
    found = _findings(f"    cost_per_call_usd: {value}\n")
    assert found == [f"r.yaml:9:5: operations[0] (a).cost_per_call_usd: {message}"]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("    cache: {ttl_s: 1e300, max_entries: 10}\n", "cache.ttl_s"),
        ("    cache: {ttl_s: 1, max_entries: " + "9" * 90 + "}\n", "cache.max_entries"),
        ("    hedge: {after_ms: 1e200}\n", "hedge.after_ms"),
        ("    expected: {latency_ms: {p95: 1e300}}\n", "expected.latency_ms.p95"),
    ],
)
def test_implausible_magnitudes_are_out_of_range(extra: str, key: str) -> None:
    found = _findings(extra)
    assert len(found) == 1 and key in found[0] and found[0].endswith("[out-of-range]"), found


def test_huge_replicas_and_versions_are_out_of_range() -> None:
    text = HEAD.replace("services: {s: {}}", "version: " + "9" * 50 + "\nservices: {s: {replicas: 10000000000}}")
    recipe, findings = check_text(text + "    action: A\n", file="r.yaml")
    assert recipe is None
    assert sorted(f.code for f in findings if f.severity == "error") == ["out-of-range", "out-of-range"]
