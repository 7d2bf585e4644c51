"""The `generate` flow: find the generation parameters, check the output, generate and write the log."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipemut.files.write import check_output_path
from recipemut.loggen import generate_spans, load_params, write_jsonl
from recipemut.recipe.loader import load_recipe


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
    recipe_path: Path, out: Path, traffic: Traffic, *, params: Path | None, warn: Callable[[str], None]
) -> dict[str, Any]:
    """Generate ``traffic`` through the recipe and write it to ``out`` (atomically); the summary document.

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
    spans = write_jsonl(df, out)
    return {
        "out": str(out),
        "recipe": recipe.name,
        "spans": spans,
        "requests": int(df["request_id"].nunique()),
        "params": str(params) if params is not None else None,
        "seed": traffic.seed,
    }
