"""`recipemut import TRACES`: a recipe drafted from logs that have none yet.

Traces (OTLP, Jaeger, Zipkin), native span logs and Parquet logs are read without a recipe
(:func:`recipemut.logs.ingest.read_logs`: every span kept, ``op`` the span's name), the draft is made
by :func:`recipemut.profile.draft.draft_recipe`, and its text is checked by the loader every command
uses. The logs are then read again through the drafted recipe, as ``profile`` will read them, and the
spans that land on none of its operations are said (a client span the default rule gives to the
service it calls, say): the draft is only as good as that count.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recipemut.errors import RecipeInvalid
from recipemut.files.compressed import read_head
from recipemut.files.kinds import input_kind
from recipemut.files.units import counted

#: the formats whose spans name their operation by its id (the others go through the mapping's default rule)
SPAN_LOGS = frozenset({"native", "parquet"})
#: the kinds of file a recipe is drafted from (:class:`~recipemut.files.kinds.InputKind`)
LOG_KINDS = frozenset({"spans", "traces", "parquet"})


def is_log(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a log to draft a recipe from: a folder (of Parquet logs), or a regular file whose
    head says spans, traces or Parquet; a name that is no file (a glob) counts when it holds ``*?[``."""
    p = Path(path)
    if p.is_dir():
        return True
    if not p.exists():
        return any(c in str(p) for c in "*?[")
    if not p.is_file():  # a FIFO or a device is never opened here (a FIFO blocked it): the file reader refuses it
        return False
    try:
        kind = input_kind(read_head(p, 65536))  # gunzipped (zstd too): a compressed log is a log
    except (OSError, ValueError, EOFError):  # unreadable or a broken stream: the engine import says what it is
        return False
    return kind is not None and kind.kind in LOG_KINDS


@dataclass
class DraftResult:
    """A drafted recipe: its text, the logs it came from, and what was said of it."""

    sources: list[Path]
    text: str
    document: dict[str, Any]
    traces: int
    spans: int
    mapped: int  # of ``spans``, those the drafted recipe's operations take when the logs are read through it
    report: Any = None  # the ingest report of the logs read without a recipe (its warnings are the reader's)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": [str(p) for p in self.sources],
            "engine": None,
            "drafted_from": "logs",
            "traces": self.traces,
            "spans": self.spans,
            "spans_mapped": self.mapped,
            "ingest": None if self.report is None else self.report.to_dict(),
            "recipe": self.document,
            "warnings": self.warnings,
            "notes": self.notes,
            "written": None if self.written is None else str(self.written),
        }


def _header(sources: list[Path], formats: set[str], traces: int, spans: int, out: str | None) -> str:
    from recipemut.files.text import safe

    named = safe(", ".join(str(p) for p in sources[:3]) + (f" and {len(sources) - 3} more" if len(sources) > 3 else ""))
    kinds = "/".join(sorted(formats)) or "logs"
    recipe = safe(shlex.quote(out)) if out else "FILE"
    logs = safe(" ".join(shlex.quote(str(p)) for p in sources)) if len(sources) <= 3 else "<these logs>"
    return (
        f"# Drafted by `recipemut import` from {named} ({kinds}: {counted(traces, 'trace')}, "
        f"{counted(spans, 'span')}).\n"
        "# Operations are the traces' (service, span name) pairs. `after` is the order the traces showed\n"
        "# (a call made inside another, or one that began after another had ended in 95% of the traces\n"
        "# holding both), not a data dependency: where you know what a call reads and writes, say it with\n"
        "# fields, consumes and produces. side_effects is `idempotent` throughout because traces cannot\n"
        "# tell: set `external` where a repeated or reordered call does harm (a payment, a write) and `none`\n"
        f"# on a pure read. Check: recipemut validate {recipe}; then: recipemut profile {recipe} --logs {logs}\n"
    )


def _nameable(spans: Any, formats: Mapping[str, str]) -> tuple[Any, str]:
    """The spans without those of span logs (native, Parquet) whose operation no id can be (``Check Stock``):
    such a log names an operation by its id, so no recipe reads them; and the warning that says so."""
    from recipemut.recipe.engines.names import op_id

    if "source_file" not in spans or not spans["op"].size:
        return spans, ""
    logs = {f for f, fmt in formats.items() if fmt in SPAN_LOGS}
    ops = pd.Series(pd.unique(spans["op"].dropna()))
    bad = set(ops[ops.map(op_id) != ops].tolist())
    drop = spans["source_file"].astype(str).isin(logs).to_numpy() & spans["op"].isin(bad).to_numpy()
    if not drop.any():
        return spans, ""
    counts = spans.loc[drop, "op"].value_counts()
    listed = ", ".join(f"{k!r} ({v:,})" for k, v in counts.head(5).items())
    return spans[~drop], (
        f"{counted(int(drop.sum()), 'span')} of operations no recipe id can name left out: {listed}; a span log "
        "names an operation by its id (a letter or _, then letters, digits, _, - or .)"
    )


def _one_service_each(spans: Any, formats: Mapping[str, str]) -> Any:
    """The spans, those of span logs each given its operation's most frequent service: a span log names the
    operation by its id, so one operation logged on two services is one operation (the recipe's service
    is the one most of its spans name; profile warns of the others), not two the default rule would split."""
    logs = spans["source_file"].astype(str).isin(
        {f for f, fmt in formats.items() if fmt in SPAN_LOGS}).to_numpy() if "source_file" in spans else None
    if logs is None or not logs.any():
        return spans
    pairs = spans.loc[logs, ["op", "service"]].value_counts(dropna=False).reset_index()
    top = pairs.drop_duplicates("op").set_index("op")["service"]  # value_counts sorts: the first is the most
    spans = spans.copy()
    spans.loc[logs, "service"] = spans.loc[logs, "op"].map(top).to_numpy()
    return spans


def _one_recipe(spans: Any) -> tuple[str | None, list[str]]:
    """The recipe most spans name (native logs carry one), and a note of the others left out."""
    if "recipe" not in spans or not spans["recipe"].notna().any():
        return None, []
    counts = spans["recipe"].value_counts()
    top = str(counts.index[0])
    others = counts.iloc[1:]
    if others.empty:
        return top, []
    listed = ", ".join(f"{k} ({v:,} spans)" for k, v in others.head(5).items())
    return top, [f"drafted recipe {top!r}, the one most spans name; left out: {listed}"]


#: what YAML 1.2 reads as a number, which PyYAML (YAML 1.1) writes unquoted: ``1e3``, ``4038e79168401237``
_NUMBER_12 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+"
                        r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")  # fmt: skip


def _text_node(dumper: Any, value: str) -> Any:
    """A string as PyYAML writes it, but quoted where the recipe reader (YAML 1.2) would read a number."""
    style = "'" if _NUMBER_12.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Flow(list[str]):
    """A list written in YAML's flow style (``after: [a, b]``), in a document written in block style."""


def _yaml(document: dict[str, Any]) -> str:
    """The draft as YAML: block style, but for ``after`` lists (``after: [get]``), as recipes are written."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
    Dumper.add_representer(str, _text_node)
    ops = [{k: _Flow(v) if k == "after" else v for k, v in o.items()} for o in document["operations"]]
    text = yaml.dump({**document, "operations": ops}, Dumper=Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=False, width=100)  # fmt: skip
    return str(text)


def draft_from_logs(
    paths: Sequence[str | os.PathLike[str]], *, out: str | os.PathLike[str] | None = None, log_format: str = "auto",
    force: bool = False,
) -> DraftResult:
    """Draft a recipe from the logs at ``paths``; with ``out``, write it there (atomically, never over a log).

    Raises what the log reader raises, and :class:`~recipemut.errors.RecipeInvalid` if the draft does not
    pass the loader (a bug: it is made to)."""
    from recipemut.errors import LogError
    from recipemut.files.kinds import RECIPE
    from recipemut.files.write import atomic_write, check_output_path
    from recipemut.profile.draft import draft_recipe
    from recipemut.recipe.engines.names import op_id
    from recipemut.recipe.loader import check_text
    from recipemut.usecases.importing import refuse_written_recipe
    from recipemut.usecases.inputs import LogSource

    source = LogSource.of(list(paths), log_format=log_format)
    if out is not None:
        check_output_path(out, option="--out", inputs=source.input_files(), example="recipe.yaml", kind=RECIPE)
        refuse_written_recipe(out, force=force)
    spans, report = source.read()
    first = Path(paths[0])
    name = (first.resolve().name if first.is_dir() else first.name.split(".")[0]).strip("*?[]")
    named, notes = _one_recipe(spans)  # span logs name their recipe: the draft is of one, and keeps its name
    if named is not None:
        if op_id(named) != named:
            raise LogError(
                f"the spans name their recipe {named!r}, which no recipe can be called (a letter or _, then "
                "letters, digits, _, - or .): no recipe reads these spans; log a recipe name such as "
                f"{op_id(named)!r}", file=str(first), code="bad-recipe-name",
            )  # fmt: skip
        spans = spans[spans["recipe"].isna().to_numpy() | (spans["recipe"] == named).to_numpy()]
        name = named
    spans, unnamable = _nameable(spans, report.formats)
    spans = _one_service_each(spans, report.formats)
    warnings: list[str] = [unnamable] if unnamable else []
    draft = draft_recipe(spans, name=op_id(name or "drafted"), source=str(first))
    if "recipe_version" in spans and spans["recipe_version"].notna().any():  # the version the logs were of
        draft.document["version"] = max(1, int(spans["recipe_version"].value_counts().index[0]))
    body = _yaml(draft.document)
    head = _header(list(map(Path, paths)), set(report.formats.values()), draft.traces, draft.spans,
                   None if out is None else str(out))  # fmt: skip
    text = head + body
    recipe, findings = check_text(text, file=str(out or "<draft>"))
    errors = [f for f in findings if f.severity == "error"]
    if recipe is None or errors:
        raise RecipeInvalid(errors or findings)
    # a span log names each span's operation by its drafted id; traces go through the default rule, so they are
    # read again through the draft, as profile will read them
    span_logs = set(report.formats.values()) <= SPAN_LOGS
    mapped = draft.spans if span_logs else int(source.read(recipe)[1].spans_kept)
    if mapped < draft.spans:
        warnings.append(f"{draft.spans - mapped:,} of the {counted(draft.spans, 'span')} land on no operation of the "
                        "draft when read through it: the notes above say which (a client span is given to the service "
                        "it calls)")  # fmt: skip
    result = DraftResult(
        sources=list(map(Path, paths)), text=text, document=draft.document, traces=draft.traces,
        spans=draft.spans, mapped=mapped, report=report, warnings=warnings, notes=[*notes, *draft.notes],
    )  # fmt: skip
    if out is not None:
        refuse_written_recipe(out, force=force, text=text)
        atomic_write(out, text.encode("utf-8"), what="recipe")
        result.written = Path(out)
    return result


__all__ = ["LOG_KINDS", "DraftResult", "draft_from_logs", "is_log"]
