"""How near `suggest --time-budget` finishes to its budget on a wide recipe, and where the time goes.

The recipe is an attacker's: a chain of N deterministic operations ordered only by `after`, every
one proposing a cache, all but an end a parallelize and an eliminate (3N - 2 candidates), with 100
requests of logs (`tests/_wide_helpers.write_wide`). For each N (250 and 500 by default) it runs

* the command end to end in a fresh process, `recipemut suggest wide.yaml --logs wide.jsonl -q
  --time-budget 5 -f json`: wall and CPU seconds (the process's, imports included), and what the
  report says of the search (candidates searched of generated, what stopped it);
* the same command in a fresh process with its stages timed (wrappers around the functions the
  command calls): reading and profiling (`load_inputs`), the baseline's replay, generating the
  candidates (every round's `generate_all`), the rest of the search (checks, replays, judgements),
  the operators' reasons for proposing nothing, and the report.

`--src DIR` runs another tree of the package (e.g. `git archive <commit> recipemut | tar -x -C DIR`)
to measure before a change with the same script. Nothing is asserted; wall times on the shared
2-core machine are noisy, CPU seconds steadier.

    .venv/bin/python benchmarks/bench_suggest_wide.py [--ops 250 500] [--requests 100] [--time-budget 5] [--src DIR]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"

#: the stages timed, as (module, function, stage): a function called in another stage's is counted in both,
#: so the search's own figure is its total less the generation's
STAGES = (
    ("recipemut.commands.suggest", "load_inputs", "read+profile"),
    ("recipemut.usecases.suggest", "replay_base", "baseline"),
    ("recipemut.usecases.suggest", "replay", "baseline"),
    ("recipemut.usecases.suggest", "Headroom", "baseline"),
    ("recipemut.plan.search", "generate_all", "generation"),
    ("recipemut.usecases.suggest", "search", "search"),
    ("recipemut.usecases.suggest", "_not_proposed", "reasons"),
    ("recipemut.usecases.suggest", "search_report", "report"),
)


def _staged(args: list[str]) -> None:
    """Run the command in this process with its stages timed; print them as JSON on the last line."""
    import importlib

    spent: dict[str, float] = {}
    for module, name, stage in STAGES:
        mod = importlib.import_module(module)
        fn = getattr(mod, name, None)
        if fn is None:
            continue

        def timed(*a: Any, _fn: Any = fn, _stage: str = stage, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                spent[_stage] = spent.get(_stage, 0.0) + time.perf_counter() - t

        setattr(mod, name, functools.wraps(fn)(timed))
    from recipemut.cli import main

    t0 = time.perf_counter()
    out = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the command's own output is not wanted
    try:
        main(args)
    except SystemExit:
        pass
    finally:
        sys.stdout.close()
        sys.stdout = out
    spent["command"] = time.perf_counter() - t0
    print(json.dumps(spent))


def _env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ, RECIPEMUT_STORE="off")
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _end_to_end(cmd: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "recipemut", *cmd, "-f", "json"], env=env, capture_output=True,
                         text=True, cwd=DATA)  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode not in (0, 2):
        raise SystemExit(f"suggest failed ({res.returncode}): {res.stderr[-2000:]}")
    return wall, cpu, json.loads(res.stdout)["report"]["search"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, nargs="+", default=[250, 500])
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--time-budget", type=float, default=5.0)
    ap.add_argument("--src", type=Path, default=None, help="a tree holding another recipemut package to measure")
    ap.add_argument("--staged", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.staged is not None:
        _staged(a.staged)
        return 0
    sys.path.insert(0, str(ROOT / "tests"))
    from _wide_helpers import write_wide

    env = _env(a.src)
    print(f"machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}; package: {a.src or ROOT}")
    head = (f"{'ops':>5} {'wall s':>7} {'cpu s':>6}  {'searched':>16}  {'read+profile':>12} {'baseline':>8} "
            f"{'generation':>10} {'search':>7} {'reasons':>7} {'report':>6}  {'staged wall':>11}")  # fmt: skip
    print(head)
    for n in a.ops:
        folder = DATA / f"wide_{n}ops_{a.requests}req"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "wide.jsonl").exists():
            write_wide(folder, n, a.requests)
        cmd = ["suggest", str(folder / "wide.yaml"), "--logs", str(folder / "wide.jsonl"), "-q",
               "--time-budget", f"{a.time_budget:g}"]  # fmt: skip
        wall, cpu, s = _end_to_end(cmd, env)
        staged = subprocess.run([sys.executable, __file__, "--staged", *cmd], env=env, capture_output=True,
                                text=True, cwd=DATA)  # fmt: skip
        if staged.returncode != 0:
            raise SystemExit(f"staged run failed: {staged.stderr[-2000:]}")
        t = json.loads(staged.stdout.strip().splitlines()[-1])
        searched = f"{s['searched']} of {s['candidates']}" if "searched" in s else f"{s['evaluated']} evaluated"
        print(f"{n:>5} {wall:>7.1f} {cpu:>6.1f}  {searched:>16}  {t.get('read+profile', 0):>12.2f} "
              f"{t.get('baseline', 0):>8.2f} {t.get('generation', 0):>10.2f} "
              f"{t.get('search', 0) - t.get('generation', 0):>7.2f} {t.get('reasons', 0):>7.2f} "
              f"{t.get('report', 0):>6.2f}  {t['command']:>11.1f}")  # fmt: skip
        print(f"      report: stopped by {s.get('stopped_by', '?')}; search {s['elapsed_s']:.1f} s; "
              f"{s.get('summary', '(no summary in this version)')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
