"""Which engine's run history a file is, told from its first bytes (JSON or YAML, gunzipped already).

* ``argo``: an Argo Workflow object with ``status.nodes`` (``argo get -o json``, ``kubectl get wf
  -o yaml``, one object, a list, or a ``kind: List``): ``apiVersion: argoproj.io/...`` with
  ``kind: Workflow``, or node keys (``displayName`` with ``templateName``/``boundaryID``) and
  ``nodes``, or the controller's ``workflows.argoproj.io/phase`` (``completed``) label, or
  ``metadata`` with ``entrypoint`` and ``templates`` (a long spec before the status, no type meta);
* ``tekton``: PipelineRun/TaskRun objects: ``apiVersion: tekton.dev/...`` with one of those kinds,
  or the keys of their status (``childReferences``, ``pipelineTaskName``, ``podName``) beside
  ``conditions``, or the controller's ``tekton.dev/pipelineRun`` (``pipelineTask``) labels;
* ``stepfunctions``: a ``GetExecutionHistory`` response: ``events`` holding ``previousEventId``
  or an ``ExecutionStarted`` / ``...StateEntered`` event type;
* ``github-actions``: a run's jobs (``gh api repos/O/R/actions/runs/ID/jobs``): ``jobs`` whose
  items have ``run_id`` with ``run_attempt``, ``runner_name`` or ``check_run_url``.

Definitions (an Argo Workflow without ``status``, a Pipeline) are not histories; their readers say so.

>>> sniff(b'{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "status": {"nodes": {}}}')
'argo'
>>> sniff(b"apiVersion: v1\\nitems:\\n- apiVersion: tekton.dev/v1\\n  kind: PipelineRun\\n")
'tekton'
>>> sniff(b'{"events": [{"id": 1, "previousEventId": 0, "type": "ExecutionStarted"}]}')
'stepfunctions'
>>> sniff(b'{"total_count": 1, "jobs": [{"id": 3, "run_id": 2, "run_attempt": 1}]}'), sniff(b'{"op": "a"}')
('github-actions', None)
"""

from __future__ import annotations

import re

_KEY = re.compile(rb'"([A-Za-z_]+)"\s*:')
_YAML_KEY = re.compile(rb"^[ \t-]*([A-Za-z_]+):", re.MULTILINE)
_ARGO_API = re.compile(rb"""["']?apiVersion["']?\s*:\s*["']?argoproj\.io/""")
#: Workflow, and the definitions given by mistake (their reader says they are not histories)
_ARGO_KIND = re.compile(rb"""["']?kind["']?\s*:\s*["']?(?:Cluster)?(?:Workflow|WorkflowTemplate|CronWorkflow)\b""")
_TEKTON_API = re.compile(rb"""["']?apiVersion["']?\s*:\s*["']?tekton\.dev/""")
_TEKTON_KIND = re.compile(rb"""["']?kind["']?\s*:\s*["']?(?:PipelineRun|TaskRun)\b""")
#: labels the engines' controllers put on every run: a tell even when a long spec comes first
_ARGO_LABEL = re.compile(rb"workflows\.argoproj\.io/(?:phase|completed|workflow)\b")
_TEKTON_LABEL = re.compile(rb"tekton\.dev/(?:pipelineRun|pipelineTask|taskRun)\b")
_SFN_TYPE = re.compile(rb"""["']?type["']?\s*:\s*["']?(?:ExecutionStarted|[A-Za-z]+StateEntered)\b""")

#: sniff also knows an Argo or Tekton *definition* (its reader says it is no history); a run has a status
_STATUS = re.compile(rb"""["']?status["']?\s*:""")
_STATUS_KEYS = {
    "argo": (_STATUS, re.compile(rb"""["']?nodes["']?\s*:""")),
    "tekton": (_STATUS, re.compile(rb"""["']?(?:conditions|childReferences)["']?\s*:""")),
}

#: what each format is called in messages
LABELS = {
    "argo": "Argo run history",
    "tekton": "Tekton run history",
    "stepfunctions": "Step Functions execution history",
    "github-actions": "GitHub Actions run jobs",
}


def sniff(head: bytes) -> str | None:
    """The run-history format of a file's first bytes, or ``None``."""
    text = head[:65536]
    keys = set((_KEY if text[:1] in (b"{", b"[") else _YAML_KEY).findall(text))
    if (
        (_ARGO_API.search(text) and _ARGO_KIND.search(text))
        or (b"nodes" in keys and b"displayName" in keys and keys & {b"templateName", b"boundaryID"})
        or _ARGO_LABEL.search(text)
        or {b"metadata", b"entrypoint", b"templates"} <= keys  # argo get -o json: no type meta, spec first
    ):
        return "argo"
    if (
        (_TEKTON_API.search(text) and _TEKTON_KIND.search(text))
        or (b"conditions" in keys and keys & {b"childReferences", b"pipelineTaskName", b"podName"})
        or _TEKTON_LABEL.search(text)
    ):
        return "tekton"
    if b"events" in keys and (b"previousEventId" in keys or _SFN_TYPE.search(text)):
        return "stepfunctions"
    if b"jobs" in keys and b"run_id" in keys and keys & {b"run_attempt", b"runner_name", b"check_run_url"}:
        return "github-actions"
    return None


def is_definition(kind: str, head: bytes) -> bool:
    """Whether ``head``, which :func:`sniff` calls ``kind``, is an Argo or Tekton definition (no run's
    status): a workflow file, not a history.

    >>> is_definition("argo", b"apiVersion: argoproj.io/v1alpha1\\nkind: Workflow\\nspec: {}\\n")
    True
    """
    return kind in _STATUS_KEYS and not all(k.search(head) for k in _STATUS_KEYS[kind])


def run_history_words(head: bytes) -> str | None:
    """The run history a file's first bytes (plain or gzip) open, in words for
    a message saying where it goes (``holds an Argo run history (a log), not a plan``): ``"an Argo run
    history"``, ``"GitHub Actions run jobs"``...; ``None`` for anything else, an Argo or Tekton
    definition (a workflow file, no run's status) included. Traces are told by every reader already
    (:func:`recipemut.files.kinds.input_kind`); a run history only where a file fails as a recipe or a
    plan: a Tekton PipelineRun with a status is both a run and an importable recipe.

    >>> run_history_words(b'{"events": [{"id": 1, "previousEventId": 0}]}'), run_history_words(b'{"op": "a"}')
    ('a Step Functions execution history', None)
    """
    from recipemut.files.compressed import gunzip_head, is_gzip

    text = (gunzip_head(head) if is_gzip(head) else head).lstrip(b"\xef\xbb\xbf \t\r\n")
    fmt = sniff(text)
    if fmt is None or is_definition(fmt, text):
        return None
    label = LABELS[fmt]
    return label if label.endswith("s") else f"an {label}" if label[:1] in "AEIOU" else f"a {label}"


__all__ = ["LABELS", "is_definition", "run_history_words", "sniff"]
