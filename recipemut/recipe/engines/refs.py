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

_ARGO = re.compile(r"\{\{\s*=?\s*([^{}]+?)\s*\}\}")
_ARGO_OUT = re.compile(r"^(?:tasks|steps)\.([^.\s]+)\.outputs\.(?:(?:parameters|artifacts)\.([^.\s\[\]]+)|(result))")
_ARGO_STATUS = re.compile(r"^(?:tasks|steps)\.([^.\s]+)\.(status|exitCode|startedAt|finishedAt|id|ip)\b")
_ARGO_PARAM = re.compile(r"^(?:workflow\.parameters|inputs\.parameters)\.([^.\s\[\]]+)")
_TEKTON = re.compile(r"\$\(\s*([^()]+?)\s*\)")
_TEKTON_OUT = re.compile(r"^tasks\.([^.\s]+)\.results\.([^.\s\[\]]+)")
_TEKTON_STATUS = re.compile(r"^tasks\.([^.\s]+)\.(status|reason)$")
_TEKTON_PARAM = re.compile(r"^params\.([^.\s\[\]]+)")
_WORD = re.compile(r"[A-Za-z_][\w.\-]*")


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


def _find(
    value: Any, outer: re.Pattern[str], out_re: re.Pattern[str], status_re: re.Pattern[str], param_re: re.Pattern[str]
) -> list[Ref]:
    found: list[Ref] = []
    for text in strings(value):
        for m in outer.finditer(text):
            # an expression ({{=asInt(tasks.a.outputs.result) > 2}}) may hold several: each dotted word
            for word in _WORD.findall(m.group(1)):
                if o := out_re.match(word):
                    found.append(Ref("output", o.group(1), next(g for g in o.groups()[1:] if g)))
                elif s := status_re.match(word):
                    found.append(Ref("status", s.group(1), s.group(2)))
                elif p := param_re.match(word):
                    found.append(Ref("param", "", p.group(1)))
    return list(dict.fromkeys(found))


def argo_refs(value: Any) -> list[Ref]:
    """Argo references (``{{tasks.X.outputs.parameters.Y}}``, ``{{steps.X.outputs.result}}``, ...), once each."""
    return _find(value, _ARGO, _ARGO_OUT, _ARGO_STATUS, _ARGO_PARAM)


def tekton_refs(value: Any) -> list[Ref]:
    """Tekton references (``$(tasks.X.results.Y)``, ``$(params.P)``, ``$(tasks.X.status)``), in order, once each."""
    return _find(value, _TEKTON, _TEKTON_OUT, _TEKTON_STATUS, _TEKTON_PARAM)


__all__ = ["Ref", "argo_refs", "strings", "tekton_refs"]
