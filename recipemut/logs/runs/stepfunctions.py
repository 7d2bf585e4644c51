"""AWS Step Functions run histories: ``GetExecutionHistory`` responses.

As ``aws stepfunctions get-execution-history`` or boto3 give them (``{"events": [...]}``), one per
execution: several in one file as a JSON list, JSON lines or concatenated documents, or several
files; the pages of a paginated history (each with the ``nextToken`` of the next, as boto3's
paginator gives them) one after another are one execution. One execution is one request:
``request_id`` is the document's ``executionArn`` (or ``name``) when it carries one (wrap the
response as ``{"executionArn": ..., "events": [...]}`` to keep it), else the file's name and the
history's place in it (``runs.json#2``). Times are the
events' ``timestamp``: RFC 3339 text (the CLI), epoch seconds (the API, boto3) or epoch milliseconds.

Events are tied to their state through ``previousEventId`` (events of Map iterations and Parallel
branches interleave; the chain does not):

* each ``...StateEntered`` is a span of that state, ending at its ``...StateExited`` (else at its
  last event: the execution failed inside it); ``op`` is
  :func:`~recipemut.recipe.engines.names.op_id` of the state's name (a name that meets another's
  id is told apart by the recipe: :class:`~recipemut.recipe.engines.names.StepOps`);
* retries: a state with several ``TaskScheduled`` (``LambdaFunctionScheduled``,
  ``ActivityScheduled``) is one span per attempt (``attempt`` 1, 2, ...), each from its scheduling
  to its outcome (the first from the state's entry, the last to its exit), so the attempts cover
  the state's time;
* Map iterations and Parallel branches: the states inside are calls of the inner states, their
  ``parent_span_id`` the Map or Parallel state's span (``items`` = 1 for a Map iteration's), so the
  profile charges the Map or Parallel state its own time when the recipe names both;
* ``TaskFailed``, ``TaskTimedOut`` (and the Lambda/Activity forms, start and submit failures), a
  failed or aborted Map/Parallel state and a ``Fail`` state are ``error``;
* an execution without ``ExecutionSucceeded``/``Failed``/``Aborted``/``TimedOut`` is still in
  progress: counted and left out.

``service`` is the task's ``resourceType`` (``lambda``, ``aws-sdk``, ``dynamodb``...), else the
state's type (``pass``, ``choice``, ``map``...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recipemut.errors import LogError
from recipemut.logs.runs.rows import ERROR, OK, Rows, obj, text

KEY = "stepfunctions"
ENDS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
SUCCEEDED = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded",
                       "MapStateSucceeded", "ParallelStateSucceeded"})  # fmt: skip
FAILED = frozenset({
    "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed",
    "LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed",
    "ActivityFailed", "ActivityTimedOut", "ActivityScheduleFailed",
    "MapStateFailed", "MapStateAborted", "ParallelStateFailed", "ParallelStateAborted",
})  # fmt: skip


def _histories(doc: Any) -> list[dict[str, Any]]:
    """The histories of one document: a response, a list of responses, or a bare list of events."""
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return [doc]
    if isinstance(doc, list) and doc and all(isinstance(d, dict) and "events" in d for d in doc):
        return [d for d in doc if isinstance(d.get("events"), list)]
    if isinstance(doc, list) and all(isinstance(e, dict) and "type" in e for e in doc):
        return [{"events": doc}]
    return []


def collect(docs: list[Any], rows: Rows) -> None:
    """Every execution history of the documents into ``rows``."""
    k = 0
    pending: dict[str, Any] | None = None
    for doc in docs:
        found = _histories(doc)
        if not found:
            raise LogError(
                "expected a GetExecutionHistory response {'events': [...]} (or a list of them)",
                file=str(rows.path),
                code="bad-shape",
            )
        for h in found:
            if pending is not None:  # the next page of a paginated history: the same execution
                pending["events"] = [*pending["events"], *h["events"]]
                pending["nextToken"] = h.get("nextToken")
                h = pending
            if h.get("nextToken"):  # more pages follow (boto3's pages, dumped one after another)
                pending = {**h}
                continue
            pending = None
            k += 1
            run = text(h.get("executionArn")) or text(h.get("name")) or f"{Path(rows.path).name}#{k}"
            _execution(run, h["events"], rows)
    if pending is not None:  # the last page said more follow, and none did: read what there is
        k += 1
        _execution(text(pending.get("executionArn")) or f"{Path(rows.path).name}#{k}", pending["events"], rows)


def _execution(run: str, events: list[Any], rows: Rows) -> None:
    evs = sorted((e for e in events if isinstance(e, dict) and isinstance(e.get("id"), int)), key=lambda e: e["id"])
    if not any(text(e.get("type")) in ENDS for e in evs):
        rows.running(run)
        return
    rows.counts["runs"] += 1
    by_id = {e["id"]: e for e in evs}
    owner: dict[int, int] = {}  # event -> the StateEntered event of its state (0: the execution)
    context: dict[int, tuple[int, int | None]] = {}  # StateEntered -> (enclosing state's, Map index)
    entered: list[int] = []
    exit_at: dict[int, Any] = {}
    last_at: dict[int, Any] = {}
    outcome: dict[int, str] = {}
    tries: dict[int, list[list[Any]]] = {}  # state -> [[scheduled time, outcome time, ok], ...]
    resource: dict[int, str] = {}  # state -> the resource type of its first scheduled task
    for e in evs:
        i, typ = e["id"], str(e.get("type") or "")
        p = e.get("previousEventId")
        prev = by_id.get(p) if isinstance(p, int) else None
        ptype = str(prev.get("type") or "") if prev is not None else ""
        if typ.endswith("StateEntered"):
            owner[i] = i
            entered.append(i)
            if prev is None or ptype == "ExecutionStarted":
                context[i] = (0, None)
            elif ptype.endswith("StateExited"):
                context[i] = context.get(owner.get(p, 0), (0, None))  # type: ignore[arg-type]
            elif ptype == "MapIterationStarted":
                detail = prev.get("mapIterationStartedEventDetails") or {}
                index = detail.get("index") if isinstance(detail, dict) else None
                context[i] = (owner.get(p, 0), index if isinstance(index, int) else -1)  # type: ignore[arg-type]
            else:
                context[i] = (owner.get(p, 0), None)  # type: ignore[arg-type]
            if typ == "FailStateEntered":
                outcome[i] = ERROR
        elif typ.startswith("Execution"):  # the execution's own events belong to no state
            owner[i] = 0
        elif prev is not None and ptype.endswith("StateExited"):
            owner[i] = context.get(owner.get(p, 0), (0, None))[0]  # type: ignore[arg-type]
        else:
            owner[i] = owner.get(p, 0) if isinstance(p, int) else 0
        s = owner[i]
        if not s:
            continue
        ts = e.get("timestamp")
        last_at[s] = ts
        if typ.endswith("StateExited") and s == owner[i]:
            exit_at[s] = ts
        elif typ in SCHEDULED:
            tries.setdefault(s, []).append([ts, None, None])
            if s not in resource:
                d = next((v for k, v in e.items() if k.endswith("ScheduledEventDetails") and isinstance(v, dict)), {})
                resource[s] = text(d.get("resourceType")) or typ.removesuffix("Scheduled").lower()
        elif typ in SUCCEEDED or typ in FAILED:
            ok = typ in SUCCEEDED
            outcome[s] = OK if ok else ERROR
            open_tries = tries.get(s)
            if open_tries and open_tries[-1][1] is None and not typ.startswith(("Map", "Parallel")):
                open_tries[-1][1], open_tries[-1][2] = ts, ok
    for s in entered:
        e = by_id[s]
        typ = str(e.get("type"))
        detail = obj(e.get("stateEnteredEventDetails"))
        name = text(detail.get("name")) or typ.removesuffix("StateEntered")
        encl, index = context.get(s, (0, None))
        parent = f"{run}:{encl}" if encl else None
        service = resource.get(s) or typ.removesuffix("StateEntered").lower() or "state"
        end = exit_at.get(s, last_at.get(s))
        at = tries.get(s) or []
        if len(at) <= 1:
            rows.add(run, rows.ops(name), service, e.get("timestamp"), end, outcome.get(s, OK),
                     span_id=f"{run}:{s}", parent=parent, items=None if index is None else 1)  # fmt: skip
            continue
        for k, (sched, done, ok) in enumerate(at):
            final = k == len(at) - 1
            rows.add(
                run,
                rows.ops(name),
                service,
                e.get("timestamp") if k == 0 else sched,
                (exit_at.get(s, done) if final else done) or end,
                outcome.get(s, OK) if final else (OK if ok else ERROR),
                span_id=f"{run}:{s}#{k + 1}",
                parent=parent,
                attempt=k + 1,
                items=None if index is None else 1,
            )


__all__ = ["KEY", "collect"]
