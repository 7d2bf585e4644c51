"""Workflow engines' files read as recipes (Argo, Tekton, Step Functions, Serverless Workflow, GitHub Actions).

Every command that takes a recipe also takes an engine's own file: :func:`import_text` is the
loader's hook. A file that is not a recipe (no ``apiVersion: recipemut/v1``, ``kind: Recipe``) is
read document by document (a Tekton file holds a Pipeline and its Tasks, ``---`` between them);
the first document an engine detects is imported into a recipe *document*, which the loader then
checks exactly like a recipe, with findings at the engine file's lines.

Each engine is one module here with the same face (see ``docs/engines.md``)::

    KEY: str; NAME: str
    def detect(data) -> bool
    def to_recipe(data, positions, *, file) -> Imported

A module that sets ``READS_OTHER_DOCUMENTS = True`` also gets ``documents=`` (every document of
the file as ``(index, data, positions)``) and ``index=`` (its own): Tekton reads its Tasks'
``results`` there, and a PipelineRun's ``pipelineRef`` to a Pipeline of the same file; it sets
``doc_index`` itself.

Files of engines recipemut does not read are named (:func:`unsupported_engine`), so ``validate``
says "this is a GitLab CI file" instead of listing schema errors.

>>> detect_engine({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": {}}).KEY
'argo'
>>> unsupported_engine({"stages": ["build"], "build-job": {"stage": "build", "script": ["make"]}})
'GitLab CI pipeline'
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

from recipemut.errors import Finding, RecipeInvalid, RecipemutError
from recipemut.recipe.engines.base import Imported
from recipemut.recipe.model import Positions

#: the engine modules, in the order they are tried
MODULES = ("argo", "tekton", "githubactions", "stepfunctions", "serverlessworkflow")

#: what recipemut reads, for messages about files it does not read
READS = (
    "Argo Workflows (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow)",
    "Tekton Pipelines and PipelineRuns",
    "GitHub Actions workflows",
    "AWS Step Functions state machines (ASL)",
    "Serverless Workflow (0.8, 1.0)",
)

log = logging.getLogger(__name__)

_RECIPE_HEAD = re.compile(r"^apiVersion:\s*['\"]?recipemut/v1", re.MULTILINE)


def engines() -> list[ModuleType]:
    """The engine modules, in :data:`MODULES` order (imported on first use)."""
    return [importlib.import_module(f"{__name__}.{m}") for m in MODULES]


def detect_engine(data: Any) -> ModuleType | None:
    """The engine module whose ``detect`` accepts one parsed document, or ``None``."""
    for module in engines():
        if module.detect(data):
            return module
    return None


def _kind(data: dict[Any, Any]) -> tuple[str, str]:
    return str(data.get("apiVersion", "")), str(data.get("kind", ""))


def _values(data: dict[Any, Any]) -> list[dict[Any, Any]]:
    return [v for v in data.values() if isinstance(v, dict)]


def _gitlab(d: dict[Any, Any]) -> bool:
    jobs = _values(d)
    return any("script" in j and ("stage" in j or "image" in j or "rules" in j or "only" in j) for j in jobs) or (
        isinstance(d.get("stages"), list) and any("script" in j or "extends" in j for j in jobs)
    )


def _azure(d: dict[Any, Any]) -> bool:
    return ("pool" in d or "trigger" in d or "pr" in d) and any(k in d for k in ("steps", "jobs", "stages", "extends"))


def _airflow(d: dict[Any, Any]) -> bool:
    dags = [d, *_values(d)]
    return any(
        ("default_args" in x or "schedule_interval" in x or "dag_id" in x) and isinstance(x.get("tasks"), (dict, list))
        for x in dags
    ) or any(isinstance(t, dict) and "operator" in t for x in dags for t in _values(x.get("tasks") or {}))


def _kfp(d: dict[Any, Any]) -> bool:
    return "pipelineInfo" in d and ("root" in d or "deploymentSpec" in d)


def _glue(d: dict[Any, Any]) -> bool:
    wf = d.get("Workflow")
    if isinstance(wf, dict) and "Graph" in wf:
        return True
    res = d.get("Resources")
    return isinstance(res, dict) and any(
        isinstance(r, dict) and str(r.get("Type", "")).startswith("AWS::Glue::") for r in res.values()
    )


#: (name, test) of engines recipemut does not read, by their files' tell-tale keys
UNSUPPORTED: tuple[tuple[str, Callable[[dict[Any, Any]], bool]], ...] = (
    ("Argo Events or Argo CD object", lambda d: "argoproj.io" in _kind(d)[0]),
    ("Tekton Task (not a Pipeline)", lambda d: "tekton.dev" in _kind(d)[0]),
    ("Kubeflow Pipelines pipeline", _kfp),
    ("AWS Glue workflow", _glue),
    ("CircleCI config", lambda d: "workflows" in d and "jobs" in d and ("version" in d or "orbs" in d)),
    ("Bitbucket Pipelines file", lambda d: isinstance(d.get("pipelines"), dict)),
    ("Drone pipeline", lambda d: d.get("kind") == "pipeline" and "steps" in d),
    ("Azure Pipelines file", _azure),
    ("GitLab CI pipeline", _gitlab),
    ("Airflow DAG (dag-factory YAML)", _airflow),
    ("Prefect deployment file", lambda d: "deployments" in d and ("prefect-version" in d or "pull" in d)),
    ("Dagster workspace or run config", lambda d: "load_from" in d or ("ops" in d and "resources" in d)),
    (
        "Temporal workflow DSL",
        lambda d: isinstance(d.get("root"), dict) and ("sequence" in d["root"] or "activity" in d["root"]),
    ),
    ("Google Cloud Workflows file", lambda d: isinstance(d.get("main"), dict) and "steps" in d["main"]),
    ("Jenkins pipeline", lambda d: "pipeline" in d and isinstance(d["pipeline"], dict) and "stages" in d["pipeline"]),
)


def unsupported_engine(data: Any) -> str | None:
    """The name of the (unsupported) workflow tool whose file ``data`` is, or ``None``."""
    if not isinstance(data, dict):
        return None
    return next((name for name, test in UNSUPPORTED if test(data)), None)


def a_name(name: str) -> str:
    """``a GitLab CI pipeline``, ``an Argo Workflow``."""
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _unsupported_message(name: str) -> str:
    return f"this is {a_name(name)}; recipemut reads recipes and " + "; ".join(READS)


def looks_like_recipe(data: Any) -> bool:
    """Whether a parsed document means to be a recipe (then it is checked as one, never imported)."""
    return isinstance(data, dict) and (
        data.get("apiVersion") == "recipemut/v1" or data.get("kind") == "Recipe" or "operations" in data
    )


Document = tuple[Any, Positions, list[Finding]]


def _documents(text: str, file: str) -> list[Document]:
    from recipemut.recipe.yamlpos import parse_yaml_documents

    return parse_yaml_documents(text, file=file, what="workflow file")


def _note_others(imported: Imported, module: ModuleType, documents: list[Document], index: int, file: str) -> None:
    """A warning when the file holds more documents of the same engine than the one imported."""
    lines = [p.get((), (None, None))[0] for i, (d, p, _) in enumerate(documents) if i != index and module.detect(d)]
    if lines:
        at = ", ".join(str(n) for n in lines if n is not None)
        line, col = documents[index][1].get((), (None, None))
        imported.warnings.append(
            Finding(
                file,
                line,
                col,
                "import-several",
                f"the file holds {len(lines) + 1} documents of this engine; the first is imported, "
                f"not the ones at line {at}",
                severity="warning",
            )
        )


def import_documents(documents: list[Document], *, file: str) -> Imported | None:
    """The first document an engine detects, imported; ``None`` when no engine reads any of them.

    Raises :class:`RecipeInvalid` with one finding for a file of an engine recipemut does not
    read (named), and for a detected engine whose importer has not landed.
    """
    for index, (data, positions, findings) in enumerate(documents):
        module = detect_engine(data)
        if module is None:
            continue
        if not hasattr(module, "to_recipe"):
            line, col = positions.get((), (1, 1))
            raise RecipeInvalid(
                [
                    Finding(
                        file,
                        line,
                        col,
                        "engine-not-available",
                        f"this is {a_name(module.NAME)}; its import is not available yet",
                    )
                ]
            )
        try:
            if getattr(module, "READS_OTHER_DOCUMENTS", False):
                every = [(i, d, p) for i, (d, p, _) in enumerate(documents)]
                imported: Imported = module.to_recipe(data, positions, file=file, documents=every, index=index)
            else:
                imported = module.to_recipe(data, positions, file=file)
                imported.doc_index = index
                _note_others(imported, module, documents, index, file)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:  # a shape no importer foresaw
            log.debug("importing %s as %s", file, module.NAME, exc_info=True)
            line, col = positions.get((), (1, 1))
            what = f"could not read this {module.NAME} ({type(e).__name__}: {e}); a key holds an unexpected value"
            raise RecipeInvalid([Finding(file, line, col, "import-failed", what)]) from None
        imported.warnings[:0] = findings  # duplicate keys of the engine document
        steps_act(imported.document)
        return imported
    for data, positions, _ in documents:
        name = unsupported_engine(data)
        if name is not None:
            line, col = positions.get((), (1, 1))
            raise RecipeInvalid([Finding(file, line, col, "unsupported-engine", _unsupported_message(name))])
    return None


def steps_act(document: dict[str, Any]) -> None:
    """Mark every imported step whose importer did not say otherwise ``side_effects: idempotent``.

    An engine's step runs a container, a script or a job for what it does (deploy, publish, test,
    notify), which its file does not state; a recipe operation without ``side_effects`` would be
    taken as pure, and ``eliminate`` would remove every step whose outputs nothing reads (a
    ``publish`` job first). Importers set ``side_effects: none`` on the states an engine defines as
    pure (Step Functions ``Pass``/``Wait``, Serverless Workflow ``set``/``wait``...).

    >>> doc = {"operations": [{"id": "publish"}, {"id": "wait", "side_effects": "none"}]}
    >>> steps_act(doc); [op["side_effects"] for op in doc["operations"]]
    ['idempotent', 'none']
    """
    for op in document.get("operations") or []:
        if isinstance(op, dict) and "side_effects" not in op:
            op["side_effects"] = "idempotent"


def import_text(text: str, *, file: str, first: Document | None = None) -> Imported | None:
    """The loader's hook: an engine file's text imported, or ``None`` when it is no engine's file.

    ``first``: the file's one document, already parsed (a single-document file); otherwise the
    text is read document by document, with the same limits as a recipe's YAML.
    """
    documents = [first] if first is not None else _documents(text, file)
    return import_documents(documents, file=file)


def recipe_text(imported: Imported, *, source: str) -> str:
    """The imported recipe as YAML, with a header comment naming the source file and the engine.

    What ``recipemut import`` shows and writes; also the text to diff a plan against while
    write-back into engine files is not available. Names from the engine file that hold control,
    bidi or other non-ASCII characters are written as YAML escapes (``"\\u202e"``), and the file
    name in the header through :func:`~recipemut.files.text.safe`, so the text cannot drive a
    terminal nor break out of its comment.
    """
    import yaml

    from recipemut.files.text import safe

    header = (
        f"# Imported by `recipemut import` from {safe(source)} ({a_name(imported.engine)}).\n"
        "# Steps are operations; data edges come from what the engine states (outputs, results,\n"
        "# parameters), ordering without stated data stays in `after`. Check: recipemut validate FILE\n"
    )
    body = yaml.safe_dump(imported.document, sort_keys=False, default_flow_style=None, allow_unicode=False, width=100)
    return header + body


def engine_name(text: str, *, file: str = "<string>") -> str | None:
    """What an engine calls the file (``"Argo Workflow"``), or ``None`` for a recipe or unreadable text."""
    if _RECIPE_HEAD.search(text):
        return None
    try:
        documents = _documents(text, file)
    except RecipemutError:
        return None
    for data, _, _ in documents:
        if looks_like_recipe(data):
            return None
        module = detect_engine(data)
        if module is not None:
            return str(module.NAME)
    return None


__all__ = [
    "MODULES",
    "READS",
    "UNSUPPORTED",
    "Document",
    "a_name",
    "detect_engine",
    "engine_name",
    "engines",
    "import_documents",
    "import_text",
    "looks_like_recipe",
    "recipe_text",
    "unsupported_engine",
]
