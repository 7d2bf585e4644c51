"""Write-back benchmark: ``apply`` and ``suggest`` wall time on big recipes (1, 2.5 and 5 MB).

The recipes are built from ``recipes/checkout/recipe.yaml`` into ``benchmarks/data/splice/``
(git-ignored), in three shapes:

* ``comments``     the same comment line repeated before the operation ``score_fraud``;
* ``description``  ``description:`` one line of words, the size of the recipe;
* ``operations``   6,000 more operations (about 70,000 YAML values, under the loader's 100,000)
  with a distinct comment line between each two, filling the size.

For each recipe the script times, each in a fresh subprocess (``python -m recipemut``):

* ``suggest RECIPE --logs recipes/checkout/logs.jsonl.gz --out PLAN`` (text report and plan file);
* ``apply COPY --plan PLAN`` on a copy of the recipe (a real write: lock, history, atomic write),
  with the plan the shipped recipe gets from suggest, re-addressed to the big recipe's sha256.

``--root DIR`` runs another checkout of recipemut (e.g. a ``git worktree`` of an older commit)
on the same recipes, for before/after figures. A run past ``--timeout`` seconds is stopped and
shown as ``>N``.

Usage::

    .venv/bin/python benchmarks/bench_splice.py [--sizes 1,2.5,5] [--shapes comments,description,operations]
        [--root DIR] [--timeout 600] [--skip-suggest]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "splice"
BASE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
SHAPES = ("comments", "description", "operations")


def build(shape: str, size: int) -> str:
    """The checkout recipe grown to ``size`` bytes in ``shape`` (see the module docstring)."""
    base = BASE.read_text()
    room = max(0, size - len(base))
    if shape == "comments":
        line = "  # keep this line: the coordination service reads it\n"
        return base.replace("  - id: score_fraud", line * (room // len(line)) + "  - id: score_fraud", 1)
    if shape == "description":
        words = "checkout cart confirmation e-mail order "
        text = (words * (room // len(words) + 1))[:room].strip()
        return base.replace("description: Web-shop checkout, cart to confirmation e-mail.", "description: " + text, 1)
    if shape == "operations":
        n = 6000
        op = "  - id: note_{i:05d}\n    service: audit\n    action: AppendEntry\n    consumes: [order_id]\n"
        ops_size = sum(len(op.format(i=i)) for i in range(n))
        pad = max(0, room - ops_size) // n
        parts = []
        for i in range(n):
            comment = f"  # note {i:05d}: " + "x" * max(0, pad - 18) + "\n" if pad > 18 else ""
            parts.append(comment + op.format(i=i))
        return base.replace("services:\n", "".join(parts) + "services:\n", 1)
    raise ValueError(f"unknown shape {shape!r}")


def run(root: Path, args: list[str], timeout: float) -> tuple[float | None, str]:
    """Wall seconds of ``python -m recipemut ARGS`` run from ``root`` (None past ``timeout``), and its last line."""
    env = {**os.environ, "PYTHONPATH": str(root), "RECIPEMUT_STORE": "off"}
    t = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, "-m", "recipemut", *args], cwd=root, env=env, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    wall = time.perf_counter() - t
    lines = (res.stdout + res.stderr).strip().splitlines()
    last = lines[-1] if lines else ""
    return wall, f"exit {res.returncode}: {last[:100]}"


def base_plan(root: Path, timeout: float) -> dict[str, object]:
    """The plan suggest makes for the shipped recipe (made once, kept in DATA)."""
    path = DATA / "base.plan.json"
    if not path.exists():
        copy = DATA / "base.yaml"
        shutil.copyfile(BASE, copy)
        run(root, ["suggest", str(copy), "--logs", str(LOGS), "--out", str(path)], timeout)
    plan: dict[str, object] = json.loads(path.read_text())
    return plan


def _fmt(t: float | None, timeout: float) -> str:
    return f">{timeout:.0f}" if t is None else f"{t:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,2.5,5", help="recipe sizes in MB (10^6 bytes), comma-separated")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated: " + ", ".join(SHAPES))
    ap.add_argument("--root", type=Path, default=ROOT, help="the recipemut checkout to run (default: this one)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds after which a run is stopped")
    ap.add_argument("--skip-suggest", action="store_true", help="time apply only")
    args = ap.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    root = args.root.resolve()
    plan = base_plan(ROOT, args.timeout)
    print(f"recipemut from {root}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'shape':<12} {'MB':>5} {'suggest s':>10} {'apply s':>8}  apply's outcome")
    for shape in args.shapes.split(","):
        for mb in (float(s) for s in args.sizes.split(",")):
            text = build(shape, int(mb * 1e6))
            recipe = DATA / f"{shape}-{mb:g}MB.yaml"
            recipe.write_text(text)
            suggest_s: float | None = None
            if not args.skip_suggest:
                out = DATA / f"{shape}-{mb:g}MB.suggested.json"
                suggest_s, _ = run(root, ["suggest", str(recipe), "--logs", str(LOGS), "--out", str(out)],
                                   args.timeout)
            target = DATA / f"{shape}-{mb:g}MB.apply.yaml"
            target.write_text(text)
            for stale in (target.with_name(target.name + ".history.jsonl"), target.with_name(target.name + ".lock")):
                stale.unlink(missing_ok=True)
            plan_path = DATA / f"{shape}-{mb:g}MB.plan.json"
            p = dict(plan)
            p["recipe"] = {**dict(plan["recipe"]),  # type: ignore[call-overload]
                           "path": str(target), "sha256": hashlib.sha256(text.encode()).hexdigest()}
            plan_path.write_text(json.dumps(p))
            apply_s, outcome = run(root, ["apply", str(target), "--plan", str(plan_path)], args.timeout)
            s_col = "-" if args.skip_suggest else _fmt(suggest_s, args.timeout)
            print(f"{shape:<12} {len(text) / 1e6:>5.2f} {s_col:>10} {_fmt(apply_s, args.timeout):>8}  {outcome}",
                  flush=True)


if __name__ == "__main__":
    main()
