"""References inside engine expressions: Argo's ``{{...}}`` and Tekton's ``$(...)``.

A reference names where a value comes from: another step's output (a data edge), a workflow or
pipeline parameter (a recipe input), or something recipemut does not model (``{{item}}``,
``$(context.pipelineRun.name)``). :func:`argo_refs` and :func:`tekton_refs` find them in any
nested value (a string, or the lists and mappings of a step's arguments).

>>> argo_refs("{{tasks.gen.outputs.parameters.n}} and {{workflow.parameters.msg}}")
[Ref(kind='output', task='gen', name='n'), Ref(kind='param', task='', name='msg')]
>>> tekton_refs({"value": "$(tasks.fetch.results.commit[*])", "x": "$(params.url)"})
[Ref(kind='output', task='fetch', name='commit'), Ref(kind='param', task='', name='url')]
>>> argo_refs("{{steps.flip.outputs.result}} {{tasks.a.status}} {{item}}")
[Ref(kind='output', task='flip', name='result'), Ref(kind='status', task='a', name='status')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_ARGO_OUT = re.compile(r"^(?:tasks|steps)\.([^.\s]+)\.outputs\.(?:(?:parameters|artifacts)\.([^.\s\[\]]+)|(result))")
_ARGO_STATUS = re.compile(r"^(?:tasks|steps)\.([^.\s]+)\.(status|exitCode|startedAt|finishedAt|id|ip)\b")
_ARGO_PARAM = re.compile(r"^(?:workflow\.parameters|inputs\.parameters)\.([^.\s\[\]]+)")
_TEKTON_OUT = re.compile(r"^tasks\.([^.\s]+)\.results\.([^.\s\[\]]+)")
_TEKTON_STATUS = re.compile(r"^tasks\.([^.\s]+)\.(status|reason)$")
_TEKTON_PARAM = re.compile(r"^params\.([^.\s\[\]]+)")
_WORD = re.compile(r"[A-Za-z_][\w.\-]*")
_BRACES = re.compile(r"[{}]")
_PARENS = re.compile(r"[()]")


@dataclass(frozen=True)
class Ref:
    """``kind``: ``output`` (of ``task``), ``param`` (of the workflow or pipeline), ``status`` (of ``task``)."""

    kind: str
    task: str
    name: str


def strings(value: Any) -> Iterator[str]:
    """Every string inside a nested value (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def enclosed(text: str, open_: str, close: str, inner: re.Pattern[str]) -> Iterator[str]:
    """What stands between each ``open_`` and a ``close`` with none of the delimiter characters
    (``inner`` finds them) between, left to right: ``{{a}}`` but not ``{{a}b}}``, the inner ``{{b}}``
    of ``{{a {{b}}``.

    The same as ``re.finditer(re.escape(open_) + r"([^{}]+)" + re.escape(close), text)`` (for
    braces) in time linear in the text: that regex, lazy and with spaces allowed before the close,
    rescanned the rest of an opening with no close from every position, so an unclosed ``{{x``
    followed by 40,000 spaces took 2.9 s. Here each stretch of text is scanned once: the next
    opening, then the first delimiter character after it, which closes it or is where the next
    opening may start (the opening's last character, ``(`` of ``$(a$(b)``, ``{`` of ``{{{b}}``).
    ``open_`` is two characters, the second of them a delimiter (``inner`` finds it).

    >>> list(enclosed("{{ a }} {{a}b}} {{x {{y}} {{{z}} {{", "{{", "}}", _BRACES))
    [' a ', 'y', 'z']
    >>> list(enclosed("$(a$(b) $() $(c)", "$(", ")", _PARENS))
    ['b', 'c']
    """
    i = 0
    while (start := text.find(open_, i)) >= 0:
        body = start + len(open_)
        m = inner.search(text, body)
        if m is None:  # no delimiter after it: nothing later closes either
            return
        j = m.start()
        if j > body and text.startswith(close, j):
            yield text[body:j]
            i = j + len(close)
        else:
            i = max(start + 1, j - len(open_) + 1)


def _find(
    value: Any,
    scan: tuple[str, str, re.Pattern[str]],
    out_re: re.Pattern[str],
    status_re: re.Pattern[str],
    param_re: re.Pattern[str],
) -> list[Ref]:
    found: list[Ref] = []
    for text in strings(value):
        for inside in enclosed(text, *scan):
            # an expression ({{=asInt(tasks.a.outputs.result) > 2}}) may hold several: each dotted word
            for word in _WORD.findall(inside):
                if o := out_re.match(word):
                    found.append(Ref("output", o.group(1), next(g for g in o.groups()[1:] if g)))
                elif s := status_re.match(word):
                    found.append(Ref("status", s.group(1), s.group(2)))
                elif p := param_re.match(word):
                    found.append(Ref("param", "", p.group(1)))
    return list(dict.fromkeys(found))


def argo_refs(value: Any) -> list[Ref]:
    """Argo references (``{{tasks.X.outputs.parameters.Y}}``, ``{{steps.X.outputs.result}}``, ...), once each."""
    return _find(value, ("{{", "}}", _BRACES), _ARGO_OUT, _ARGO_STATUS, _ARGO_PARAM)


def tekton_refs(value: Any) -> list[Ref]:
    """Tekton references (``$(tasks.X.results.Y)``, ``$(params.P)``, ``$(tasks.X.status)``), in order, once each."""
    return _find(value, ("$(", ")", _PARENS), _TEKTON_OUT, _TEKTON_STATUS, _TEKTON_PARAM)


__all__ = ["Ref", "argo_refs", "enclosed", "strings", "tekton_refs"]
