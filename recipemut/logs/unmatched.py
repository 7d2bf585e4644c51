"""What a span mapping's rules met in the traces, and the recipe's operations in the logs: a rule that took
no span, or an operation of none, is said, never silent.

A mistyped rule (``service: app-db`` for ``app_db``, ``name: Insert``, a regex written as a plain
value, which means "equals") matches nothing, and its spans fall to the default rule, which may leave
them ambiguous or unmapped: the profile then shows the operation at count 0 with no word of the rule.
:class:`MatchTally` is filled file by file as the spans are matched (``normalise_table``), and once
every file is read (``read_logs``) names each rule that took no span (:class:`Unmatched`: the mapping
file's line and the operation), with the condition no span passes and, where one is close, the name
or service the spans have.

An operation of the recipe with no span in the logs (:func:`no_span_operations`: renamed in the recipe,
``asynch`` for the spans' ``async``) is said too, with the spans of no operation whose name is close
to its id or action; not when its only rules are ones that took no span: their warning is the cause,
and one typo is said once.

The work is done only for the rules that took no span of a file: one more pass of their conditions
over its spans, and the distinct names and services (at most :data:`MAX_SEEN` of each).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recipemut.files.units import counted

if TYPE_CHECKING:
    from recipemut.logs.mapping import Rule, SpanMapping
    from recipemut.recipe.model import Recipe

#: distinct span names (and services) kept per file for "did you mean"
MAX_SEEN = 1000
#: longest value shown in a message
_SHOWN = 80
#: a plain value that reads as a regular expression: anchored (``^...``, ``...$``), an escaped
#: punctuation character (``\(``, ``\.``), a class (``\d``, ``\s``, ``\w``), ``.*``, ``.+`` or a group ``(?``
_REGEX_LIKE = re.compile(r"^\^|(?<!\\)\$$|\\[().\[\]{}*+?|^$dDsSwW]|\.[*+]|\(\?")


def looks_like_regex(value: str) -> bool:
    r"""Whether a plain value (compared whole) reads as a pattern.

    >>> looks_like_regex(r"^insert into api_book \("), looks_like_regex("GET /cart"), looks_like_regex("x.*y")
    (True, False, True)
    """
    return _REGEX_LIKE.search(value) is not None


def quoted(value: str) -> str:
    """``value`` as YAML writes it in single quotes (a quote doubled), cut at :data:`_SHOWN` characters.

    >>> print(quoted(r"^insert \\("), quoted("it's"))
    '^insert \\(' 'it''s'
    """
    cut = value if len(value) <= _SHOWN else value[:_SHOWN] + "..."
    return "'" + cut.replace("'", "''") + "'"


#: the spans of no operation an operation with no span is compared with for "did you mean": the most frequent
MAX_CANDIDATES = 300


def close_to(value: str, options: Sequence[str]) -> str:
    """``; did you mean 'x'?`` when one of ``options`` differs from ``value`` by case only or is close
    (:func:`difflib.get_close_matches`), else ``""``.

    >>> close_to("Insert", ["insert", "call"]), close_to("app-db", ["app_db"]), close_to("zzz", ["call"])
    ("; did you mean 'insert'?", "; did you mean 'app_db'?", '')
    """
    same = [o for o in options if o.casefold() == value.casefold() and o != value]
    match = same or difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f"; did you mean {quoted(match[0])}?" if match and match[0] != value else ""


@dataclass(frozen=True)
class Unmatched:
    """A mapping rule that took no span (``kind`` ``"rule"``): where it is written, the operation it
    maps to, and why. ``str()`` is the warning: ``m.yaml:10: mapping rule for 'insert_book' ...``.
    An operation with no span (``kind`` ``"operation"``) likewise. ``says_op``: a rule's, when no rule
    for its operation took a span, so the warning tells why the operation has none."""

    kind: str
    op: str
    message: str
    file: str | None = None
    line: int | None = None
    says_op: bool = False

    def __str__(self) -> str:
        where = self.file if self.file is not None and self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}" if self.file is not None else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "op": self.op, "file": self.file, "line": self.line, "message": self.message}


class MatchTally:
    """What the rules of ``mapping`` took, file after file (:meth:`add`), and the rules that took no span of
    any file (:meth:`unmatched`)."""

    def __init__(self, mapping: SpanMapping) -> None:
        self.mapping = mapping
        n = len(mapping.rules)
        self.spans = 0
        self.took = [0] * n  # spans each rule took (the first rule that matches a span takes it)
        self.matched = [0] * n  # spans each rule matches, earlier rules aside (counted where it took none)
        self.passed: list[Counter[str]] = [Counter() for _ in range(n)]  # spans passing each condition
        self.attrs: Counter[str] = Counter()  # spans holding each attribute a rule tests
        self.seen: dict[str, Counter[str]] = {"name": Counter(), "service": Counter(), "kind": Counter()}
        self.unmapped: Counter[tuple[str, str]] = Counter()  # spans of no operation, by (name, service)

    def add(self, raw: pd.DataFrame, took: Sequence[int], unmapped: pd.Series | None = None) -> None:
        """One file's spans (the raw frame the rules ran on), the spans each rule took of them, and the spans
        of no operation counted by (name, service), most first."""
        self.spans += len(raw)
        top = unmapped.head(MAX_SEEN) if unmapped is not None else pd.Series([], dtype=int)
        for (name, service), n in zip(top.index.tolist(), top.tolist(), strict=True):
            self.unmapped[(str(name), str(service))] += int(n)
        idle = False
        for i, (rule, n) in enumerate(zip(self.mapping.rules, took, strict=True)):
            self.took[i] += n
            if n or not len(raw):
                continue
            idle = True
            every = np.ones(len(raw), dtype=bool)
            for key, test in rule.conditions():
                hit = test(raw)
                self.passed[i][key] += int(hit.sum())
                every &= hit
            self.matched[i] += int(every.sum())
            for t in rule.attributes:
                col = raw.get("attr:" + t.key)
                self.attrs[t.key] += 0 if col is None else int(col.notna().sum())
        if idle:
            self._see(raw)

    def _see(self, raw: pd.DataFrame) -> None:
        client = (raw["kind"] == "client").to_numpy(dtype=bool)
        columns = {
            "name": raw["name"],
            "service": pd.concat([raw["service"], raw["peer_service"][client]], ignore_index=True),
            "kind": raw["kind"],
        }
        for what, col in columns.items():
            for value, n in col.dropna().astype(str).value_counts().head(MAX_SEEN).items():
                self.seen[what][str(value)] += int(n)

    def unmatched(self) -> tuple[Unmatched, ...]:
        """The rules that took no span, in the mapping's order (none when no span was read)."""
        if not self.spans:
            return ()
        out = []
        took_some = {rule.op for i, rule in enumerate(self.mapping.rules) if self.took[i]}
        for i, rule in enumerate(self.mapping.rules):
            if self.took[i]:
                continue
            if self.matched[i]:
                message = (
                    f"mapping rule for '{rule.op}' took no span: the {counted(self.matched[i], 'span')} it matches "
                    f"{'was' if self.matched[i] == 1 else 'were'} taken by an earlier rule "
                    "(the first rule that matches a span wins)"
                )
            else:
                why = [self._why(rule, key) for key, _ in rule.conditions() if not self.passed[i][key]]
                because = "; ".join(why) or "each of its conditions holds for some span, but none for the same span"
                message = f"mapping rule for '{rule.op}' matched no span of the traces ({because})"
            out.append(Unmatched("rule", rule.op, message, self.mapping.source, rule.line, rule.op not in took_some))
        return tuple(out)

    def _why(self, rule: Rule, key: str) -> str:
        """Why no span passes the condition ``key`` of ``rule``."""
        names, services = list(self.seen["name"]), list(self.seen["service"])
        if key == "name":
            return f"no span is named {quoted(str(rule.name))}{close_to(str(rule.name), names)}"
        if key == "name_glob":
            return f"no span's name matches name_glob {quoted(str(rule.name_glob))}"
        if key == "name_regex":
            return f"no span's name matches name_regex {quoted(str(rule.name_regex))}"
        if key == "service":
            return f"no span's service matches {quoted(str(rule.service))}{close_to(str(rule.service), services)}"
        if key == "kind":
            kinds = ", ".join(sorted(self.seen["kind"])) or "none"
            return f"no span is of kind {rule.kind}; their kinds: {kinds}"
        test = next(t for t in rule.attributes if f"attributes.{t.key}" == key)
        if not self.attrs[test.key]:
            return f"no span has the attribute {quoted(test.key)}"
        if not test.plain or test.equals is None:
            return f"no span's attribute {quoted(test.key)} passes its test"
        said = f"no span's attribute {quoted(test.key)} equals {quoted(test.equals)}"
        if looks_like_regex(test.equals):
            said += (
                f": a plain value is compared whole (equals); a pattern is written "
                f"{test.key}: {{regex: {quoted(test.equals)}}}"
            )
        return said


def ambiguous_note(n: int, names: Sequence[str], recipe: Recipe | None, mapping: SpanMapping) -> str:
    """The note of ``n`` spans the default rule matched to several operations (their top ``names``): a mapping
    rule tells them apart; when the mapping has rules for those operations, they took none of these spans.

    >>> from recipemut.logs.mapping import DEFAULT_MAPPING
    >>> ambiguous_note(3, ["insert"], None, DEFAULT_MAPPING)
    "3 spans match several operations by name and service ('insert'); add a mapping rule to tell them apart"
    """
    verb = "matches" if n == 1 else "match"
    said = f"{counted(n, 'span')} {verb} several operations by name and service ({', '.join(repr(k) for k in names)})"
    ops = [] if recipe is None else [o.id for o in recipe.operations if o.id in names or o.action in names]
    ruled = list(dict.fromkeys(r.op for r in mapping.rules if r.op in ops))
    if ruled:
        return f"{said}; the mapping's rules for {', '.join(ruled)} took none of them (see their warnings)"
    return f"{said}; add a mapping rule to tell them apart"


def no_span_operations(
    recipe: Recipe,
    seen: Collection[str],
    *,
    unknown: Mapping[str, int],
    unmapped: Mapping[tuple[str, str], int],
    sampled: bool = False,
    rules: Sequence[Unmatched] = (),
) -> tuple[Unmatched, ...]:
    """The operations of ``recipe`` not among ``seen`` (the operations of the spans kept), each with the
    closest of the spans of no operation offered as "did you mean": a native log's ``unknown`` operations
    (name -> spans) or a trace's ``unmapped`` spans ((name, service) -> spans), by their name against the
    operation's id and action (:func:`difflib.SequenceMatcher`, 0.6 at least), on the operation's service
    first. ``sampled``: the spans are a sample of the requests. An operation whose every mapping rule took
    no span (``says_op`` of one of the ``rules`` that took none, :meth:`MatchTally.unmatched`) is left
    out: that rule's warning says why it has none, and a typo in a rule is said once.

    >>> from recipemut.recipe.model import Operation, Recipe
    >>> r = Recipe("r", 1, fields={}, inputs=(), outputs=(), operations=(Operation("asynch", "b", "asynch"),))
    >>> [str(u) for u in no_span_operations(r, set(), unknown={}, unmapped={("async", "b"): 1})]
    ["operation 'asynch' (b) has no span in the logs; did you mean 'async' (b)?"]
    """
    where = "the sampled requests" if sampled else "the logs"
    candidates: list[tuple[str, str | None, int]] = [(name, None, n) for name, n in unknown.items()]
    candidates += [(name, service, n) for (name, service), n in unmapped.items()]
    # the most frequent only: span names that hold ids are thousands, and each is compared with each operation
    candidates = sorted(candidates, key=lambda c: -c[2])[:MAX_CANDIDATES]
    said = {u.op for u in rules if u.kind == "rule" and u.says_op}
    out = []
    for i, op in enumerate(recipe.operations):
        if op.id in seen or op.id in said:
            continue
        best: tuple[tuple[float, bool, int], str, str | None] | None = None
        for key in [k.casefold() for k in dict.fromkeys((op.id, op.action)) if k]:
            matcher = difflib.SequenceMatcher(None, b=key)  # b is indexed once per key, as get_close_matches does
            for name, service, n in candidates:
                matcher.set_seq1(name.casefold())
                if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:  # upper bounds of ratio()
                    continue
                rank = (matcher.ratio(), service == op.service, n)
                if rank[0] >= 0.6 and (best is None or rank > best[0]):
                    best = (rank, name, service)
        hint = ""
        if best is not None:
            hint = f"; did you mean {quoted(best[1])}" + (f" ({best[2]})?" if best[2] is not None else "?")
        message = f"operation '{op.id}' ({op.service}) has no span in {where}{hint}"
        line = recipe.position("operations", i)[0] if recipe.source is not None else None
        out.append(Unmatched("operation", op.id, message, recipe.source, line))
    return tuple(out)
