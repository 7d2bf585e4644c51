"""How long writing a plan back into a large engine file takes (``recipemut.apply.engines.write_back``).

    .venv/bin/python benchmarks/bench_writeback.py [--tasks 500] [--mutations 1 10 50] [--repeat 3]

Builds an Argo Workflow whose DAG template holds ``--tasks`` tasks, each with a comment and a
``dependencies`` list naming the two tasks before it (ordering only: no parameters passed), and a
GitHub Actions workflow of as many jobs with ``needs`` lists the same way. For each count of
``--mutations`` it writes that many parallelize mutations (each drops one task's first dependency)
back into the file: every mutation's result is imported again and compared with the plan, so the
time grows with mutations x file size. The median wall time of ``--repeat`` runs is printed, and
one full ``apply --plan`` (lock, history, atomic write) of the largest plan. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recipemut.apply.engines import write_back  # noqa: E402
from recipemut.apply.transaction import apply_plan  # noqa: E402
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256  # noqa: E402
from recipemut.recipe.edits import Edit  # noqa: E402
from recipemut.recipe.engines import import_text  # noqa: E402


def argo(n: int) -> str:
    out = [
        "# a generated Argo Workflow: a long DAG of ordering-only dependencies",
        "apiVersion: argoproj.io/v1alpha1",
        "kind: Workflow",
        "metadata:",
        "  name: big-dag",
        "spec:",
        "  entrypoint: main",
        "  templates:",
        "    - name: main",
        "      dag:",
        "        tasks:",
    ]
    for i in range(n):
        out += [f"          # task {i}", f"          - name: t{i}", "            template: echo"]
        deps = [f"t{j}" for j in (i - 2, i - 1) if j >= 0]
        if deps:
            out += ["            dependencies:", *(f"              - {d}" for d in deps)]
    out += ["    - name: echo", "      container:", "        image: busybox", ""]
    return "\n".join(out)


def gha(n: int) -> str:
    out = ["# a generated GitHub Actions workflow", "name: big", "on: [push]", "jobs:"]
    for i in range(n):
        deps = [f"j{j}" for j in (i - 2, i - 1) if j >= 0]
        out += [f"  j{i}:   # job {i}", "    runs-on: ubuntu-latest"]
        if deps:
            out.append(f"    needs: [{', '.join(deps)}]")
        out += ["    steps:", "      - run: make"]
    return "\n".join(out) + "\n"


def mutations(prefix: str, n: int, k: int) -> list[PlannedMutation]:
    step = max(1, (n - 2) // k)
    out = []
    for i in range(2, n, step)[:k]:
        op, dep = f"{prefix}{i}", f"{prefix}{i - 2}"
        out.append(PlannedMutation(f"parallelize:{dep}->{op}", "parallelize", (dep, op), "",
                                   (Edit("remove", ("operations", op, "after", dep)),)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=500)
    ap.add_argument("--mutations", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for name, text, prefix in (("argo", argo(args.tasks), "t"), ("github-actions", gha(args.tasks), "j")):
        imported = import_text(text, file="wf.yaml")
        assert imported is not None
        t0 = time.perf_counter()
        import_text(text, file="wf.yaml")
        one = time.perf_counter() - t0
        print(f"{name}: {args.tasks} tasks, {len(text) / 1024:.0f} KiB; one import {one:.3f} s")
        for k in args.mutations:
            muts = mutations(prefix, args.tasks, k)
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                wb = write_back(text, imported, muts, source="wf.yaml")
                times.append(time.perf_counter() - t0)
            assert len(wb.written) == len(muts), wb.advice[:1]
            print(f"  {len(muts):4d} mutation(s): write_back {statistics.median(times):.3f} s")
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "wf.yaml"
            f.write_text(text)
            muts = mutations(prefix, args.tasks, max(args.mutations))
            plan = Plan(PlanRecipe(str(f), recipe_sha256(f)), tuple(muts), tuple(m.id for m in muts))
            t0 = time.perf_counter()
            apply_plan(f, plan)
            print(f"  apply --plan of {len(muts)} mutation(s): {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
