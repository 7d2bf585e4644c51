"""What an engine importer returns, and what write-back needs to find in the engine's file.

An importer turns one engine document (an Argo Workflow, a Tekton Pipeline, a Step Functions
definition, a Serverless Workflow, a GitHub Actions workflow) into a recipe *document*: the plain
data a recipe YAML would load to, which then goes through the same schema and semantic checks as
a hand-written recipe. Positions map the recipe document's paths to lines of the engine file, so
every finding about an imported recipe names the engine file's line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recipemut.errors import Finding
from recipemut.recipe.model import DocPath, Positions


@dataclass(frozen=True)
class Anchor:
    """Where one operation lives in the engine file, for write-back.

    ``path`` is the engine-document path of the step, task, job or state. ``depends`` is the path
    of the key that lists what it runs after (Argo ``dependencies`` or ``depends``, Tekton
    ``runAfter``, GitHub Actions ``needs``), or ``None`` where order is implicit (Argo steps,
    Step Functions ``Next``) or the key is absent (then ``path`` is where one is added).
    ``depends_style`` says how that key is written: ``"list"`` (a YAML list or one string),
    ``"argo-depends"`` (an expression string), ``"implicit"``. ``concurrency`` is the path of the
    mapping that holds the fan-out's concurrency key (Argo template ``parallelism``, Step Functions
    ``MaxConcurrency``, GitHub Actions ``strategy.max-parallel``), if the operation fans out.
    """

    path: DocPath
    depends: DocPath | None = None
    depends_style: str = "list"
    concurrency: DocPath | None = None


@dataclass
class Imported:
    """A recipe document read from an engine's file."""

    key: str  # "argo", "tekton", "stepfunctions", "serverlessworkflow", "github-actions"
    engine: str  # what to call it in messages: "Argo Workflow", "Tekton Pipeline", ...
    document: dict[str, Any]
    positions: Positions
    warnings: list[Finding] = field(default_factory=list)
    anchors: dict[str, Anchor] = field(default_factory=dict)
    doc_index: int = 0  # which YAML document of a multi-document file the engine object was


__all__ = ["Anchor", "Imported"]
