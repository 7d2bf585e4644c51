"""Write-back and diffs of big recipes take time linear in their size, and keep every untouched line.

The recipes are built from the shipped checkout recipe: thousands of identical comment lines in
the middle of the operations, a long description, many operations. The mechanism is asserted
(the work handed to difflib is bounded; ruamel.yaml is handed only the parts the edits touch,
comment runs folded; time at 4x the size is at most ~4x, not 16x), and the output is checked
line by line.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recipemut.recipe.edits import Edit
from recipemut.recipe.linediff import line_opcodes, unified_diff
from recipemut.recipe.yamlio import apply_edits_to_text

CHECKOUT = (Path(__file__).resolve().parents[2] / "recipes" / "checkout" / "recipe.yaml").read_text()
COMMENT = "  # keep this line: the coordination service reads it\n"
# edits on both sides of the comment block, so the changed region spans it
EDITS = [
    Edit("set", ("version",), 5),
    Edit("set", ("operations", "load_cart", "cost_per_call_usd"), 0.00005),
    Edit("remove", ("operations", "audit_order", "after")),
]
CHANGED = {
    "version: 4": "version: 5",
    "    cost_per_call_usd: 0.00004": "    cost_per_call_usd: 0.00005",  # as a price is written (YAML 1.1: a float)
    "    after: [send_confirmation]": None,
}


def with_comments(n: int) -> str:
    """The checkout recipe with ``n`` identical comment lines before the operation score_fraud."""
    return CHECKOUT.replace("  - id: score_fraud", COMMENT * n + "  - id: score_fraud", 1)


def with_operations(n: int) -> str:
    """The checkout recipe with ``n`` more operations (valid: each appends to the audit log)."""
    op = "  - id: note_{i:05d}\n    service: audit\n    action: AppendEntry\n    consumes: [order_id]\n\n"
    return CHECKOUT.replace("services:\n", "".join(op.format(i=i) for i in range(n)) + "services:\n", 1)


def expected(text: str) -> str:
    """``text`` with exactly the lines of ``EDITS`` changed, everything else byte for byte."""
    out = []
    for line in text.splitlines(keepends=True):
        key = line.rstrip("\n")
        if key in CHANGED:
            new = CHANGED[key]
            if new is not None:
                out.append(new + "\n")
            continue
        out.append(line)
    return "".join(out)


@pytest.fixture
def difflib_work(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Tally the lines(a) x lines(b) of every window difflib searches (its worst-case work)."""
    tally = [0]
    real = difflib.SequenceMatcher.find_longest_match

    def counting(self: Any, alo: int = 0, ahi: Any = None, blo: int = 0, bhi: Any = None) -> Any:
        ahi = len(self.a) if ahi is None else ahi
        bhi = len(self.b) if bhi is None else bhi
        tally[0] += (ahi - alo) * (bhi - blo)
        if tally[0] > 5_000_000:  # stop a quadratic search early instead of waiting minutes for it
            raise AssertionError(f"difflib searched more than {tally[0]:,} line pairs")
        return real(self, alo, ahi, blo, bhi)

    monkeypatch.setattr(difflib.SequenceMatcher, "find_longest_match", counting)
    yield tally


def _best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """The least CPU time of this process over ``repeat`` runs of ``fn``: other processes on a
    loaded machine (a parallel test run) do not count, as they would in wall-clock time."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def test_ten_thousand_identical_comment_lines_are_kept_and_cost_little_difflib_work(
    difflib_work: list[int],
) -> None:
    text = with_comments(10_000)
    out = apply_edits_to_text(text, EDITS)
    assert out == expected(text)
    assert out.count(COMMENT) == 10_000
    lines = text.count("\n")
    assert difflib_work[0] <= 20 * lines, f"difflib searched {difflib_work[0]:,} line pairs for {lines:,} lines"


def test_write_back_time_grows_linearly_with_comment_lines() -> None:
    small, big = with_comments(1_000), with_comments(4_000)
    apply_edits_to_text(small, EDITS)  # warm up imports and caches
    t_small = _best_time(lambda: apply_edits_to_text(small, EDITS))
    t_big = _best_time(lambda: apply_edits_to_text(big, EDITS))
    assert t_big / t_small < 8, f"4x the lines took {t_big / t_small:.1f}x the time ({t_small:.3f} s -> {t_big:.3f} s)"


def test_many_operations_write_back_changes_only_the_edited_lines(difflib_work: list[int]) -> None:
    text = with_operations(400)
    out = apply_edits_to_text(text, EDITS)
    assert out == expected(text)
    assert difflib_work[0] <= 20 * text.count("\n")


def test_a_long_description_line_is_kept_byte_for_byte() -> None:
    words = "cart to confirmation e-mail, one order at a time; "
    long = "description: " + (words * 4_000).strip()  # ~200 KB on one line
    text = CHECKOUT.replace("description: Web-shop checkout, cart to confirmation e-mail.", long, 1)
    out = apply_edits_to_text(text, EDITS)
    assert out == expected(text)
    assert long + "\n" in out


def test_unified_diff_of_a_big_recipe_is_linear_and_shows_only_the_change(difflib_work: list[int]) -> None:
    text = with_comments(20_000)
    after = expected(text)
    d = unified_diff(text, after, "checkout.yaml")
    minus = [ln for ln in d.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln for ln in d.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert sorted(minus) == sorted("-" + k for k in CHANGED)
    assert sorted(plus) == sorted("+" + v for v in CHANGED.values() if v is not None)
    assert difflib_work[0] <= 20 * text.count("\n")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (["c"] * 100_000 + ["x"], ["c"] * 50_000 + ["y"] + ["c"] * 50_000),
        (["A", "B"] * 50_000, ["B", "A"] * 50_000),
        (["A"] * 50_000 + ["B"] * 50_000, ["B"] * 50_000 + ["A"] * 50_000),
        ([str(i // 2) for i in range(100_000)], [str(i // 2) for i in range(100_000)][::-1]),
        ([str(i) for i in range(100_000)], [str(i) for i in range(100_000)][::-1]),
    ],
    ids=["identical", "alternating", "swapped-blocks", "pairs-reversed", "unique-reversed"],
)
def test_line_opcodes_stay_cheap_and_correct_on_adversarial_input(
    a: list[str], b: list[str], difflib_work: list[int]
) -> None:
    rebuilt: list[str] = []
    for tag, i1, i2, j1, j2 in line_opcodes(a, b):
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        rebuilt += b[j1:j2]
    assert rebuilt == b
    assert difflib_work[0] <= 2_000_000


def test_edited_text_round_trips_a_recipe_once_for_a_report_in_two_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    from recipemut.recipe import diff, yamlio

    calls: list[int] = []
    real = yamlio.apply_edits_to_text

    def counting(*a: Any, **k: Any) -> str:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(yamlio, "apply_edits_to_text", counting)
    text = with_comments(10)
    first = diff.edited_text(text, EDITS, source="r.yaml")
    again = diff.edited_text(text, list(EDITS), source="r.yaml")
    other = diff.edited_text(text, EDITS[:1], source="r.yaml")
    assert first == again == expected(text) and other != first
    assert len(calls) == 2


# ---- ruamel sees only what the edits touch, comment runs folded ------------------------------------


@pytest.fixture
def ruamel_lines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The line count of every text ruamel.yaml loads; a big one fails at once instead of taking minutes."""
    from recipemut.recipe import roundtrip

    seen: list[int] = []
    real = roundtrip.load_roundtrip

    def recording(text: str, **k: Any) -> Any:
        seen.append(text.count("\n"))
        if seen[-1] > 2_000:
            raise AssertionError(f"ruamel was handed {seen[-1]:,} lines")
        return real(text, **k)

    monkeypatch.setattr(roundtrip, "load_roundtrip", recording)
    return seen


def test_a_block_of_comment_lines_reaches_ruamel_folded(ruamel_lines: list[int]) -> None:
    text = with_comments(20_000)
    out = apply_edits_to_text(text, EDITS)
    assert out == expected(text)
    assert ruamel_lines and max(ruamel_lines) < 300


def test_a_comment_block_above_an_edited_operation_is_kept_byte_for_byte(ruamel_lines: list[int]) -> None:
    # the block sits right above score_fraud; removing score_fraud takes its comment block with it,
    # editing it keeps the block
    text = with_comments(20_000)
    kept = apply_edits_to_text(text, [Edit("set", ("operations", "score_fraud", "may_halt"), False)])
    assert kept == text.replace("    may_halt: true\n    cost_per_call_usd: 0.0006",
                                "    may_halt: false\n    cost_per_call_usd: 0.0006", 1)
    remove = [Edit("remove", ("operations", "score_fraud"))]
    assert apply_edits_to_text(text, remove) == apply_edits_to_text(CHECKOUT, remove)
    assert max(ruamel_lines) < 300


def test_many_operations_reach_ruamel_only_where_edited(ruamel_lines: list[int]) -> None:
    text = with_operations(3_000)
    out = apply_edits_to_text(text, EDITS)
    assert out == expected(text)
    assert max(ruamel_lines) < 300


def test_write_back_of_a_5_mb_comment_block_grows_linearly() -> None:
    small, big = with_comments(20_000), with_comments(80_000)  # ~1.1 and ~4.4 MB
    apply_edits_to_text(with_comments(10), EDITS)  # warm up imports
    t_small = _best_time(lambda: apply_edits_to_text(small, EDITS), repeat=1)
    t_big = _best_time(lambda: apply_edits_to_text(big, EDITS), repeat=1)
    # linear: 4x; allow noise on a shared machine, not the 16x of a quadratic join
    assert t_big / max(t_small, 0.05) < 8, f"4x the lines: {t_small:.2f} s -> {t_big:.2f} s"


def test_hash_lines_inside_a_block_scalar_are_text_not_comments(ruamel_lines: list[int]) -> None:
    from recipemut.recipe import yamlio

    notes = "    notes: |\n" + "      # step one\n      # step two\n" * 2 + "\n      done\n"
    text = with_comments(50).replace("    cost_per_call_usd: 0.00004\n", "    cost_per_call_usd: 0.00004\n" + notes, 1)
    handed: list[str] = []
    real = yamlio.roundtrip_edits

    def spy(seen: str, edits: Any, **k: Any) -> str:
        handed.append(seen)
        return real(seen, edits, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(yamlio, "roundtrip_edits", spy)
        out = apply_edits_to_text(text, EDITS)
    assert out == expected(text)
    assert notes in handed[0]  # the scalar's lines went to ruamel as they are
    assert text.count(COMMENT) == 50 and handed[0].count(COMMENT) == 0  # the comment run did not


@pytest.mark.parametrize("brk", ["\u2028", "\x85"])
def test_unusual_line_breaks_in_comments_keep_the_output_exact(brk: str) -> None:
    text = with_comments(30).replace("# keep this line", f"# keep{brk}# this line", 1)
    assert apply_edits_to_text(text, EDITS) == expected(text)


def test_a_yaml_error_after_a_comment_block_names_the_line_in_the_file(ruamel_lines: list[int]) -> None:
    from recipemut.recipe.roundtrip import YamlSyntaxError

    text = with_comments(5_000).replace("  - id: score_fraud\n", "  - id: score_fraud\n    id: twice\n", 1)
    line = text.splitlines().index("    id: twice") + 1
    with pytest.raises(YamlSyntaxError) as ei:
        apply_edits_to_text(text, EDITS, source="r.yaml")
    assert ei.value.file == "r.yaml" and ei.value.line == line, str(ei.value)
    assert max(ruamel_lines) < 300
