"""How long importing large engine definitions takes: GitHub Actions, Step Functions, Serverless Workflow.

    .venv/bin/python benchmarks/bench_engine_import.py [--steps 2000] [--repeat 3]

Builds, in memory, for each engine a definition of ``--steps`` steps shaped like real ones at a
larger scale: a chain where every tenth step is a Choice (Step Functions, Serverless Workflow
switch) or an ``if:`` (GitHub Actions) whose branches merge again, with a Parallel/fork of four
branches and a Map/matrix every fiftieth step, and each step reading the field the one before
wrote. Each is parsed (``parse_yaml``) and imported ``--repeat`` times; the median wall time of the
import (parsing excluded) and of the full check (``check_document``) are printed. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recipemut.recipe.engines import githubactions, serverlessworkflow, stepfunctions  # noqa: E402
from recipemut.recipe.loader import check_document  # noqa: E402
from recipemut.recipe.yamlpos import parse_yaml  # noqa: E402


def asl(n: int) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(n):
        nxt = f"s{i + 1}" if i + 1 < n else None
        tail: dict[str, Any] = {"Next": nxt} if nxt else {"End": True}
        if i % 10 == 5 and nxt:
            states[f"s{i}"] = {
                "Type": "Choice",
                "Choices": [{"Variable": f"$.f{i - 1}", "StringEquals": "x", "Next": f"b{i}"}],
                "Default": nxt,
            }
            states[f"b{i}"] = {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", **tail}
        elif i % 50 == 25:
            branches = [
                {"StartAt": f"p{i}_{k}", "States": {f"p{i}_{k}": {"Type": "Task", "Resource": "r", "End": True}}}
                for k in range(4)
            ]
            states[f"s{i}"] = {"Type": "Parallel", "Branches": branches, **tail}
        elif i % 50 == 40:
            proc = {"StartAt": f"m{i}", "States": {f"m{i}": {"Type": "Task", "Resource": "r", "End": True}}}
            states[f"s{i}"] = {
                "Type": "Map",
                "ItemsPath": f"$.list{i}",
                "MaxConcurrency": 8,
                "ItemProcessor": proc,
                **tail,
            }
        else:
            states[f"s{i}"] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"x.$": f"$.f{i - 1}"},
                "ResultPath": f"$.f{i}",
                **tail,
            }
    return {"StartAt": "s0", "States": states}


def gha(n: int) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for i in range(n):
        job: dict[str, Any] = {
            "runs-on": "ubuntu-latest",
            "outputs": {"o": "${{ steps.s.outputs.o }}"},
            "steps": [{"run": "x"}],
        }
        if i:
            job["needs"] = [f"j{i - 1}"] + ([f"j{i - 2}"] if i > 1 else [])
            job["env"] = {"IN": f"${{{{ needs.j{i - 1}.outputs.o }}}}"}
        if i % 10 == 5:
            job["if"] = "github.ref == 'refs/heads/main'"
        if i % 50 == 40:
            job["strategy"] = {
                "max-parallel": 4,
                "matrix": {"os": ["a", "b"], "py": [1, 2, 3], "exclude": [{"os": "a", "py": 1}]},
            }
        jobs[f"j{i}"] = job
    return {"name": "big", "on": "push", "jobs": jobs}


def sw(n: int) -> dict[str, Any]:
    do: list[dict[str, Any]] = []
    for i in range(n):
        if i % 10 == 5:
            do.append(
                {
                    f"t{i}": {
                        "switch": [
                            {"a": {"when": f".f{i - 1} == 1", "then": f"t{i + 1}"}},
                            {"d": {"then": f"t{i + 1}"}},
                        ]
                    }
                }
            )
        elif i % 50 == 25:
            do.append(
                {
                    f"t{i}": {
                        "fork": {
                            "branches": [
                                {f"f{i}_{k}": {"call": "http", "with": {"endpoint": "https://x.example"}}}
                                for k in range(4)
                            ]
                        }
                    }
                }
            )
        elif i % 50 == 40:
            do.append({f"t{i}": {"for": {"each": "x", "in": f".list{i}"}, "do": [{f"in{i}": {"call": "svc"}}]}})
        else:
            do.append({f"t{i}": {"set": {f"f{i}": f"${{ .f{i - 1} }}"}}})
    return {"document": {"dsl": "1.0.0", "namespace": "b", "name": "big", "version": "1"}, "do": do}


def median_time(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    for module, build in ((stepfunctions, asl), (githubactions, gha), (serverlessworkflow, sw)):
        text = json.dumps(build(a.steps), indent=1)
        data, positions, _ = parse_yaml(text, file="big.json", what="workflow")
        imp = module.to_recipe(data, positions, file="big.json")
        t_import = median_time(lambda m=module, d=data, p=positions: m.to_recipe(d, p, file="big.json"), a.repeat)
        t_check = median_time(lambda i=imp: check_document(i.document, i.positions, file="big.json"), a.repeat)
        ops = len(imp.document["operations"])
        print(
            f"{module.KEY:20s} {a.steps:6d} steps -> {ops:6d} operations: import {t_import * 1000:8.1f} ms, "
            f"check {t_check * 1000:8.1f} ms, {len(text) / 1e6:.2f} MB, {len(imp.warnings)} warnings"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
