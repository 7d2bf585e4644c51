"""SIGKILL a process applying and rolling back in a loop, at random moments: nothing is ever lost.

A small server process imports recipemut once and, on each request, forks a worker that loops
``apply`` / ``rollback`` on one recipe. The test kills the worker with SIGKILL after a random
delay, then checks that the recipe parses and equals a text the history records (or the original),
and that the history chain verifies. The next worker carries on from whatever state was left
(including an interrupted write, which it records). 20 kills in the default tier, 200 with -m slow.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT

from recipemut.apply.history import read_history
from recipemut.apply.transaction import rollback
from recipemut.recipe.loader import load_recipe_text

SERVER = textwrap.dedent(r"""
    import os, signal, sys
    from recipemut.apply.transaction import apply_plan, rollback
    from recipemut.plan.planfile import Plan, PlanRecipe, recipe_sha256
    sys.path.insert(0, sys.argv[2])
    from _apply_helpers import PARALLELIZE, CACHE

    recipe = sys.argv[1]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped automatically

    # warm up on a scratch copy, so that a forked worker starts writing at once
    warm = recipe + ".warm.yaml"
    with open(recipe, "rb") as src, open(warm, "wb") as dst:
        dst.write(src.read())
    apply_plan(warm, Plan(PlanRecipe(warm, recipe_sha256(warm)), (PARALLELIZE,), (PARALLELIZE.id,)))
    rollback(warm)
    for leftover in (warm, warm + ".history.jsonl", warm + ".lock"):
        os.unlink(leftover)
    print("ready", flush=True)

    def work():
        i = 0
        while True:
            m = (PARALLELIZE, CACHE)[i % 2]
            plan = Plan(PlanRecipe(recipe, recipe_sha256(recipe)), (m,), (m.id,))
            apply_plan(recipe, plan, lock_timeout_s=30)
            rollback(recipe, lock_timeout_s=30)
            i += 1

    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                work()
            except BaseException as e:  # a worker must never stop by itself: report it
                sys.stderr.write(f"worker failed: {e!r}\n")
                sys.stderr.flush()
                os._exit(3)
        print(pid, flush=True)
""")


def _run_kills(tmp_path: Path, kills: int, seed: int) -> None:
    recipe = tmp_path / "checkout.yaml"
    recipe.write_text(RECIPE_TEXT)
    tests_dir = str(Path(__file__).parent)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(recipe), tests_dir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    rng = random.Random(seed)
    assert server.stdin is not None and server.stdout is not None
    try:
        assert server.stdout.readline().strip() == "ready"
        for k in range(kills):
            server.stdin.write("go\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(pid, signal.SIGKILL)
            while True:  # wait until the killed worker is gone (its lock is released with it)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.002)
            entries = read_history(recipe)  # verifies the chain, raises on any damage
            current = recipe.read_text()
            recorded = {RECIPE_TEXT} | {e.text for e in entries} | {e.previous_text for e in entries if e.previous_text}
            assert current in recorded, f"kill {k}: the recipe is not a recorded version"
            load_recipe_text(current, file=str(recipe))  # parses and is a valid recipe
        server.stdin.close()
        server.wait(timeout=10)
        assert server.stderr is not None
        err = server.stderr.read()
        assert "worker failed" not in err, err
        assert len(read_history(recipe)) > 0  # the workers did write
        # one more (uninterrupted) write records any interrupted one and clears the killed writers' temp files
        rollback(recipe)
        read_history(recipe)
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "checkout.yaml", "checkout.yaml.history.jsonl", "checkout.yaml.lock"]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    _run_kills(tmp_path, kills=20, seed=1)


@pytest.mark.slow
def test_sigkill_200_times(tmp_path: Path) -> None:
    _run_kills(tmp_path, kills=200, seed=2)
