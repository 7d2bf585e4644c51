"""GitHub Actions workflows (``.github/workflows/*.yml``) read as recipes.

One job is one operation (the steps inside a job run one after another on one runner and a run's
jobs API reports the job, so they are not operations). ``needs`` is ``after``; a job output read
by another job (``${{ needs.build.outputs.hash }}`` in its ``with``, ``env``, ``if``, ``run``, matrix,
...) is a field the first produces and the second consumes, so that edge is a data edge. ``if`` is
``when`` (the expression as text); ``strategy.matrix`` is a fan-out (``foreach``) over a matrix
field, ``strategy.max-parallel`` its ``concurrency``. A job that calls a reusable workflow
(``uses:`` at job level) is one operation, with a warning.

>>> from recipemut.recipe.yamlpos import parse_yaml
>>> text = '''on: push
... jobs:
...   build:
...     runs-on: ubuntu-latest
...     outputs: {hash: "${{ steps.h.outputs.hash }}"}
...     steps: [{run: make}]
...   sign:
...     needs: build
...     runs-on: ubuntu-latest
...     steps: [{run: "sign ${{ needs.build.outputs.hash }}"}]
... '''
>>> data, pos, _ = parse_yaml(text, file="ci.yml")
>>> doc = to_recipe(data, pos, file=".github/workflows/ci.yml").document
>>> [(o["id"], o["service"], o["consumes"], o["produces"], o.get("after")) for o in doc["operations"]]
[('build', 'ubuntu-latest', [], ['build.hash'], None), ('sign', 'ubuntu-latest', ['build.hash'], [], None)]
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import PurePath
from typing import Any

from recipemut.files.units import counted
from recipemut.recipe.engines._asl_flow import as_dict, as_list, merge_notes
from recipemut.recipe.engines.base import Anchor, Imported
from recipemut.recipe.engines.build import UNLIMITED, Builder, Step, delimited, when_text
from recipemut.recipe.engines.names import UniqueIds, op_id
from recipemut.recipe.model import DocPath, Positions

KEY = "github-actions"
NAME = "GitHub Actions workflow"

#: combinations of a matrix counted one by one; a larger matrix (GitHub Actions runs at most 256
#: jobs of one) is counted by multiplying, its ``exclude`` entries not applied: enumerating a
#: matrix of 50 keys of 50 values each never ended
MATRIX_ENUMERATED = 4_096
#: most (combination, include or exclude entry) pairs compared; past it the matrix is counted by
#: multiplying too (64 x 64 values with 9,000 include and 9,000 exclude entries took 74 s)
MATRIX_CHECKS = 200_000
#: most jobs GitHub Actions makes of one matrix
MATRIX_JOBS = 256

#: what a job of a workflow holds at least one of
_JOB_KEYS = ("runs-on", "uses", "steps")
_NEEDS_OUT = re.compile(r"needs\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)")
_INPUT = re.compile(r"(?:github\.event\.)?inputs\.([A-Za-z_][\w-]*)")
_WHOLE = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)
#: ``if:`` conditions that only say whether earlier jobs failed: not a branch of the run
_STATUS_ONLY = {"always()", "success()", "!cancelled()", "! cancelled()"}


def _trigger(data: dict[Any, Any]) -> Any:
    """The workflow's ``on:`` (PyYAML's YAML 1.1 reads the key ``on`` as ``True``)."""
    return data["on"] if "on" in data else data.get(True)


def _on_key(data: dict[Any, Any]) -> Any:
    return "on" if "on" in data else True


def _expressions(value: Any, key: str = "") -> list[str]:
    """The ``${{ }}`` expressions in a nested value; an ``if:`` is an expression even without the wrapper."""
    if isinstance(value, str):
        found = delimited(value, "${{", "}}")
        return found if found or key != "if" else [value]
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _expressions(v, str(k))]
    if isinstance(value, list):
        return [e for v in value for e in _expressions(v, key)]
    return []


def _action(uses: Any) -> str:
    """``actions/upload-artifact`` for ``actions/upload-artifact@v4`` (any version or commit)."""
    return str(uses).split("@")[0].strip().lower() if isinstance(uses, str) else ""


def detect(data: Any) -> bool:
    """Whether one parsed document is a GitHub Actions workflow: ``on:`` and ``jobs:`` of runner jobs."""
    if not isinstance(data, dict) or ("on" not in data and True not in data):
        return False
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        return False
    return all(isinstance(j, dict) and any(k in j for k in _JOB_KEYS) for j in jobs.values())


def expression(text: Any) -> str:
    """An ``if:`` or value without its ``${{ }}`` wrapper: ``${{ a == 'b' }}`` -> ``a == 'b'``.

    >>> expression("${{ github.ref == 'refs/heads/main' }}"), expression("matrix.tox == 'typing'")
    ("github.ref == 'refs/heads/main'", "matrix.tox == 'typing'")
    """
    s = str(text).strip()
    m = _WHOLE.match(s)
    return m.group(1).strip() if m and "${{" not in m.group(1) else s


def runner(runs_on: Any) -> str | None:
    """The runner label a job runs on (``runs-on`` as one string; a list's labels joined by ``,``).

    >>> runner("ubuntu-latest"), runner(["self-hosted", "gpu"]), runner({"group": "big", "labels": ["x"]}), runner(None)
    ('ubuntu-latest', 'self-hosted,gpu', 'big', None)
    """
    if isinstance(runs_on, str) and runs_on.strip():
        return runs_on.strip()
    if isinstance(runs_on, list) and runs_on:
        return ",".join(str(x) for x in runs_on)
    if isinstance(runs_on, dict):
        group, labels = runs_on.get("group"), runs_on.get("labels")
        return str(group) if group else runner(labels)
    return None


def matrix_size(matrix: Any) -> int | None:
    """How many jobs a literal ``strategy.matrix`` makes (``include`` and ``exclude`` counted as GitHub does).

    ``None`` when a dimension or the matrix is an expression (``${{ fromJson(...) }}``).

    >>> matrix_size({"os": ["a", "b"], "py": [1, 2, 3]})
    6
    >>> m = {"os": ["a", "b"], "py": [1, 2], "exclude": [{"os": "a", "py": 1}]}
    >>> matrix_size({**m, "include": [{"os": "c", "py": 9}, {"os": "b", "x": 1}]})
    4
    >>> matrix_size({"include": [{"name": "Linux"}, {"name": "Mac"}]}), matrix_size("${{ fromJson(x) }}")
    (2, None)
    """
    if not isinstance(matrix, dict):
        return None
    dims = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    if any(not isinstance(v, list) for v in dims.values()):
        return None
    excludes = matrix.get("exclude") if matrix.get("exclude") is not None else []
    includes = matrix.get("include") if matrix.get("include") is not None else []
    if not isinstance(excludes, list) or not isinstance(includes, list):
        return None
    total = math.prod(len(v) for v in dims.values()) if dims else 0
    if total > MATRIX_ENUMERATED or total * (len(includes) + len(excludes)) > MATRIX_CHECKS:
        return total + sum(
            1 for e in includes if isinstance(e, dict) and not all(v in dims[k] for k, v in e.items() if k in dims)
        )
    combos = [dict(zip(dims, values, strict=True)) for values in itertools.product(*dims.values())] if dims else []

    def matches(combo: dict[str, Any], entry: Any) -> bool:
        return isinstance(entry, dict) and all(combo.get(k) == v for k, v in entry.items())

    combos = [c for c in combos if not any(matches(c, e) for e in excludes)]
    base = [dict(c) for c in combos]
    extra = 0
    for entry in includes:
        if not isinstance(entry, dict):
            continue
        fits = [i for i, c in enumerate(base) if all(c[k] == v for k, v in entry.items() if k in dims)]
        if not fits:
            extra += 1
    return len(combos) + extra


class _Reader:
    def __init__(self, data: dict[Any, Any], b: Builder) -> None:
        self.data = data
        self.b = b
        jobs = data.get("jobs")
        self.jobs: dict[str, Any] = {str(k): v for k, v in jobs.items()} if isinstance(jobs, dict) else {}
        self.ids: dict[str, str] = {}
        self.inputs = self.declared_inputs()
        self.notes: dict[str, list[str]] = {}

    def declared_inputs(self) -> set[str]:
        on = _trigger(self.data)
        names: set[str] = set()
        if isinstance(on, dict):
            for event in ("workflow_call", "workflow_dispatch"):
                spec = on.get(event)
                if isinstance(spec, dict) and isinstance(spec.get("inputs"), dict):
                    names |= {str(k) for k in spec["inputs"]}
        return names

    def name_ids(self) -> None:
        """Operation ids by the shared rule: a job's plain ``name:`` (no expression), else its key."""
        used = UniqueIds()
        for key, job in self.jobs.items():
            name = job.get("name") if isinstance(job, dict) else None
            base = op_id(name if isinstance(name, str) and "${{" not in name and name.strip() else key)
            oid = used.take(base if base not in used or op_id(key) in used else op_id(key))
            if oid != base:
                self.b.warn(
                    "duplicate-name",
                    f"job '{key}': its operation id '{base}' is another job's; its operation is '{oid}'",
                    ("jobs", key),
                )
            self.ids[key] = oid

    def job(self, key: str, job: Any) -> Step | None:
        path: DocPath = ("jobs", key)
        if not isinstance(job, dict):
            self.b.warn("bad-job", f"job '{key}' is not a mapping; left out", path)
            return None
        oid = self.ids[key]
        notes: list[str] = []
        name = job.get("name")
        plain = isinstance(name, str) and bool(name.strip()) and "${{" not in name
        action = str(name).strip() if plain else key
        if isinstance(name, str) and not plain and name.strip():
            notes.append(f"display name {name.strip()} (set at run time)")
        reusable = isinstance(job.get("uses"), str)
        service = runner(job.get("runs-on")) or (str(job["uses"]).strip() if reusable else "github-actions")
        if reusable:
            self.b.warn(
                "reusable-workflow",
                f"job '{key}' calls the reusable workflow {job['uses']}; its jobs are one operation here",
                (*path, "uses"),
            )
        step = Step(id=oid, service=service, action=action, path=path)
        step.at["service"] = (*path, "runs-on") if "runs-on" in job else ((*path, "uses") if reusable else path)
        step.at["action"] = (*path, "name") if plain else path
        self.outputs(key, job, step)
        self.reads(key, job, step)
        self.artifacts(key, job, step)
        needs = job.get("needs")
        needs_list = [needs] if isinstance(needs, str) else (needs if isinstance(needs, list) else [])
        for j, dep in enumerate(needs_list):
            at: DocPath = (*path, "needs") if isinstance(needs, str) else (*path, "needs", j)
            if str(dep) not in self.ids:
                self.b.error(
                    "unknown-job", f"job '{key}' needs '{dep}', which is not a job of this workflow", at,
                    name=str(dep), names=self.ids,
                )  # fmt: skip
                continue
            step.after.append((self.ids[str(dep)], at))
        if "needs" in job:
            step.at["after"] = (*path, "needs")
        self.condition(key, job, step)
        concurrency_at = self.matrix(key, job, step, notes)
        if isinstance(job.get("timeout-minutes"), (int, float)) and not isinstance(job.get("timeout-minutes"), bool):
            notes.append(f"timeout-minutes {job['timeout-minutes']}")
        if "continue-on-error" in job and job["continue-on-error"] not in (False, "false"):
            self.b.warn(
                "continue-on-error",
                f"job '{key}': continue-on-error lets the run go on when it fails; "
                "in a recipe a failed operation ends the request",
                (*path, "continue-on-error"),
            )
        if isinstance(job.get("services"), dict) and job["services"]:
            notes.append(f"service containers: {', '.join(map(str, job['services']))}")
        if isinstance(job.get("container"), (str, dict)):
            image = job["container"] if isinstance(job["container"], str) else job["container"].get("image")
            if image:
                notes.append(f"container {image}")
        step.anchor = Anchor(
            path=path,
            depends=(*path, "needs") if "needs" in job else None,
            depends_style="list",
            concurrency=concurrency_at,
        )
        self.notes[oid] = notes
        return step

    def uploads(self, key: str) -> list[tuple[str, str | None, DocPath]]:
        """(field, artifact name or ``None`` when set at run time, path) of what a job uploads.

        ``actions/upload-artifact`` steps (the default name is ``artifact``); a reusable workflow may
        upload anything: one field ``<job>.artifacts`` stands for it.
        """
        job = self.jobs.get(key)
        if not isinstance(job, dict):
            return []
        oid = self.ids[key]
        if isinstance(job.get("uses"), str):
            return [(f"{oid}.artifacts", None, ("jobs", key, "uses"))]
        out: list[tuple[str, str | None, DocPath]] = []
        for i, st in enumerate(as_list(job.get("steps"))):
            if not isinstance(st, dict) or _action(st.get("uses")) != "actions/upload-artifact":
                continue
            name = as_dict(st.get("with")).get("name", "artifact")
            literal = isinstance(name, (str, int, float)) and "${{" not in str(name)
            field = f"{oid}.artifact.{op_id(str(name)).lstrip('_') or 'artifact'}" if literal else f"{oid}.artifacts"
            out.append((field, str(name) if literal else None, ("jobs", key, "steps", i)))
        return out

    def upstream(self, key: str) -> list[str]:
        """The jobs ``key`` needs, directly or through others, in file order."""
        seen: set[str] = set()
        todo = [key]
        while todo:
            job = self.jobs.get(todo.pop())
            needs = job.get("needs") if isinstance(job, dict) else None
            for dep in [needs] if isinstance(needs, str) else as_list(needs):
                if isinstance(dep, str) and dep in self.jobs and dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return [k for k in self.jobs if k in seen]

    def artifacts(self, key: str, job: dict[str, Any], step: Step) -> None:
        """Artifacts are data: an upload is a field the job produces, a download of it a field it consumes."""
        for field, _, at in self.uploads(key):
            step.produces.append(self.b.field(field, at, "bytes"))
        step.produces[:] = list(dict.fromkeys(step.produces))
        for i, st in enumerate(as_list(job.get("steps"))):
            if not isinstance(st, dict) or _action(st.get("uses")) != "actions/download-artifact":
                continue
            args = as_dict(st.get("with"))
            if "run-id" in args:
                continue  # another run's artifacts: not this request's data
            name = args.get("name")
            wanted = str(name) if isinstance(name, (str, int, float)) and "${{" not in str(name) else None
            for dep in self.upstream(key):
                for field, art, _ in self.uploads(dep):
                    if wanted is None or art is None or art == wanted:
                        step.consumes.append(self.b.field(field, ("jobs", key, "steps", i), "bytes"))

    def outputs(self, key: str, job: dict[str, Any], step: Step) -> None:
        outs = job.get("outputs")
        if isinstance(outs, dict):
            for name in outs:
                step.produces.append(self.b.field(f"{step.id}.{name}", ("jobs", key, "outputs", name)))

    def reads(self, key: str, job: dict[str, Any], step: Step) -> None:
        """Job outputs and workflow inputs the job reads anywhere but in its own ``outputs``."""
        for k, value in job.items():
            if k == "outputs":
                continue
            for expr in _expressions(value, str(k)):
                for dep, out in _NEEDS_OUT.findall(expr):
                    self.read_output(key, step, dep, out, ("jobs", key, k))
                for name in _INPUT.findall(expr):
                    if name in self.inputs:
                        step.consumes.append(self.b.field(f"inputs.{name}", self.input_path(name)))

    def read_output(self, key: str, step: Step, dep: str, out: str, at: DocPath) -> None:
        job = self.jobs.get(dep)
        outs = job.get("outputs") if isinstance(job, dict) else None
        if not isinstance(outs, dict) or out not in outs:
            self.b.warn(
                "unknown-output", f"job '{key}' reads needs.{dep}.outputs.{out}, which job '{dep}' does not declare", at
            )
            return
        step.consumes.append(self.b.field(f"{self.ids[dep]}.{out}", ("jobs", dep, "outputs", out)))

    def input_path(self, name: str) -> DocPath:
        on = _trigger(self.data)
        for event in ("workflow_call", "workflow_dispatch"):
            spec = on.get(event) if isinstance(on, dict) else None
            if isinstance(spec, dict) and isinstance(spec.get("inputs"), dict) and name in spec["inputs"]:
                return (_on_key(self.data), event, "inputs", name)
        return (_on_key(self.data),)

    def condition(self, key: str, job: dict[str, Any], step: Step) -> None:
        if "if" not in job:
            return
        at: DocPath = ("jobs", key, "if")
        text = expression(job["if"])
        if text.replace(" ", "") in {s.replace(" ", "") for s in _STATUS_ONLY}:
            if text.replace(" ", "") != "success()":
                self.b.warn(
                    "status-condition",
                    f"job '{key}' runs even when a job it needs failed ({text}); "
                    "a recipe does not run the descendants of a failure",
                    at,
                )
            return
        step.extra["when"] = when_text(text)
        step.at["when"] = at
        self.b.warn("when", f"job '{key}': the condition {when_text(text)!r} is kept as `when` text", at)

    def matrix(self, key: str, job: dict[str, Any], step: Step, notes: list[str]) -> DocPath | None:
        strategy = job.get("strategy")
        if not isinstance(strategy, dict) or "matrix" not in strategy:
            return None
        path: DocPath = ("jobs", key, "strategy")
        matrix = strategy["matrix"]
        source = self.matrix_source(matrix)
        if source is not None:
            field_name = source
            if field_name not in step.consumes:
                step.consumes.append(field_name)
        else:
            field_name = self.b.field(f"{step.id}.matrix", (*path, "matrix"), "array")
            step.consumes.append(field_name)
        self.b.field(field_name, (*path, "matrix"), "array")
        step.extra["foreach"] = field_name
        step.at["foreach"] = (*path, "matrix")
        size = matrix_size(matrix)
        if size is not None:
            notes.append(f"matrix of {counted(size, 'job')}{self.matrix_counts(matrix)}")
            if size > MATRIX_JOBS:
                self.b.warn(
                    "matrix-size",
                    f"job '{key}': its matrix makes {size:,} jobs; GitHub Actions runs at most {MATRIX_JOBS}",
                    (*path, "matrix"),
                )
        else:
            notes.append("matrix built at run time")
        cap = strategy.get("max-parallel")
        if isinstance(cap, int) and not isinstance(cap, bool) and cap >= 1:
            concurrency = min(cap, UNLIMITED)
            step.at["concurrency"] = (*path, "max-parallel")
        else:
            if cap is not None:
                self.b.warn(
                    "max-parallel",
                    f"job '{key}': max-parallel {cap!r} is not a number; not carried over",
                    (*path, "max-parallel"),
                )
            concurrency = min(size, UNLIMITED) if size else UNLIMITED
            step.at["concurrency"] = (*path, "matrix")
        if concurrency > 1:
            step.extra["concurrency"] = concurrency
        return path

    def matrix_source(self, matrix: Any) -> str | None:
        """The field a matrix built from an expression fans out over (a job output or a workflow input)."""
        texts = [matrix] if isinstance(matrix, str) else []
        if isinstance(matrix, dict):
            texts = [v for k, v in matrix.items() if k not in ("include", "exclude") and isinstance(v, str)]
        for text in texts:
            for expr in delimited(text, "${{", "}}"):
                for dep, out in _NEEDS_OUT.findall(expr):
                    job = self.jobs.get(dep)
                    if isinstance(job, dict) and isinstance(job.get("outputs"), dict) and out in job["outputs"]:
                        return f"{self.ids[dep]}.{out}"
                for name in _INPUT.findall(expr):
                    if name in self.inputs:
                        return f"inputs.{name}"
        return None

    @staticmethod
    def matrix_counts(matrix: Any) -> str:
        if not isinstance(matrix, dict):
            return ""
        dims = [f"{len(v)} {k}" for k, v in matrix.items() if k not in ("include", "exclude") and isinstance(v, list)]
        parts = [" x ".join(dims)] if dims else []
        for k in ("include", "exclude"):
            if isinstance(matrix.get(k), list) and matrix[k]:
                parts.append(f"{len(matrix[k])} {k}")
        return f" ({', '.join(parts)})" if parts else ""


def _recipe_name(data: dict[Any, Any], file: str) -> str:
    name = data.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    stem = PurePath(file).name
    for suffix in (".yml", ".yaml"):
        stem = stem.removesuffix(suffix)
    return stem if stem and not stem.startswith("<") else "workflow"


def to_recipe(data: Any, positions: Positions, *, file: str) -> Imported:
    """Import one GitHub Actions workflow into a recipe document (see the module's docstring)."""
    b = Builder(KEY, NAME, file, positions)
    reader = _Reader(data, b)
    reader.name_ids()
    for key, job in reader.jobs.items():
        step = reader.job(key, job)
        if step is not None:
            step.consumes = list(dict.fromkeys(step.consumes))
            b.steps.append(step)
    imported = b.finish(
        _recipe_name(data, file), (), ("jobs",), f"imported from the GitHub Actions workflow {PurePath(file).name}"
    )
    merge_notes(imported, reader.notes)
    return imported


__all__ = ["KEY", "NAME", "detect", "expression", "matrix_size", "runner", "to_recipe"]
