"""Apply a reviewed plan, start a canary, roll back: every write locked, atomic and in the history.

Each write is one transaction under the recipe's lock (:func:`recipemut.files.write.locked`):

1. read the recipe's bytes and its history, and verify the history (a history that does not
   verify stops everything: the recipe is never written on its strength);
2. reconcile the file with the history (:func:`recipemut.apply.history.recipe_state`): an interrupted
   earlier write is recorded as a ``recover`` entry; a hand edit since the last write is refused
   unless ``force``, which records the edited text as a ``hand-edit`` entry first; a read-only
   recipe (:func:`read_only_mode`) is refused unless ``force`` too, before anything is written;
3. compute the new text (pure functions below), validate it as a recipe;
4. write the whole history (with the new entry carrying the texts before and after), then the
   recipe, each with :func:`recipemut.files.write.atomic_write`.

A crash at any moment leaves a recipe equal to a text the history records (see ``history.py``).

``apply`` sets ``version`` to one more than any version the history has seen, so a version number
names one text: a rollback restores an old text with its old number, and the next apply never
reuses a number.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipemut.apply.history import (
    Action,
    Entry,
    decode,
    encode,
    held_text,
    history_path,
    max_version,
    new_entry,
    read_history,
    recipe_state,
    recorded_as,
    redo_note,
    sha256_text,
    text_of_version,
    what_of,
    write_history,
)
from recipemut.errors import HistoryError, InputFileError, MutationError, PlanError, RecipeInvalid, RecipemutError
from recipemut.files.write import DEFAULT_LOCK_TIMEOUT_S, atomic_write, locked, remove_stale_temps, unlocked_answer
from recipemut.plan.check import check_plan_edits
from recipemut.plan.planfile import Plan, PlannedMutation
from recipemut.recipe.edits import Edit
from recipemut.recipe.linediff import unified_diff
from recipemut.recipe.roundtrip import YamlSyntaxError
from recipemut.recipe.yamlio import apply_edits_to_text

log = logging.getLogger(__name__)

#: the name of the variant ``apply --canary`` writes
CANARY = "canary"


class UnsavedEdit(RecipemutError):
    """The recipe was changed by hand since the last recorded write; ``--force`` saves it first."""


@dataclass(frozen=True)
class WriteResult:
    """What a write did (or, with ``written=False``, would do)."""

    action: str
    recipe: str
    version_before: int | None
    version: int | None
    sha256_before: str
    sha256_after: str
    diff: str
    written: bool
    mutations: tuple[str, ...] = ()
    entries: tuple[Entry, ...] = ()  # the history entries appended (recover / hand-edit first)
    notes: tuple[str, ...] = ()
    reason: str | None = None  # what the write does, as recorded in its history entry
    advice: tuple[str, ...] = ()  # mutations an engine's file cannot express, left out of the write

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "recipe": self.recipe,
            "written": self.written,
            "version_before": self.version_before,
            "version": self.version,
            "sha256_before": self.sha256_before,
            "sha256_after": self.sha256_after,
            "mutations": list(self.mutations),
            "history_entries": [e.seq for e in self.entries],
            "notes": list(self.notes),
            "reason": self.reason,
            "advice": list(self.advice),
            "diff": self.diff,
        }


# ---- pure helpers ------------------------------------------------------------------------------


def _parse(text: str, source: str) -> Any:
    """Plain data of a YAML text, read the way the recipe loader reads it (YAML 1.2 numbers, ...).

    A text holding bytes that are not UTF-8 (kept as surrogate escapes by :func:`recipemut.apply.history.decode`)
    raises the loader's one-line :class:`~recipemut.errors.InputFileError`.
    """
    from recipemut.files.read import decode_text
    from recipemut.recipe.loader import parse_recipe_yaml

    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        decode_text(encode(text), file=source)  # raises, naming the first offending byte
        raise  # pragma: no cover - decode_text refuses every text that does not encode
    try:
        data, _positions, _findings = parse_recipe_yaml(text, file=source)
    except RecipeInvalid as e:
        raise YamlSyntaxError(e.message, file=e.file or source, line=e.line, column=e.column, code=e.code) from None
    return data


def version_of(text: str) -> int | None:
    """The ``version`` of a recipe text, or ``None`` when it has none (or does not parse)."""
    try:
        doc = _parse(text, "<recipe>")
    except RecipemutError:
        return None
    v = doc.get("version") if isinstance(doc, Mapping) else None
    v = int(v) if isinstance(v, float) and v.is_integer() else v  # `version: 4.0` is 4, as the loader reads it
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def plain_doc(text: str, *, source: str = "<recipe>") -> dict[str, Any]:
    """A recipe text as plain data (dicts, lists, scalars)."""
    doc = _parse(text, source)
    if not isinstance(doc, dict):
        raise MutationError("the recipe document is not a mapping", file=source, line=1, code="bad-document")
    return doc


def validate_text(text: str, *, source: str, what: str) -> None:
    """Refuse a text that is not a valid recipe; ``what`` says how it was made (for the message)."""
    from recipemut.recipe.loader import load_recipe_text

    try:
        load_recipe_text(text, file=source)
    except RecipeInvalid as e:
        first = e.findings[0] if e.findings else None
        detail = f"{first.message} [{first.code}]" if first else "invalid"
        at = f" (line {first.line} of the result)" if first and first.line else ""
        more = f" and {len(e.findings) - 1} more" if len(e.findings) > 1 else ""
        raise MutationError(f"{what} would make the recipe invalid: {detail}{at}{more}; nothing was written",
                            file=source, code="invalid-result") from None


def plan_text(text: str, mutations: Sequence[PlannedMutation], new_version: int, *, source: str = "<recipe>") -> str:
    """The recipe text after the mutations' edits, with ``version`` set to ``new_version``."""
    edits = [e for m in mutations for e in m.edits]
    return apply_edits_to_text(text, [*edits, Edit("set", ("version",), new_version)], source=source)


def canary_text(
    text: str, mutated_text: str, share: float, new_version: int, *, name: str = CANARY, source: str = "<recipe>"
) -> str:
    """The recipe text with a ``variants`` section sending ``share`` of requests to ``mutated_text``.

    The primary recipe is unchanged apart from ``version`` and ``variants``.
    """
    if not 0 < share < 1:
        raise MutationError(f"canary share must be in (0, 1), got {share:g}", code="bad-share")
    variant = plain_doc(mutated_text, source=source)
    variant.pop("variants", None)
    variant["version"] = new_version
    edits = [Edit("set", ("variants",), [{"name": name, "share": share, "recipe": variant}]),
             Edit("set", ("version",), new_version)]
    return apply_edits_to_text(text, edits, source=source)


def diff_edits(a: Any, b: Any, path: tuple[str | int, ...] = ()) -> list[Edit]:
    """The fewest edits (by this simple recursion) that turn document ``a`` into ``b``.

    Mappings are compared key by key; lists of mappings with ``id`` item by item when, after the
    removed items, the ids line up; anything else is set whole.

    >>> diff_edits({"a": 1, "ops": [{"id": "x", "n": 1}, {"id": "y"}]}, {"a": 1, "ops": [{"id": "x", "n": 2}]})
    [Edit(op='remove', path=('ops', 'y'), value=None), Edit(op='set', path=('ops', 'x', 'n'), value=2)]
    """
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[Edit] = [Edit("remove", (*path, k)) for k in a if k not in b]
        for k, v in b.items():
            out += diff_edits(a[k], v, (*path, k)) if k in a else [Edit("set", (*path, k), v)]
        return out
    ids_a = _ids(a)
    ids_b = _ids(b)
    if ids_a is not None and ids_b is not None:
        gone = [i for i in ids_a if i not in ids_b]
        kept = [i for i in ids_a if i in ids_b]
        if kept == ids_b:
            by_a = {x["id"]: x for x in a}
            out = [Edit("remove", (*path, i)) for i in gone]
            for x in b:
                out += diff_edits(by_a[x["id"]], x, (*path, x["id"]))
            return out
    return [Edit("set", path, b)]


def _ids(v: Any) -> list[str] | None:
    if not isinstance(v, list) or not all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in v):
        return None
    ids = [x["id"] for x in v]
    return ids if len(set(ids)) == len(ids) else None


def promoted_text(text: str, variant_name: str, new_version: int, *, source: str = "<recipe>") -> str:
    """The recipe text where the variant replaces the primary (comments kept where nothing changed)."""
    doc = plain_doc(text, source=source)
    variants = doc.get("variants") or []
    variant = next((v for v in variants if isinstance(v, Mapping) and v.get("name") == variant_name), None)
    if variant is None:
        raise MutationError(f"no variant named {variant_name!r} to promote", file=source, code="no-variant")
    target = dict(variant.get("recipe") or {})
    target["version"] = new_version
    current = {k: v for k, v in doc.items() if k != "variants"}
    edits = [Edit("remove", ("variants",)), *diff_edits(current, target)]
    return apply_edits_to_text(text, edits, source=source)


def without_variants_text(text: str, new_version: int, *, source: str = "<recipe>") -> str:
    """The recipe text with its ``variants`` section removed and ``version`` set."""
    doc = plain_doc(text, source=source)
    edits = [Edit("remove", ("variants",))] if "variants" in doc else []
    return apply_edits_to_text(text, [*edits, Edit("set", ("version",), new_version)], source=source)


def structure_violations(original: str, mutated: str, *, source: str, what: str) -> list[str]:
    """:func:`validate_text` of ``mutated``, and the constraints of ``original`` (read first) it breaks."""
    from recipemut.recipe.constraints import check_structure
    from recipemut.recipe.loader import load_recipe_text

    try:  # first: a warning the file and the result share is said of the file (the loader says each once)
        before = [load_recipe_text(original, file=source)]
    except RecipeInvalid:  # the original is not a valid recipe: the result is validated on its own
        before = []
    validate_text(mutated, source=source, what=what)
    return [v for b in before for v in check_structure(b, load_recipe_text(mutated, file=source, quiet=True))]


def mutation_records(mutations: Sequence[PlannedMutation]) -> list[dict[str, Any]]:
    """How mutations are recorded in a history entry."""
    return [
        {"id": m.id, "operator": m.operator, "description": m.description,
         "predicted": dict(m.predicted) if m.predicted else None}
        for m in mutations
    ]


# ---- the transaction ---------------------------------------------------------------------------


def _read_recipe(path: Path) -> bytes:
    from recipemut.files.read import read_user_file
    from recipemut.recipe.loader import MAX_RECIPE_BYTES

    return read_user_file(path, max_bytes=MAX_RECIPE_BYTES, what="recipe")  # no device, FIFO or directory


def _printable(text: str) -> str:
    r"""A text whose undecodable bytes are shown as ``\xff`` escapes (for diffs).

    >>> _printable("a\udcff")
    'a\\xff'
    """
    return encode(text).decode("utf-8", "backslashreplace")


def read_recipe_text(recipe: str | os.PathLike[str], *, text_only: bool = True) -> str:
    """The recipe file's text, exactly (:func:`recipemut.apply.history.encode` gives its bytes back).

    A missing file or a directory raises :class:`~recipemut.errors.InputFileError`; with
    ``text_only`` (apply, evaluate, history) so do binary content and bytes that are not UTF-8,
    with the recipe loader's message (:func:`recipemut.files.read.decode_text`). ``rollback`` reads
    with ``text_only=False``: ``--force`` can save whatever bytes a hand edit left into the history
    and restore a recorded text over them.
    """
    from recipemut.files.kinds import HEAD, refuse_kind
    from recipemut.files.read import decode_text

    path = Path(recipe)
    raw = _read_recipe(path)  # capped at the recipe size limit by the one reader
    if text_only:  # a log, a plan, a mapping given as the recipe: named as the loader names it
        refuse_kind(raw[:HEAD], str(path), "a recipe", ("Recipe",), InputFileError)
        decode_text(raw, file=str(path))
    return decode(raw)


def reconcile(
    entries: Sequence[Entry], current: str, *, force: bool, source: str, doing: str,
    versions: Callable[[str], int | None] = version_of, quiet: bool = False,
) -> list[Entry]:
    """Entries that bring the history up to the file as found (recover / hand-edit), or refuse.

    ``doing`` names the refused operation in the message ("apply", "rollback", ...); ``versions``
    gives a text's version (an engine's file holds none: the history's record of it). ``quiet``
    leaves out the warning of a recover entry (a check the locked run repeats, and warns in).
    """
    state = recipe_state(entries, sha256_text(current))
    if state in ("untracked", "recorded"):
        return []
    last = entries[-1]
    if state == "interrupted":
        if not quiet:
            log.warning("%s: the recipe holds the text from before history entry %d (that write did not reach it, "
                        "or it was restored by hand)", source, last.seq)
        return [new_entry(
            last, action="recover", previous_text=last.text, text=current,
            version_before=last.version, version=versions(current),
            reason=f"the recipe still holds the text from before entry {last.seq} "
                   "(an interrupted write, or a hand-restored copy); recorded as found",
        )]
    if not force:
        holds = recorded_as(entries, sha256_text(current))  # a recorded text restored by hand, or an edit
        raise UnsavedEdit(
            ("changed by hand" if holds is None else f"restored by hand to {held_text(*holds)}")
            + f" since history entry {last.seq} (sha256 {sha256_text(current)[:12]}, recorded "
            f"{last.sha256_after[:12]}); refusing to {doing} over an unsaved edit — rerun with --force to "
            "save the edited text into the history first",
            file=source, code="hand-edit",
        )
    return [new_entry(
        last, action="hand-edit", previous_text=last.text, text=current,
        version_before=last.version, version=versions(current),
        reason=f"edited by hand after entry {last.seq}; saved by --force before {doing}",
    )]


class ReadOnlyRecipe(RecipemutError):
    """The recipe file's permissions forbid writing it; ``--force`` writes it anyway (mode kept)."""


def read_only_mode(recipe: str | os.PathLike[str]) -> int | None:
    """The permission bits of a recipe that may not be written, ``None`` when it may.

    Read-only means no write bit at all (``0444``, as ``chmod a-w`` leaves it; this holds for root
    too, who may write anything) or no write permission for this user. A rename in a writable
    folder would replace such a file regardless of its mode, so writers ask first.
    """
    target = os.fspath(recipe)  # stat and access follow a symbolic link to the file written
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return None  # a missing file is reported by the read
    if mode & 0o222 == 0 or not os.access(target, os.W_OK):
        return mode & 0o7777
    return None


def refuse_read_only(recipe: str | os.PathLike[str], *, force: bool, doing: str) -> None:
    """Refuse to ``doing`` (apply, rollback, ...) over a read-only recipe unless ``force``."""
    mode = read_only_mode(recipe)
    if mode is not None and not force:
        raise ReadOnlyRecipe(
            f"the recipe is read-only (mode {mode:04o}); refusing to {doing} over it — rerun with --force to "
            "write it anyway (its mode is kept)", file=str(recipe), code="read-only",
        )


Builder = Callable[[str, Sequence[Entry], Entry | None], "tuple[str, dict[str, Any]] | None"]


def transact(
    recipe: str | os.PathLike[str],
    *,
    action: Action,
    build: Builder,
    force: bool = False,
    dry_run: bool = False,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    check_current: Callable[[str], None] | None = None,
    write_when_unchanged: bool = False,
    text_only: bool = True,
) -> WriteResult:
    """Run one write of ``recipe`` (see the module docstring).

    ``build(current_text, chain, last_entry)`` returns ``(new_text, entry_fields)`` or ``None`` for
    "nothing to do"; ``entry_fields`` are passed to :func:`recipemut.apply.history.new_entry`
    (``mutations``, ``reason``, ``observed``, ``details``, ``version``). ``check_current`` runs on
    the current text before anything else (the stale-plan check). With ``dry_run`` nothing is
    locked or written. ``text_only`` is passed to :func:`read_recipe_text`.

    A recipe without a lock file is checked in full before the lock is taken: a refusal (a stale
    plan, no history to roll back, ...) or "nothing to change" ends there, leaving no ``<recipe>.lock``
    (never removed once made: that would race with a writer waiting on it). The locked run checks again.
    """
    path = Path(recipe)
    source = str(path)

    def run(*, check_only: bool = False) -> WriteResult | None:
        """The write (or dry run); with ``check_only``, every refusal and check of it but no write:
        ``None`` when it would write, else its "nothing to change" result."""
        if not dry_run:
            refuse_read_only(path, force=force, doing=action)
        current = read_recipe_text(path, text_only=text_only)
        from recipemut.apply.engines import engine_of, recorded_version, refuse_engine_action

        refuse_engine_action(current, source=source, action=action)  # an Argo, Tekton, ... file: apply, rollback
        if check_current is not None:
            check_current(current)
        entries = list(read_history(path))
        if engine_of(current, source=source) is not None:  # versions live in the history only
            def versions(text: str) -> int | None:
                return recorded_version(entries, sha256_text(text))
        else:
            versions = version_of
        notes: list[str] = []
        if dry_run:
            if read_only_mode(path) is not None and not force:
                notes.append("the recipe is read-only: a real run needs --force")
            # a hand edit is previewed as --force saves it, but a rollback would undo that save: refused, as for real
            pre = reconcile(entries, current, force=force or action != "rollback", source=source, doing=action,
                            versions=versions)
            if pre and pre[0].action == "hand-edit":  # a rollback's reason names the entry saving it: said to be made
                notes.append("the recipe was edited by hand since the last recorded write: a real run " + (
                    f"saves it as history entry {pre[0].seq} first" if force else "needs --force"))
        else:
            pre = reconcile(entries, current, force=force, source=source, doing=action, versions=versions,
                            quiet=check_only)
        chain = entries + pre
        last = chain[-1] if chain else None
        built = build(current, chain, last)
        advice = tuple(built[1].pop("advice", ())) if built is not None else ()
        said = built[1].pop("unchanged", None) if built is not None else None  # why nothing is written
        if built is not None:
            notes += list(built[1].pop("notes", ()))
        entries.extend(pre)  # versions: the text a recover entry records
        before_v = versions(current)
        if built is None or (built[0] == current and not write_when_unchanged):
            return WriteResult(action, source, before_v, before_v, sha256_text(current), sha256_text(current),
                               "", False, notes=tuple(notes) if said else (*notes, "nothing to change"),
                               reason=said, advice=advice)
        if check_only:
            return None
        new_text, fields = built
        mutations = tuple(str(m["id"]) for m in fields.get("mutations", ()))
        entry = new_entry(
            last, action=action, previous_text=current, text=new_text, version_before=before_v,
            version=fields.pop("version", versions(new_text)), **fields,
        )
        diff = unified_diff(_printable(current), _printable(new_text), path.name)
        if dry_run:
            return WriteResult(action, source, before_v, entry.version, entry.sha256_before or "",
                               entry.sha256_after, diff, False, mutations, (), tuple(notes), entry.reason, advice)
        write_history(path, [*chain, entry])  # the history first: a crash after it is recoverable
        try:
            atomic_write(path, encode(new_text), what="recipe")
        except InputFileError as e:  # disk full, permission denied: the recipe holds its text before
            raise InputFileError(
                f"{e.message} (history entry {entry.seq} records the write; the recipe still holds the text "
                "before it, which the next write records as found)", file=e.file, code=e.code,
            ) from None
        return WriteResult(action, source, before_v, entry.version, entry.sha256_before or "",
                           entry.sha256_after, diff, True, mutations, (*pre, entry), tuple(notes), entry.reason, advice)

    if dry_run:
        done = run()
    # no lock file yet: refuse (or find nothing to change) before making one, which would stay behind
    elif (done := unlocked_answer(path, lambda: run(check_only=True))) is None:
        with locked(path, lock_timeout_s):
            for stale in (*remove_stale_temps(path), *remove_stale_temps(history_path(path))):
                log.info("removed %s, left by a writer that was killed", stale)
            done = run()
    assert done is not None  # only a check_only run answers None
    return done


# ---- the operations ----------------------------------------------------------------------------


def applied_entry(
    recipe: str | os.PathLike[str], plan: Plan, chosen: Sequence[PlannedMutation], current_sha: str
) -> Entry | None:
    """The history entry that already wrote ``chosen`` of ``plan`` and left the recipe as it is now, if any.

    That is the latest entry whose text before is the plan's recipe (``sha256_before``), whose text
    after is the current one (``sha256_after == current_sha``) and whose mutations are the chosen
    ones, in order. A history that cannot be read answers ``None`` (the plain stale-plan refusal).
    """
    try:
        entries = read_history(recipe)
    except RecipemutError:
        return None
    ids = [m.id for m in chosen]
    for e in reversed(entries):
        advised = [str(a.get("id")) for a in e.details.get("advice") or ()]  # an engine file's: not written
        if (e.sha256_after == current_sha and e.sha256_before == plan.recipe.sha256
                and [i for i in ids if i not in advised] == [str(m.get("id")) for m in e.mutations]):
            return e
    return None


def partly_applied_entry(recipe: str | os.PathLike[str], plan: Plan, current_sha: str) -> Entry | None:
    """The history entry that wrote some of ``plan``'s mutations (``--only``) and left the recipe as
    it is now, if any: the latest whose text before is the plan's recipe, whose text after is the
    current one, and whose mutations are all in the plan. A history that cannot be read answers None."""
    try:
        entries = read_history(recipe)
    except RecipemutError:
        return None
    ids = {m.id for m in plan.mutations}
    for e in reversed(entries):
        if (e.sha256_after == current_sha and e.sha256_before == plan.recipe.sha256 and e.mutations
                and all(str(m.get("id")) in ids for m in e.mutations)):
            return e
    return None


def apply_plan(
    recipe: str | os.PathLike[str],
    plan: Plan,
    *,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    canary: float | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
) -> WriteResult:
    """Apply a plan's mutations (or start them as a canary taking ``canary`` of the traffic)."""
    source = str(recipe)
    chosen = plan.chosen(only)
    ids = ", ".join(m.id for m in chosen)

    def check(current: str) -> None:
        sha = sha256_text(current)
        if sha != plan.recipe.sha256:
            try:
                name = plain_doc(current, source=source).get("name")
            except RecipemutError:
                name = None
            if plan.recipe.name is not None and name is not None and str(name) != plan.recipe.name:
                raise PlanError(
                    f"this plan was made for recipe {plan.recipe.name!r} ({plan.recipe.path}), not {str(name)!r}; "
                    f"run suggest on {Path(source).name} to make a plan for it",
                    file=source, code="other-recipe-plan",
                )
            done = applied_entry(recipe, plan, chosen, sha)
            if done is not None and done.action == "canary":
                raise PlanError(
                    f"this plan is already running as a canary (history entry {done.seq}, version {done.version}): "
                    "`recipemut evaluate` promotes or rolls it back",
                    file=source, code="already-applied",
                )
            if done is not None:
                raise PlanError(
                    f"this plan was already applied as history entry {done.seq} (version {done.version}); "
                    "nothing to do (`recipemut history` lists the writes)",
                    file=source, code="already-applied",
                )
            part = partly_applied_entry(recipe, plan, sha)
            if part is not None:
                written = ", ".join(str(m.get("id")) for m in part.mutations)
                raise PlanError(
                    f"this plan was partly applied as history entry {part.seq} ({written}); its other mutations were "
                    "judged against the recipe before that write: run suggest again to plan the rest",
                    file=source, code="stale-plan",
                )
            raise PlanError(
                f"stale plan: it was made from sha256 {plan.recipe.sha256} but the recipe is now sha256 {sha}; "
                "run suggest again",
                file=source, code="stale-plan",
            )

    if not chosen:  # suggest found nothing to do: not a failure (a pipeline's apply passes), no lock taken
        current = read_recipe_text(recipe)
        check(current)  # still this recipe, as it was: a stale plan or another recipe's is refused
        candidates = [m.id for m in plan.mutations]
        why = (f"the plan chooses none of its {len(candidates)} candidates ({', '.join(candidates)}; --only ID "
               "applies one)" if candidates else "suggest found no mutation that improves the recipe")
        sha, version = sha256_text(current), version_of(current)
        return WriteResult("apply", source, version, version, sha, sha, "", False, reason=f"nothing to apply: {why}")

    def build(current: str, chain: Sequence[Entry], last: Entry | None) -> tuple[str, dict[str, Any]]:
        from recipemut.apply.engines import read_engine, write_back

        imported = read_engine(current, source=source)
        if imported is not None:  # an Argo, Tekton, ... file: written in its own keys, the rest as advice
            wb = write_back(current, imported, chosen, source=source,
                            check=lambda d, ms: check_plan_edits(d, ms, source=source))
            done = ", ".join(m.id for m in wb.written)  # each import of the result was validated
            return wb.text, {"mutations": mutation_records(wb.written), "reason": f"apply {done}",
                             "version": max_version(chain) + 1, "advice": [a.line() for a in wb.advice],
                             "details": {"engine": wb.engine, "advice": [a.to_dict() for a in wb.advice]}}
        try:
            doc = plain_doc(current, source=source)
        except YamlSyntaxError as e:
            raise MutationError(f"cannot apply to a recipe that is not YAML: {e.message}", file=source,
                                line=e.line, code="bad-recipe") from None
        new_version = max_version(chain, version_of(current)) + 1
        check_plan_edits(doc, chosen, source=source)  # each edit one its operator makes on its targets
        mutated = plan_text(current, chosen, new_version, source=source)
        broken = structure_violations(current, mutated, source=source, what=f"applying {ids}")
        if broken:
            raise MutationError(f"applying {ids} would break the recipe's constraints: {'; '.join(broken)}; "
                                "nothing was written", file=source, code="constraint-violated")
        records = mutation_records(chosen)
        if canary is None:
            return mutated, {"mutations": records, "reason": f"apply {ids}"}
        if doc.get("variants"):
            raise MutationError("a canary is already running (the recipe has `variants`): evaluate or roll it "
                                "back first", file=source, code="canary-running")
        text = canary_text(current, mutated, canary, new_version, source=source)
        validate_text(text, source=source, what=f"a canary of {ids}")
        return text, {
            "mutations": records,
            "reason": f"canary of {ids} on {canary:.0%} of requests",
            "details": {"variant": CANARY, "share": canary},
        }

    return transact(recipe, action="canary" if canary is not None else "apply", build=build, force=force,
                    dry_run=dry_run, lock_timeout_s=lock_timeout_s, check_current=check)


def _texts_of_version(chain: Sequence[Entry], version: int) -> list[str]:
    """Every text the history records with ``version`` (before or after a write)."""
    out = [e.text for e in chain if e.version == version]
    return out + [e.previous_text for e in chain if e.version_before == version and e.previous_text is not None]


def rollback(
    recipe: str | os.PathLike[str],
    *,
    to: int | None = None,
    entry: int | None = None,
    force: bool = False,
    dry_run: bool = False,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    reason: str | None = None,
    observed: Mapping[str, Any] | None = None,
) -> WriteResult:
    """Restore a recorded text byte for byte, as a new history entry.

    By default the text before the last write (that write is undone); with ``to``, the most
    recent text recorded with that version; with ``entry``, the text history entry ``entry``
    wrote (every recorded text is reachable this way, even two texts carrying one version, as a
    hand edit that kept the version number and the write before it).
    """
    source = str(recipe)
    if to is not None and entry is not None:
        raise PlanError("give --to VERSION or --entry N, not both", file=source, code="bad-arguments")

    def build(current: str, chain: Sequence[Entry], last: Entry | None) -> tuple[str, dict[str, Any]]:
        if last is None:
            raise InputFileError(f"no history beside the recipe ({history_path(recipe).name}): "
                                 "nothing to roll back to", file=source, code="no-history")
        notes: list[str] = []
        if entry is not None:
            if not 1 <= entry <= len(chain):
                raise HistoryError(f"history entry {entry} does not exist (entries 1..{len(chain)}; "
                                   "`recipemut history` lists them)", file=source, code="no-such-entry")
            src = chain[entry - 1]
            target, seq, version = src.text, src.seq, src.version
            why = reason or f"restore the text written by entry {seq} ({src.action}, version {version})"
        elif to is None and last.action == "recover" and len(chain) > 1:  # recorded by this run's reconcile
            # the recipe holds the text from before the last write, which undoing it would restore: the write
            # did not land, or was reverted by hand; undoing the recover entry would write it again
            said = f"nothing to roll back: the recipe already holds the text from before entry {chain[-2].seq}"
            return current, {"unchanged": said}  # the version is printed after it
        elif to is None:
            if last.previous_text is None:
                raise InputFileError(f"history entry {last.seq} is the first write: nothing before it",
                                     file=source, code="no-previous")
            target, seq, version = last.previous_text, last.seq, last.version_before
            what = what_of(last)  # a few ids: the entry written keeps every one in its mutations
            numbered = f" (version {version})" if version is not None else ""  # an engine's first text has none
            why = reason or f"undo entry {last.seq} ({what}), restoring the text before it{numbered}"
            if last.action == "rollback":  # documented (a rollback undoes a rollback), but said: it redoes a write
                notes.append(redo_note(chain))
        else:
            try:
                target, src = text_of_version(chain, to)
            except HistoryError as e:
                raise HistoryError(e.message, file=source, code=e.code) from None
            seq, version = src.seq, to
            why = reason or f"restore version {to} (as recorded by entry {seq})"
            same = {sha256_text(t) for t in _texts_of_version(chain, to)}
            if len(same) > 1:
                notes.append(f"version {to} names {len(same)} different recorded texts; restored the most recent "
                             f"(entry {seq}); `recipemut history` lists the entries, --entry N restores another")
        return target, {"reason": why, "version": version, "observed": observed,
                        "mutations": [dict(m) for m in last.mutations] if to is None and entry is None else [],
                        "details": {"restored_from_entry": seq}, "notes": notes}

    return transact(recipe, action="rollback", build=build, force=force, dry_run=dry_run,
                    lock_timeout_s=lock_timeout_s, text_only=False)
