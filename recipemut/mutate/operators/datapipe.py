"""``datapipe``: change how a field travels (format, compression), or stop sending a field nobody reads.

Needs a profile: the effect comes from the per-operation latency-vs-bytes fits of
:mod:`recipemut.predict.bytesmodel` (R² threshold ``bytesmodel.MIN_R2``), its format table (overridable in
the recipe's ``formats:``) and its attribution of an operation's bytes to its fields.

Two kinds of candidate:

* **format** (``datapipe:<field>=<format>+<compression>``): for a payload field (type object, array
  or bytes, or any field with a ``format``) produced by an operation and neither produced nor
  consumed by a ``frozen`` one, every (format, compression) pair of the table is scored by the
  predicted mean latency change summed over its producer and consumers
  (:func:`recipemut.predict.bytesmodel.summed_delta`: bytes savings only where an op's fit is good, codec
  costs always; the per-request change summed from the profile's bytes per operation, summed once per
  profile, so a pair costs a few float operations, not a pass over the requests). The best pair is
  proposed when at least one touched operation has a good fit and the predicted saving is at least
  ``datapipe_min_saving_ms`` (1 ms). Edits: ``fields.<name>.format`` and ``fields.<name>.compression`` set.
* **format, on a file** (a ``type: bytes`` field: an upload, an image, a video, an archive): a file
  has no serialisation format to change, so its ``format`` is never changed, and the table's
  compression ratios are figures for serialised documents, while already compressed media barely
  shrinks. Such a field gets a candidate only when it declares its content compressible, its
  ``format`` naming a serialisation format of the table (``json``, ``protobuf``, ... or one added
  under ``formats:``; :func:`recipemut.recipe.transfer.compressible`): then only the compression is
  scored, the format written back as it is. A ``bytes`` field without such a ``format`` gets no
  candidate; the reason (:func:`not_proposed`, the operator's ``why_not`` in the registry) is shown
  by ``suggest --explain`` and kept in its report, and logged at ``info`` level (``RECIPEMUT_LOG=info``).
* **drop** (``datapipe:drop:<op>.<field>``): a field an operation produces that no operation consumes
  and that is not an output, when the producer is not ``frozen``, its fit is good and the predicted
  saving is at least ``datapipe_min_saving_ms``. Edit: the
  field is removed from the producer's ``produces`` (its declaration in ``fields`` stays, so the
  change is one line and reversible). An operation left producing nothing can then be considered
  by ``eliminate``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import MappingProxyType

from recipemut.files.units import ms_text
from recipemut.mutate.mutation import STRING, EditForm, EditShape, Mutation, mutate, target
from recipemut.mutate.operators._base import OperatorContext, make_mutation
from recipemut.predict.bytesmodel import byte_sums, summed_delta
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import Recipe
from recipemut.recipe.transfer import (
    OPAQUE_TYPE,
    PAYLOAD_TYPES,
    FormatCost,
    codec_of,
    compressible,
    formats_and_compressions,
    table,
)

log = logging.getLogger(__name__)

NAME = "datapipe"
SUMMARY = "change a field's transfer format/compression, or stop sending a field nobody consumes (latency-vs-bytes fit)"

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`; a test checks every candidate on the shipped examples).
#: Format: targets ``(field, *operations touching it)``. Drop: targets ``(operation, field)``.
EDITS = (
    EditForm(("field",), (
        EditShape("set", ("fields", target(0), "format"), STRING, required=True),
        EditShape("set", ("fields", target(0), "compression"), STRING, required=True),
    ), more="operation"),
    EditForm(("operation", "field"), (
        EditShape("remove", ("operations", target(0), "produces", target(1)), required=True),
    )),
)


def _touching(r: Recipe, f: str) -> list[str]:
    return [op.id for op in r.operations if f in op.produces or f in op.consumes]


def _fits_text(ctx: OperatorContext, ops: list[str]) -> str:
    parts = []
    for o in ops:
        fit = ctx.bytes_fits.get(o)
        if fit is None:
            parts.append(f"`{o}`: no fit")
        else:
            parts.append(f"`{o}`: {fit.describe()}{'' if fit.good else ' (poor fit: no saving claimed)'}")
    return "; ".join(parts)


def _opaque_reason(r: Recipe, f: str, tbl: dict[str, FormatCost]) -> str | None:
    """Why a produced ``bytes`` field gets no format candidate (None: it may get one)."""
    spec = r.fields[f]
    if f not in r.producers or spec.type != OPAQUE_TYPE or compressible(spec, tbl):
        return None
    declared = (
        "no `format`" if spec.format is None else f"`format: {spec.format}`, not a serialisation format of the table"
    )
    return (
        f"`{f}` is a file (type bytes, {declared}): it has no serialisation format to change, and already "
        f"compressed data (images, video, archives) barely shrinks, so no compression saving is claimed; "
        f"declare its content's format (e.g. `format: json`) if it is a compressible document"
    )


def not_proposed(ctx: OperatorContext) -> dict[str, str]:
    """Fields that get no format candidate whatever the logs say, and why (today: opaque ``bytes`` files)."""
    tbl = table(ctx.recipe.formats)
    reasons = {f: _opaque_reason(ctx.recipe, f, tbl) for f in ctx.recipe.fields}
    return {f: why for f, why in reasons.items() if why is not None}


def _format_candidates(ctx: OperatorContext) -> list[Mutation]:
    r, p = ctx.recipe, ctx.profile
    assert p is not None
    tbl = table(r.formats)
    formats, compressions = formats_and_compressions(tbl)
    sums = byte_sums(p)  # once per call: every pair below is scored from them
    n = max(p.n_requests, 1)
    out: list[Mutation] = []
    for why in not_proposed(ctx).values():
        log.info("datapipe proposes no format or compression change: %s.", why)
    for f, spec in r.fields.items():
        if f not in r.producers or (spec.type not in PAYLOAD_TYPES and spec.format is None):
            continue
        if not compressible(spec, tbl):
            continue  # an opaque file: see not_proposed
        ops = _touching(r, f)
        if any(o in ctx.frozen for o in ops) or not any(ctx.bytes_fits.get(o) and ctx.bytes_fits[o].good for o in ops):
            continue
        current = codec_of(spec)
        # a file declared compressible keeps its content's format: only its compression may change
        best: tuple[float, str, str, float] | None = None
        for fmt in (current[0],) if spec.type == OPAQUE_TYPE else formats:
            for comp in compressions:
                if (fmt, comp) == current:
                    continue
                # the recipe with only this field's codec changed (the same as applying the edits below)
                cand = replace(r, fields=MappingProxyType({**r.fields, f: replace(spec, format=fmt, compression=comp)}))
                d = summed_delta(r, cand, p, ctx.bytes_fits, tbl=tbl, only=ops, sums=sums)
                saving = -float(sum(d.latency_ms.values())) / n
                dbytes = float(sum(d.bytes.values())) / n
                if best is None or saving > best[0]:
                    best = (saving, fmt, comp, dbytes)
        if best is None or best[0] < float(ctx.option("datapipe_min_saving_ms")):
            continue
        saving, fmt, comp, dbytes = best
        edits = [Edit("set", ("fields", f, "format"), fmt), Edit("set", ("fields", f, "compression"), comp)]
        over = ", ".join(f"`{o}`" for o in ops)
        if spec.type == OPAQUE_TYPE:
            what = f"compress `{f}` with {comp} instead of {current[1]} (a file whose declared `format: {fmt}` stays)"
        else:
            what = f"send `{f}` as {fmt}+{comp} instead of {current[0]}+{current[1]}"
        reason = (
            f"{what}: by the format table it changes "
            f"the bytes its {len(ops)} operations handle by {dbytes:+,.0f} bytes per request, and the latency-vs-bytes "
            f"fits predict {ms_text(-saving, signed=True)} per request summed over {over} ({_fits_text(ctx, ops)})"
        )
        out.append(make_mutation(ctx, NAME, f"{f}={fmt}+{comp}", (f, *ops), reason + ".", edits))
    return out


def _drop_candidates(ctx: OperatorContext) -> list[Mutation]:
    r, p = ctx.recipe, ctx.profile
    assert p is not None
    consumed = {f for op in r.operations for f in op.consumes}
    sums = byte_sums(p)
    n = max(p.n_requests, 1)
    out: list[Mutation] = []
    for op_id in r.topo_order:
        op = r.ops[op_id]
        fit = ctx.bytes_fits.get(op_id)
        if op_id in ctx.frozen or fit is None or not fit.good:
            continue
        for f in op.produces:
            if f in consumed or f in r.outputs:
                continue
            edits = [Edit("remove", ("operations", op_id, "produces", f))]
            cand = mutate(dict(ctx.doc), edits)
            d = summed_delta(r, cand, p, ctx.bytes_fits, sums=sums)
            saving = -d.latency_ms[op_id] / n if op_id in d.latency_ms else 0.0
            dbytes = d.bytes[op_id] / n if op_id in d.bytes else 0.0
            if saving < float(ctx.option("datapipe_min_saving_ms")):
                continue
            reason = (
                f"`{op_id}` produces `{f}`, which no operation consumes and is not an output: stop sending it "
                f"({dbytes:+,.0f} bytes per request; the fit of `{op_id}` ({fit.describe()}) "
                f"predicts {ms_text(-saving, signed=True, decimals=2)})"
            )
            out.append(make_mutation(ctx, NAME, f"drop:{op_id}.{f}", (op_id, f), reason + ".", edits))
    return out


def generate(ctx: OperatorContext) -> list[Mutation]:
    """Format candidates (one per field, the best pair) then drop candidates."""
    if ctx.profile is None:
        return []
    return _format_candidates(ctx) + _drop_candidates(ctx)
