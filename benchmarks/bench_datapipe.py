"""What scoring ``datapipe``'s candidates costs in ``suggest``: before (a per-request array pass per
field x format x compression pair, ``bytesmodel.latency_delta``) and now (each operation's bytes summed
once per profile, a pair a few float operations, ``bytesmodel.summed_delta``); and what finding the
log's variants costs (``usecases.inputs._primary_spans``).

    .venv/bin/python benchmarks/bench_datapipe.py [--requests 20000 200000] [--before REV] [--after REV] [--dir /tmp/dp]

For each N the log is generated once (kept in ``--dir`` and reused)::

    .venv/bin/python -m recipemut generate recipes/checkout/recipe.yaml -n N --seed 1 -o /tmp/dp/xN.jsonl

then ``suggest recipes/checkout/recipe.yaml --logs /tmp/dp/xN.jsonl -f json --seed 1 --store off
--time-budget 1e9`` runs in a fresh process on the code of ``--before`` (default: the parent of the
commit that added ``summed_delta``, exported with ``git archive`` to a temporary folder) and on this
working tree (or on ``--after REV``, exported the same way, to leave others' uncommitted work out).
No time budget, so that both searches evaluate the same candidates whatever the machine's load.
Each process times (CPU seconds, user + system, all threads: steadier than wall time
on a shared machine) the whole command and, wrapped, ``datapipe._format_candidates``,
``datapipe._drop_candidates`` and ``inputs._primary_spans``; the table gives each one's CPU and its
share of the command's. The two JSON outputs are compared byte for byte with ``created``,
``elapsed_s``, ``wall_s`` and ``inputs_s`` (clock readings) blanked. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"

CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from typer.testing import CliRunner
import recipemut
assert Path(recipemut.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), recipemut.__file__
from recipemut.cli import app
from recipemut.mutate.operators import datapipe
from recipemut.usecases import inputs

spent = {}
def wrap(mod, name):
    f = getattr(mod, name)
    def timed(*a, **k):
        c = time.process_time()
        try:
            return f(*a, **k)
        finally:
            n, s = spent.get(name, (0, 0.0))
            spent[name] = (n + 1, s + time.process_time() - c)
    setattr(mod, name, timed)
for mod, name in ((datapipe, "_format_candidates"), (datapipe, "_drop_candidates"), (inputs, "_primary_spans")):
    wrap(mod, name)
args = ["suggest", sys.argv[2], "--logs", sys.argv[3], "-f", "json", "--seed", "1", "--store", "off",
        "--time-budget", "1e9"]
c, t = time.process_time(), time.perf_counter()
res = CliRunner().invoke(app, args, env={"COLUMNS": "200", "RECIPEMUT_STORE": "off"}, catch_exceptions=False)
cpu, wall = time.process_time() - c, time.perf_counter() - t
Path(sys.argv[4]).write_text(res.output)
print(json.dumps({"exit": res.exit_code, "cpu_s": cpu, "wall_s": wall, "parts": spent}))
"""

CLOCK = re.compile(r'("(?:created|elapsed_s|wall_s|inputs_s)": )[^,\n]+')


def before_rev() -> str:
    """The parent of the commit that added ``summed_delta`` (the code that scored with per-request arrays)."""
    out = subprocess.run(
        ["git", "log", "--format=%H", "-S", "def summed_delta", "--", "recipemut/predict/bytesmodel.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    if not out:
        sys.exit("no commit adds summed_delta: pass --before REV")
    return f"{out[-1]}^"


def export(rev: str, folder: Path) -> Path:
    """The files of ``rev`` in ``folder`` (``git archive``)."""
    folder.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def logs(n: int, folder: Path) -> Path:
    path = folder / f"x{n}.jsonl"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "recipemut", "generate", str(RECIPE), "-n", str(n), "--seed", "1", "-o", str(path)]
        subprocess.run(cmd, cwd=ROOT, check=True)
    return path


def run(code: Path, log: Path, out: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, str(code), str(RECIPE), str(log), str(out)], cwd=code,
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        sys.exit(f"suggest on {code} failed:\n{res.stderr[-2000:]}")
    got: dict = json.loads(res.stdout.strip().splitlines()[-1])
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, nargs="+", default=[20_000, 200_000])
    ap.add_argument("--before", help="git revision of the code before (default: the parent of summed_delta's commit)")
    ap.add_argument("--after", help="git revision of the code now (default: this working tree)")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/dp"), help="where the generated logs are kept")
    args = ap.parse_args()
    rev = args.before or before_rev()
    generated = {n: logs(n, args.dir) for n in args.requests}
    with tempfile.TemporaryDirectory(prefix="bench_datapipe.") as tmp:
        old = export(rev, Path(tmp) / "before")
        new = export(args.after, Path(tmp) / "now") if args.after else ROOT
        print(f"before: {rev}; now: {args.after or ROOT}")
        head = f"{'requests':>9}  {'code':6}  {'suggest CPU s':>13}  {'format cand.':>17}  {'drop cand.':>15}"
        print(f"{head}  {'_primary_spans':>16}  same JSON")
        for n in args.requests:
            log = generated[n]
            outs, rows = [], []
            for name, code in (("before", old), ("now", new)):
                out = Path(tmp) / f"{name}{n}.json"
                got = run(code, log, out)
                outs.append(CLOCK.sub(r"\1-", out.read_text()))
                rows.append((name, got))
            same = "yes" if outs[0] == outs[1] else "NO"
            for name, got in rows:
                cpu, parts = got["cpu_s"], got["parts"]

                def part(key: str, cpu: float = cpu, parts: dict = parts) -> str:
                    s = parts.get(key, (0, 0.0))[1]
                    return f"{s:7.2f} s {100 * s / cpu:5.1f} %"

                print(
                    f"{n:>9,}  {name:6}  {cpu:13.1f}  {part('_format_candidates'):>17}  "
                    f"{part('_drop_candidates'):>15}  {part('_primary_spans'):>16}  {same}"
                )


if __name__ == "__main__":
    main()
