"""Write a multi-run history of an engine's workflow, in the engine's own run-history format.

    .venv/bin/python benchmarks/make_run_history.py DEFINITION --engine argo --runs 60 -o runs.json

The definition is imported the way every command reads it (``recipemut.recipe.loader.load_recipe``):
its operations, their DAG, ``foreach`` (fan-out: 2-6 items a run), ``retry`` (a failed first attempt
in about one call in ten) and ``action`` (the step's name as the engine shows it in its histories,
so that the reader's ``op_id`` of it is the operation's id). Each run starts about ten minutes after
the last; a step starts when its predecessors have finished, plus the engine's scheduling gap.

Step durations vary a real history's timings: operation *i* takes the duration of step
``i mod k`` of that engine's real history (``tests/realdata/engines/<engine>/runs/``, the ones named
in :data:`REAL_MS`), times a log-normal factor (sigma 0.3) per run and step. Branches: of the steps
with a ``when`` after the same steps (a Choice's, an ``if:``'s), one runs per run (each ``not (...)``
of its ``when``, an ``else``, making it six times likelier); the others and the steps after
only them are skipped (a ``Skipped`` node, ``skippedTasks``, a ``skipped`` job, no events). Every
run finishes (``ok``); the output is what ``argo get -o json`` (a list of Workflows), ``kubectl get
pipelinerun,taskrun -o json`` (a ``kind: List``), ``get-execution-history`` (a list of responses
with their ``executionArn``) or ``gh api .../jobs`` (a list of pages) would print.

``--workflows N --steps K`` writes instead a synthetic chain of K steps in N runs (no definition):
the input of ``bench_runs.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: step durations (ms) of the real histories this script varies, per engine
REAL_MS = {
    # argo: many-items-z26lj (13 pods of argo's own CLI test) and dag_retry_succeeded's attempts
    "argo": [27000, 32000, 30000, 33000, 29000, 26000, 35000, 36000, 21000, 19000, 23000, 22000, 37000, 7000, 9000],
    # tekton: demo-pipeline-run-6 of tektoncd/dashboard
    "tekton": [13000, 144000, 159000],
    # stepfunctions: the HybridPath execution of Step Functions Local (LambdaState, SQSState)
    "stepfunctions": [17, 919],
    # github-actions: the documented "List jobs for a workflow run" answer
    "github-actions": [119000],
}
#: time between a step's predecessors finishing and its start, ms (pod scheduling, state transition, runner pick-up)
GAP_MS = {"argo": 2000, "tekton": 3000, "stepfunctions": 6, "github-actions": 9000}
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.timezone.utc)


def iso(ms: float, *, frac: bool = False) -> str:
    t = T0 + dt.timedelta(milliseconds=float(ms))
    return t.isoformat(timespec="milliseconds" if frac else "seconds").replace("+00:00", "Z")


def plan_runs(steps: list[dict[str, Any]], engine: str, runs: int, seed: int) -> list[list[dict[str, Any]]]:
    """Per run, per step: its calls, each ``{"start", "end", "ok"}`` (ms from T0); retries as extra calls."""
    rng = np.random.default_rng(seed)
    real = REAL_MS[engine]
    groups: dict[tuple[str, ...], list[str]] = {}  # branches: steps with a `when` after the same steps
    for s in steps:
        if s.get("when"):
            groups.setdefault(tuple(s["after"]), []).append(s["id"])
    out = []
    for r in range(runs):
        t0 = r * 600_000 + float(rng.uniform(0, 120_000))
        chosen = {_pick(rng, [w for w in steps if w["id"] in g]) for g in groups.values()}
        ends: dict[str, float] = {}
        run = []
        for i, s in enumerate(steps):
            ran = [ends[p] for p in s["after"] if p in ends]
            if (s.get("when") and s["id"] not in chosen) or (s["after"] and not ran):
                run.append({"step": s, "calls": []})  # a branch not taken: skipped, and what follows it
                continue
            ready = max(ran, default=t0) + GAP_MS[engine] * float(rng.uniform(0.5, 1.5))
            n = int(rng.integers(2, 7)) if s["foreach"] else 1
            calls = []
            for _ in range(n):
                start = ready
                if s["retry"] and rng.random() < 0.1:  # a failed first attempt, then a second
                    d = real[i % len(real)] * float(rng.lognormal(0, 0.3)) / 3
                    calls.append({"start": start, "end": start + d, "ok": False, "attempt": 1})
                    start += d + GAP_MS[engine]
                d = real[i % len(real)] * float(rng.lognormal(0, 0.3))
                calls.append({"start": start, "end": start + d, "ok": True, "attempt": 2 if calls else 1})
            ends[s["id"]] = max(c["end"] for c in calls)
            run.append({"step": s, "calls": calls})
        out.append(run)
    return out


def _pick(rng: np.random.Generator, branches: list[dict[str, Any]]) -> str:
    """One branch of a choice per run, each ``not (...)`` in its `when` (an `else`) making it 6 times likelier."""
    weights = np.array([6.0 ** str(b["when"]).count("not (") for b in branches])
    return str(branches[int(rng.choice(len(branches), p=weights / weights.sum()))]["id"])


def argo(name: str, plan: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    wfs = []
    for r, run in enumerate(plan):
        wf = f"{name}-{r:04d}"
        start = min(c["start"] for s in run for c in s["calls"])
        end = max(c["end"] for s in run for c in s["calls"])
        skipped = {f"{wf}-{i}-skipped": {"id": f"{wf}-{i}-skipped", "displayName": s["step"]["action"],
                                         "type": "Skipped", "phase": "Skipped", "boundaryID": wf,
                                         "startedAt": iso(end), "finishedAt": iso(end)}
                   for i, s in enumerate(run) if not s["calls"]}  # fmt: skip
        root = {"id": wf, "name": wf, "displayName": wf, "type": "DAG", "phase": "Succeeded",
                "startedAt": iso(start), "finishedAt": iso(end)}  # fmt: skip
        nodes: dict[str, Any] = {**skipped, wf: root}
        for i, s in enumerate(run):
            action, fan = s["step"]["action"], len(s["calls"]) > 1 and s["step"]["foreach"]
            for k, c in enumerate(s["calls"]):
                nid = f"{wf}-{i}-{k}"
                shown = f"{action}({k}:item-{k})" if fan else (f"{action}({c['attempt'] - 1})" if not fan and
                                                                len(s["calls"]) > 1 else action)  # fmt: skip
                nodes[nid] = {"id": nid, "name": f"{wf}.{shown}", "displayName": shown, "type": "Pod",
                              "boundaryID": wf, "templateName": s["step"]["service"],
                              "phase": "Succeeded" if c["ok"] else "Failed",
                              "startedAt": iso(c["start"]), "finishedAt": iso(c["end"])}  # fmt: skip
            if len(s["calls"]) > 1 and not fan:  # attempts: children of a Retry node
                rid = f"{wf}-{i}-retry"
                nodes[rid] = {"id": rid, "name": f"{wf}.{action}", "displayName": action, "type": "Retry",
                              "boundaryID": wf, "phase": "Succeeded", "children": [f"{wf}-{i}-{k}" for k in
                              range(len(s["calls"]))]}  # fmt: skip
        wfs.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                    "metadata": {"name": wf, "labels": {"workflows.argoproj.io/phase": "Succeeded"}},
                    "status": {"phase": "Succeeded", "startedAt": iso(start), "finishedAt": iso(end),
                               "nodes": nodes}})  # fmt: skip
    return wfs


def tekton(name: str, plan: list[list[dict[str, Any]]]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for r, run in enumerate(plan):
        pr = f"{name}-run-{r:04d}"
        start = min(c["start"] for s in run for c in s["calls"])
        end = max(c["end"] for s in run for c in s["calls"])
        ok = [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}]
        skipped = [{"name": s["step"]["action"], "reason": "When Expressions evaluated to false"}
                   for s in run if not s["calls"]]  # fmt: skip
        items.append({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": pr},
                      "status": {"startTime": iso(start), "completionTime": iso(end), "conditions": ok,
                                 **({"skippedTasks": skipped} if skipped else {})}})  # fmt: skip
        for i, s in enumerate(run):
            fails = [c for c in s["calls"] if not c["ok"]]
            last = [c for c in s["calls"] if c["ok"]]
            for k, c in enumerate(last):
                st: dict[str, Any] = {"startTime": iso(c["start"]), "completionTime": iso(c["end"]), "conditions": ok}
                if fails and k == 0:
                    st["retriesStatus"] = [{"startTime": iso(f["start"]), "completionTime": iso(f["end"]),
                                            "conditions": [{"type": "Succeeded", "status": "False",
                                                            "reason": "Failed"}]} for f in fails]  # fmt: skip
                labels = {"tekton.dev/pipelineRun": pr, "tekton.dev/pipelineTask": s["step"]["action"]}
                items.append({"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                              "metadata": {"name": f"{pr}-{s['step']['action']}-{i}{k}", "labels": labels},
                              "spec": {"taskRef": {"name": s["step"]["service"]}}, "status": st})  # fmt: skip
    return {"apiVersion": "v1", "kind": "List", "items": items}


def stepfunctions(name: str, plan: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """States one after another (in the DAG's order), each a Task with its attempts."""
    out = []
    for r, run in enumerate(plan):
        events: list[dict[str, Any]] = []

        def ev(typ: str, t: float, events: list[dict[str, Any]] = events, **d: Any) -> None:
            events.append({"id": len(events) + 1, "previousEventId": len(events), "type": typ,
                           "timestamp": iso(t, frac=True), **d})  # fmt: skip

        t = min(c["start"] for s in run for c in s["calls"]) - 5
        ev("ExecutionStarted", t)
        for s in (s for s in run if s["calls"]):
            action, shift = s["step"]["action"], max(0.0, t - s["calls"][0]["start"])
            ev("TaskStateEntered", s["calls"][0]["start"] + shift, stateEnteredEventDetails={"name": action})
            for c in s["calls"]:
                ev("TaskScheduled", c["start"] + shift + 1, taskScheduledEventDetails={"resourceType": "lambda"})
                ev("TaskSucceeded" if c["ok"] else "TaskFailed", c["end"] + shift)
            t = s["calls"][-1]["end"] + shift + 1
            ev("TaskStateExited", t, stateExitedEventDetails={"name": action})
        ev("ExecutionSucceeded", t + 1)
        arn = f"arn:aws:states:eu-west-1:123456789012:execution:{name}:run-{r:04d}"
        out.append({"executionArn": arn, "events": events})
    return out


def github_actions(name: str, plan: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    pages = []
    for r, run in enumerate(plan):
        jobs = []
        end = max(c["end"] for s in run for c in s["calls"])
        for i, s in enumerate(run):
            if not s["calls"]:  # a job whose `if:` was false
                jobs.append({"id": 7_000_000 + r * 1000 + i * 10, "run_id": 900_000 + r, "run_attempt": 1,
                             "name": s["step"]["action"], "status": "completed", "conclusion": "skipped",
                             "labels": [s["step"]["service"]], "started_at": iso(end), "completed_at": iso(end),
                             "runner_name": ""})  # fmt: skip
            for k, c in enumerate(s["calls"]):
                shown = f"{s['step']['action']} (item-{k})" if s["step"]["foreach"] else s["step"]["action"]
                jobs.append({"id": 7_000_000 + r * 1000 + i * 10 + k, "run_id": 900_000 + r,
                             "run_attempt": c["attempt"], "name": shown, "status": "completed",
                             "conclusion": "success" if c["ok"] else "failure", "labels": [s["step"]["service"]],
                             "started_at": iso(c["start"]), "completed_at": iso(c["end"]),
                             "runner_name": "GitHub Actions"})  # fmt: skip
        pages.append({"total_count": len(jobs), "jobs": jobs})
    return pages


WRITERS = {"argo": argo, "tekton": tekton, "stepfunctions": stepfunctions, "github-actions": github_actions}


def steps_of(definition: Path) -> tuple[str, list[dict[str, Any]]]:
    from recipemut.recipe.loader import load_recipe

    recipe = load_recipe(definition)
    order = list(recipe.topo_order)
    ops = {o.id: o for o in recipe.operations}
    preds = {n: sorted(recipe.dag.predecessors(n)) for n in order}
    steps = [{"id": n, "action": ops[n].action, "service": ops[n].service, "after": preds[n],
              "foreach": ops[n].foreach is not None, "retry": ops[n].max_attempts > 1, "when": ops[n].when}
             for n in order]  # fmt: skip
    return recipe.name, steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("definition", nargs="?", type=Path)
    ap.add_argument("--engine", choices=sorted(WRITERS), required=True)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--workflows", type=int, help="synthetic: this many runs of a chain of --steps steps")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--yaml", action="store_true", help="write YAML (as kubectl get -o yaml does)")
    ap.add_argument("--comment", default="", help="with --yaml: a comment for the file's first lines")
    a = ap.parse_args(argv)
    if a.workflows:
        name, runs = "chain", a.workflows
        steps = [{"id": f"s{i}", "action": f"step-{i}", "service": "work", "after": [f"s{i - 1}"] if i else [],
                  "foreach": False, "retry": i % 5 == 0} for i in range(a.steps)]  # fmt: skip
    elif a.definition is not None:
        (name, steps), runs = steps_of(a.definition), a.runs
    else:
        ap.error("give a DEFINITION or --workflows")
    doc = WRITERS[a.engine](name, plan_runs(steps, a.engine, runs, a.seed))
    if a.yaml:
        import yaml

        if isinstance(doc, list):  # kubectl's answer for several objects
            doc = {"apiVersion": "v1", "kind": "List", "items": doc}
        head = "".join(f"# {ln}\n".replace("# \n", "#\n") for ln in a.comment.splitlines())
        a.out.write_text(head + yaml.safe_dump(doc, sort_keys=False, width=120))
    elif a.out.suffix == ".jsonl" and isinstance(doc, list):  # one run per line, as a loop over runs writes them
        a.out.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in doc))
    else:
        a.out.write_text(json.dumps(doc, indent=None if a.workflows else 1) + "\n")
    print(f"{a.out}: {runs} {a.engine} runs of {len(steps)} steps", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
