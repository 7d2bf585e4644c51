"""Compare two `recipemut suggest --format json` reports, ignoring timestamps and timings.

Used to check that a change of code leaves behaviour unchanged: the same mutations, verdicts and
figures on the same recipe, logs and seed.

    RECIPEMUT_STORE=off recipemut suggest recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz \\
        --format json --seed 1 > before.json
    # ... change the code ...
    RECIPEMUT_STORE=off recipemut suggest ... --seed 1 > after.json
    python benchmarks/compare_reports.py before.json after.json      # exit 0: no difference

Every difference is printed as a JSON path with both values; floats are compared to 9 decimals.
"""

from __future__ import annotations

import json
import sys
from typing import Any

IGNORED = {"created", "elapsed_s", "inputs_s", "seconds", "wall_s", "tool", "time_s", "timings", "duration_s", "path",
           "file"}


def _strip(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in IGNORED and not k.endswith("_s")}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    if isinstance(x, float):
        return round(x, 9)
    return x


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where ``a`` and ``b`` differ, with both values (shortened)."""
    if type(a) is not type(b):
        return [f"type {path}: {str(a)[:80]} | {str(b)[:80]}"]
    if isinstance(a, dict):
        out = [f"key {path}/{k}" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"length {path}: {len(a)} | {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"value {path}: {str(a)[:80]} | {str(b)[:80]}"]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    with open(argv[0], encoding="utf-8") as fa, open(argv[1], encoding="utf-8") as fb:
        found = differences(_strip(json.load(fa)), _strip(json.load(fb)))
    for d in found:
        print(d)
    print(f"{argv[0]} vs {argv[1]}: {len(found)} difference(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
