"""The `generate` flow: find the generation parameters, check the output, generate and write the log
in the format its name says (:data:`WRITTEN`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipemut.errors import InputFileError
from recipemut.files.write import check_output_path
from recipemut.loggen import generate_spans, load_params, write_jsonl
from recipemut.recipe.loader import load_recipe
from recipemut.usecases.overwrite import refuse_existing

#: what ``--out``'s name may end with, and the format written
WRITTEN = {".jsonl": "JSON lines", ".jsonl.gz": "gzip JSON lines", ".jsonl.zst": "zstd JSON lines",
           ".parquet": "Parquet (as convert writes it)"}  # fmt: skip


def written_suffix(out: Path) -> str:
    """The suffix of :data:`WRITTEN` ``out`` ends with (any case), else one
    :class:`~recipemut.errors.InputFileError` listing them.

    >>> written_suffix(Path("g.JSONL.gz"))
    '.jsonl.gz'
    """
    name = out.name.lower()
    for suffix in sorted(WRITTEN, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    raise InputFileError(
        f"--out {out}: generate writes a file named *.jsonl, *.jsonl.gz, *.jsonl.zst or *.parquet (the format "
        "is taken from the name)",
        code="out",
    )


@dataclass(frozen=True)
class Traffic:
    """What to generate: the window, its shape and sampling (the command's options, once parsed)."""

    requests: int
    start_ms: float
    days: float
    growth: float = 0.0
    diurnal: float = 0.6
    weekly: float = 0.0
    sample_rate: float | None = None
    canary: float | None = None
    treatment: Mapping[str, float] | None = None
    seed: int = 0


def find_params(recipe_path: Path, params: Path | None) -> Path | None:
    """``--params`` when given, else ``loggen.yaml`` beside the recipe when there is one."""
    if params is None and (recipe_path.parent / "loggen.yaml").is_file():
        return recipe_path.parent / "loggen.yaml"
    return params


def generate_log(
    recipe_path: Path, out: Path, traffic: Traffic, *, params: Path | None, warn: Callable[[str], None],
    force: bool = False,
) -> dict[str, Any]:
    """Generate ``traffic`` through the recipe and write it to ``out`` (atomically) in the format its
    name says (:func:`written_suffix`); the summary document. ``out`` is checked before anything is
    generated: a file already there is refused unless ``force``
    (:func:`~recipemut.usecases.overwrite.refuse_existing`).

    ``warn`` receives a sentence when there are no generation parameters (a stronger one when a canary
    with a recipe of its own would be tried on them).
    """
    recipe = load_recipe(recipe_path)
    params = find_params(recipe_path, params)
    loaded = load_params(params) if params is not None else None
    check_output_path(
        out, recipes=[recipe_path], inputs={params: "the generation parameters"} if params is not None else {},
        example="logs.jsonl",
    )
    suffix = written_suffix(out)
    refuse_existing(out, force=force)
    if params is None and any(v.recipe and (traffic.canary is None or v.name == "canary") for v in recipe.variants):
        # Without parameters every operation is the generic default while a substituted one takes its
        # catalogue prior: the canary then looks worse or better for reasons no log of the system shows.
        warn(
            f"no generation parameters (no loggen.yaml beside {recipe_path}, no --params): every operation takes "
            "the generic defaults (20 ms median, light tail) and a substituted one its catalogue prior, so the "
            "canary's mutations are tried on an invented system, not the one its plan was fitted to; pass "
            "--params to judge them"
        )
    elif params is None:  # what the docs promise: the log then describes an invented system, say so
        warn(
            f"no generation parameters (no loggen.yaml beside {recipe_path}, no --params): the log describes an "
            "invented system where every operation takes the generic defaults (20 ms median, light tail) and no "
            "input value repeats (no cache key recurs); write a loggen.yaml beside the recipe or pass --params "
            "(docs/commands/generate.md)"
        )
    df = generate_spans(
        recipe,
        traffic.requests,
        seed=traffic.seed,
        params=loaded,
        start_ms=traffic.start_ms,
        duration_s=traffic.days * 86400.0,
        diurnal_amplitude=traffic.diurnal,
        weekly_amplitude=traffic.weekly,
        growth_per_day=traffic.growth,
        variants={"canary": traffic.canary} if traffic.canary is not None else None,
        treatment={"canary": dict(traffic.treatment)} if traffic.treatment else None,
        sample_rate=traffic.sample_rate,
    )
    spans = write_parquet(df, out) if suffix == ".parquet" else write_jsonl(df, out)
    return {
        "out": str(out),
        "recipe": recipe.name,
        "spans": spans,
        "requests": int(df["request_id"].nunique()),
        "params": str(params) if params is not None else None,
        "seed": traffic.seed,
    }


def write_parquet(df: Any, out: Path) -> int:
    """The generated spans as the Parquet file ``convert`` writes of their JSONL (sorted by request,
    :func:`~recipemut.usecases.partition.write_file`), so ``profile`` gives the figures it gives of
    the JSONL: the lines go to a temporary file beside ``out``, named ``OUT (generated)`` in the file's
    ``source_file``, removed once converted. Returns the rows written."""
    import tempfile

    from recipemut.usecases.inputs import LogSource
    from recipemut.usecases.partition import write_file

    folder = out.parent if str(out.parent) else Path(".")
    try:
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.", suffix=".generate", dir=folder) as tmp:
            lines = Path(tmp) / "spans.jsonl"
            write_jsonl(df, lines)
            source = LogSource(paths=(lines,), memory_budget="off")  # every generated request: no sample
            got = write_file(source, out, names={str(lines): f"{out} (generated)"})
    except OSError as e:
        raise InputFileError(
            f"cannot write the Parquet file: {e.strerror or e}; nothing was changed", file=str(out), code="write"
        ) from None
    return got.rows
