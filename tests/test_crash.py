"""SIGKILL a process applying and rolling back in a loop, at random moments: nothing is ever lost.

A small server process imports recipemut once and, on each request, forks a worker that loops
``apply`` / ``rollback`` on one recipe. The test kills the worker with SIGKILL after a random
delay, then checks that nothing was lost: the history chain verifies and still holds every entry
seen after earlier kills, the recipe is whole and is the last entry's text (or the text before
it, when the kill cut the write off between history and recipe; the original while there is no
history), and nothing but a killed writer's temp files is left beside it. How many writes finish
between two kills depends on the machine's load and is not checked: zero is fine. The next worker
carries on from whatever state was left (including an interrupted write, which it records).
20 kills in the default tier, 200 with -m slow.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _apply_helpers import CACHE, PARALLELIZE

from recipemut.apply.history import Entry, read_history
from recipemut.apply.transaction import apply_plan
from recipemut.plan.planfile import Plan, PlanRecipe, recipe_sha256
from recipemut.recipe.loader import load_recipe_text
from recipes import CHECKOUT_TEXT

#: a killed writer's temp file (recipemut.files.write.atomic_write), removed by the next write
TEMP = re.compile(r"\.checkout\.yaml(\.history\.jsonl)?\..+\.tmp")

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


def _wait_gone(pid: int, deadline_s: float = 60.0) -> None:
    """Wait until a killed worker is gone (its lock goes with it); SIGKILL cannot be caught, so this
    only waits for the kernel, however loaded the machine."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < end, f"worker {pid} still runs {deadline_s:.0f} s after SIGKILL"
        time.sleep(0.002)


def _check_nothing_lost(recipe: Path, before: tuple[Entry, ...], k: int) -> tuple[Entry, ...]:
    """The state a kill leaves: the history verifies and still holds every entry seen before, the
    recipe is whole and is the last entry's text (or, when that entry's write to the recipe was cut
    off, the text before it; with no history, the original); only temp files are left besides."""
    entries = read_history(recipe)  # verifies the chain and that its last recorded entry is there
    assert [e.hash for e in entries[: len(before)]] == [e.hash for e in before], f"kill {k}: an entry was lost"
    if entries:
        assert entries[0].previous_text == CHECKOUT_TEXT, f"kill {k}: the history does not start at the original"
    current = recipe.read_text()
    if not entries:
        assert current == CHECKOUT_TEXT, f"kill {k}: the recipe changed with no history entry"
    else:
        assert current in (entries[-1].text, entries[-1].previous_text), f"kill {k}: the recipe is not recorded"
    load_recipe_text(current, file=str(recipe))  # whole: it parses and is a valid recipe
    names = {"checkout.yaml", "checkout.yaml.history.jsonl", "checkout.yaml.lock"}
    temps = [p.name for p in recipe.parent.iterdir() if p.name not in names]
    assert all(TEMP.fullmatch(n) for n in temps), f"kill {k}: unexpected files {temps}"
    return entries


def _run_kills(recipe: Path, kills: int, seed: int) -> None:
    folder = recipe.parent
    tests_dir = str(Path(__file__).parent)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(recipe), tests_dir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    rng = random.Random(seed)
    assert server.stdin is not None and server.stdout is not None and server.stderr is not None
    try:
        first = server.stdout.readline().strip()
        if first != "ready":
            server.kill()
            pytest.fail(f"the server did not start: {first!r}\n{server.stderr.read()}")
        entries: tuple[Entry, ...] = ()
        for k in range(kills):
            server.stdin.write("go\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            # a random moment: often mid-write, sometimes before any write (a slow, loaded machine)
            time.sleep(rng.uniform(0.0, 0.25))
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)
            entries = _check_nothing_lost(recipe, entries, k)
        server.stdin.close()
        server.wait(timeout=120)
        err = server.stderr.read()
        assert "worker failed" not in err, err
        # one more (uninterrupted) write records any interrupted one and clears the killed writers' temp files:
        # an apply that changes the text (a rollback after an interrupted write is "nothing to roll back", and
        # writes nothing: tests/test_yaml_history7.py; the test failed whenever the last kill cut a write short)
        for m in (PARALLELIZE, CACHE):
            if apply_plan(recipe, Plan(PlanRecipe(str(recipe), recipe_sha256(recipe)), (m,), (m.id,))).written:
                break
        final = read_history(recipe)
        assert [e.hash for e in final[: len(entries)]] == [e.hash for e in entries]
        assert recipe.read_text() == final[-1].text
        assert sorted(p.name for p in folder.iterdir()) == [
            "checkout.yaml", "checkout.yaml.history.jsonl", "checkout.yaml.lock"]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_sigkill_at_random_moments_loses_nothing(checkout_file: Path) -> None:
    _run_kills(checkout_file, kills=20, seed=1)


@pytest.mark.slow
def test_sigkill_200_times(checkout_file: Path) -> None:
    _run_kills(checkout_file, kills=200, seed=2)
