"""How long a YAML run history takes to parse: the one YAML reader against PyYAML's ``load_all``.

    .venv/bin/python benchmarks/bench_runs_yaml.py [--runs 20000]

Writes (once, into ``benchmarks/data/``) the runs of ``recipes/argo-ci/runs.yaml`` repeated to
``--runs`` Workflows, as ``kubectl get wf -o yaml`` prints them (no anchors), then parses it in a
child process each way and prints the wall time and the child's peak RSS:

* ``reader``: :func:`recipemut.logs.runs.rows.documents`, what ``--logs runs.yaml`` runs
  (:func:`recipemut.recipe.yamlpos.parse_yaml_documents`, no cap on values, no positions kept);
* ``load_all``: ``yaml.load_all`` with ``CSafeLoader``, what it ran before.

Nothing is asserted.
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = """
import resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
data = Path({path!r}).read_bytes()
t = time.perf_counter()
if {how!r} == "reader":
    from recipemut.logs.runs.rows import documents
    docs = list(documents(data, Path({path!r})))
else:
    import yaml
    docs = list(yaml.load_all(data.decode(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
took = time.perf_counter() - t
print(f"{{took:.1f}} {{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}}")
"""


def history(runs: int) -> Path:
    """The YAML history of ``runs`` Workflows (written once)."""
    import yaml

    path = HERE / "data" / f"runs-argo-{runs}.yaml"
    if path.exists():
        return path
    items = yaml.safe_load((ROOT / "recipes/argo-ci/runs.yaml").read_text())["items"]

    class Plain(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    doc = {"apiVersion": "v1", "kind": "List", "items": [copy.deepcopy(items[i % len(items)]) for i in range(runs)]}
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.dump(doc, Dumper=Plain, sort_keys=False))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20000)
    a = ap.parse_args()
    path = history(a.runs)
    print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB")
    for how in ("reader", "load_all"):
        code = _CHILD.format(root=str(ROOT), path=str(path), how=how)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        took, peak = out.split()
        print(f"{how:9s} {took:>7s} s  peak {peak:>6s} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
