"""Argo Workflows run histories: Workflow objects with ``status.nodes``.

As ``argo get -o json``, ``argo list -o json`` and ``kubectl get wf -o yaml|json`` give them: one
Workflow, a list of them, or a ``kind: List`` with ``items``. One Workflow is one request
(``request_id`` = ``metadata.name``, else ``metadata.uid``).

Nodes and spans:

* ``Pod`` nodes (and ``HTTP``, ``Plugin``, ``Suspend``, ``Resource``... nodes: every node that does
  the work of a task or step) are spans;
* a ``DAG`` or ``Steps`` node other than the workflow's own root is a task or step that runs a
  nested template: a span too, and the parent (``parent_span_id``) of the nodes inside it
  (``boundaryID``), so the profile charges it its own time when the recipe names both;
* ``StepGroup``, ``TaskGroup`` and ``Retry`` nodes only group: not spans. A ``Retry`` node's
  children are the attempts of its task (``attempt`` 1, 2, ... in the order of ``children``);
  ``Container`` nodes of a container set are inside their ``Pod``: not spans;
* ``withItems``/``withParam``/``withSequence`` items (``name(0:value)``) are calls of their task,
  ``items`` = 1 each;
* ``Skipped`` and ``Omitted`` nodes did not run: counted (``steps_skipped``), not spans.

``op`` is :func:`~recipemut.recipe.engines.names.op_id` of the task's or step's name: the node's
``displayName`` without the ``(0:item)`` suffix (for an attempt, its ``Retry`` node's). ``service``
is the node's ``templateName``. ``Succeeded`` is ``ok``; ``Failed`` and ``Error`` are ``error``.
A workflow whose phase (``status.phase``, else its ``workflows.argoproj.io/phase`` label) is
``Running`` or ``Pending``, or that has neither a phase nor ``finishedAt``, is still in progress:
counted and left out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from recipemut.errors import LogError
from recipemut.logs.runs.rows import ERROR, OK, Rows, items, obj, text

KEY = "argo"
#: nodes that group others and are not spans
GROUPS = frozenset({"StepGroup", "TaskGroup", "Retry", "Container", "Skipped"})
TEMPLATES = frozenset({"DAG", "Steps"})
RUNNING = frozenset({"Running", "Pending", ""})
STATUS = {"Succeeded": OK, "Failed": ERROR, "Error": ERROR}
_ITEM = re.compile(r"^([^(]+)\(\d+:", re.S)
_PHASE_LABEL = "workflows.argoproj.io/phase"


def step_name(display: str) -> tuple[str, bool]:
    """A node's task or step name and whether it is a fan-out item.

    >>> step_name("print(1:goodbye)"), step_name("step1"), step_name("a-b(0:{\\"x\\": \\"(y)\\"})")
    (('print', True), ('step1', False), ('a-b', True))
    """
    m = _ITEM.match(display)
    return (m.group(1), True) if m else (display, False)


def collect(docs: list[Any], rows: Rows) -> None:
    """Every Workflow of the documents into ``rows``."""
    k = 0
    others: list[str] = []
    for doc in docs:
        for o in items(doc):
            k += 1
            if not isinstance(o, dict):
                raise LogError(f"object {k}: not a JSON/YAML object", file=str(rows.path), code="bad-shape")
            kind = o.get("kind")
            if kind not in (None, "Workflow"):
                others.append(str(kind))  # a WorkflowTemplate, a Pod ... beside the workflows: not runs
                continue
            _workflow(o, rows, k)
    if others and not rows.counts["runs"] and not rows.counts["runs_in_progress"]:
        raise LogError(
            f"an Argo {others[0]} and no Workflow: a definition, not a run history (give it as the recipe; "
            "its runs come from 'argo get -o json' or 'kubectl get wf -o yaml')",
            file=str(rows.path),
            code="not-a-history",
        )


def _workflow(wf: dict[str, Any], rows: Rows, k: int) -> None:
    meta = obj(wf.get("metadata"))
    run = text(meta.get("name")) or text(meta.get("uid")) or f"{Path(rows.path).name}#{k}"
    status = wf.get("status")
    nodes = status.get("nodes") if isinstance(status, dict) else None
    if not isinstance(status, dict) or (not nodes and not status.get("phase")):
        if isinstance(status, dict) and (status.get("compressedNodes") or status.get("offloadNodeStatusVersion")):
            raise LogError(
                f"workflow {run!r}: its node status is compressed or offloaded; get it with "
                "'argo get -o json' (which expands it)",
                file=str(rows.path),
                code="bad-shape",
            )
        raise LogError(
            f"workflow {run!r} has no status.nodes: a workflow definition, not a run history "
            "(give it as the recipe; its runs come from 'argo get -o json' or 'kubectl get wf -o yaml')",
            file=str(rows.path),
            code="not-a-history",
        )
    labels = obj(meta.get("labels"))
    phase = text(status.get("phase")) or text(labels.get(_PHASE_LABEL)) or ""
    if phase in RUNNING and not (not phase and status.get("finishedAt")):
        rows.running(run)
        return
    rows.counts["runs"] += 1
    if not isinstance(nodes, dict):
        return
    attempt: dict[str, int] = {}
    retry_of: dict[str, dict[str, Any]] = {}
    for n in nodes.values():
        if isinstance(n, dict) and n.get("type") == "Retry":
            children = n.get("children")
            for i, c in enumerate(children if isinstance(children, list) else ()):
                attempt[str(c)] = i + 1
                retry_of[str(c)] = n
    spans: list[tuple[str, dict[str, Any]]] = []
    for nid, n in nodes.items():
        if not isinstance(n, dict):
            continue
        typ = text(n.get("type"))
        if text(n.get("phase")) in ("Skipped", "Omitted") or typ == "Skipped":
            rows.counts["steps_skipped"] += 1
            continue
        if typ in GROUPS or (typ in TEMPLATES and (not n.get("boundaryID") or nid == run)):
            continue
        spans.append((str(nid), n))
    emitted = {nid for nid, _ in spans}
    for nid, n in spans:
        st = STATUS.get(text(n.get("phase")) or "")
        if st is None or not n.get("finishedAt"):
            rows.counts["steps_unfinished"] += 1
            continue
        owner = retry_of.get(nid, n)
        display = text(owner.get("displayName")) or (text(owner.get("name")) or nid).rsplit(".", 1)[-1]
        name, fanout = step_name(display)
        rows.add(
            run,
            rows.ops(name),
            text(n.get("templateName")) or text((n.get("templateRef") or {}).get("template")),
            n.get("startedAt"),
            n.get("finishedAt"),
            st,
            span_id=nid,
            parent=_enclosing(n, nodes, emitted),
            attempt=attempt.get(nid),
            items=1 if fanout else None,
        )


def _enclosing(n: dict[str, Any], nodes: dict[str, Any], emitted: set[str]) -> str | None:
    """The nearest enclosing node that is a span (through ``boundaryID``), or ``None``."""
    b = text(n.get("boundaryID"))
    seen = 0
    while b and b not in emitted and seen < 64:
        up = nodes.get(b)
        b = text(up.get("boundaryID")) if isinstance(up, dict) else None
        seen += 1
    return b if b in emitted else None


__all__ = ["KEY", "collect", "step_name"]
