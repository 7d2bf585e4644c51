"""The history of a recipe: an append-only, hash-chained record of every write, from which any
earlier version returns byte for byte.

Where and what
--------------
``<recipe>.history.jsonl`` beside the recipe (``checkout.yaml`` -> ``checkout.yaml.history.jsonl``;
for a recipe that is a symbolic link, beside the link's target, so every link shares one history),
one JSON object per line, schema ``schemas/history.schema.json``. Each entry records one write of
the recipe: ``seq`` (1, 2, ...), the recipe ``version`` before and after, UTC ``time``, ``action``
(``apply``, ``canary``, ``promote``, ``rollback``, ``evaluate``, ``hand-edit``, ``recover``), the
mutations with their predicted and (after ``evaluate``) observed effects, a ``reason``, the sha256
of the recipe bytes before and after, the **full text before and after** (``previous_text``,
``text``), who wrote it (``user@host``, tool version, argv) and the hash of the previous entry
(``prev_hash``) plus the entry's own ``hash`` (sha256 of its canonical JSON without ``hash``).

Keeping the text after as well as before means every state ever recorded can be restored from the
history alone, even after the recipe file was edited by hand.

Invariants checked by :func:`verify` (a failure names the line at fault)
-------------------------------------------------------------------------
* every line is a complete JSON object matching the schema (a torn or truncated line is caught);
* ``seq`` counts 1, 2, 3, ...; ``prev_hash`` is the previous entry's ``hash``; ``hash`` matches;
* ``sha256_after == sha256(text)`` and ``sha256_before == sha256(previous_text)``;
* continuity: an entry's ``sha256_before`` is the previous entry's ``sha256_after`` (a hand edit
  between two writes is itself recorded, as a ``hand-edit`` entry);
* completeness (:func:`check_last_entry`): lines lost at the *end* leave a chain that verifies, so
  every write records the number and hash of the last entry in the recipe's lock file, and a
  history that no longer holds that entry is refused as truncated (or replaced).

The history file is never read or written through a symbolic link, nor when it is a FIFO, a
device or a folder (:mod:`recipemut.files.write`).

Crash safety
------------
The history is never appended in place: the whole new file is written with
:func:`recipemut.files.write.atomic_write` (temp file, fsync, rename, fsync of the folder), under the
recipe's lock, and **before** the recipe itself is replaced. After a crash at any moment the
history is the old one or the new one, and the recipe holds the text *before* or the text *after*
of the last entry: both are recorded. The second case (``interrupted``) is recognised by
:func:`recipe_state` and recorded as a ``recover`` entry by the next write.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import json
import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import jsonschema

from recipemut.errors import HistoryError, InputFileError
from recipemut.files.jsonsafe import schema_message
from recipemut.files.read import read_user_file
from recipemut.files.write import (
    atomic_write,
    history_path,
    lock_path,
    lock_records,
    set_lock_records,
)
from recipemut.plan.planfile import tool_name, utc_now

log = logging.getLogger(__name__)

HISTORY_FORMAT = 1
ACTIONS = ("apply", "canary", "promote", "rollback", "evaluate", "hand-edit", "recover")
Action = Literal["apply", "canary", "promote", "rollback", "evaluate", "hand-edit", "recover"]
#: state of a recipe file against its history
State = Literal["untracked", "recorded", "interrupted", "hand-edited"]
#: largest history file read (each entry holds a recipe's text before and after: far below this)
MAX_HISTORY_BYTES = 1 << 30


def sha256_text(text: str) -> str:
    """sha256 of a recipe text's bytes (UTF-8; undecodable bytes were kept as surrogate escapes)."""
    return hashlib.sha256(encode(text)).hexdigest()


def decode(data: bytes) -> str:
    """Recipe bytes as text, reversibly (:func:`encode` gives the same bytes back)."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    """The exact bytes of a text made by :func:`decode`."""
    return text.encode("utf-8", "surrogateescape")


def who() -> dict[str, Any]:
    """Who and what is writing: ``user@host``, the tool and version, the command line."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {"user": f"{user}@{socket.gethostname()}", "tool": tool_name(), "argv": list(sys.argv)}


@dataclass(frozen=True)
class Entry:
    """One write of the recipe (see the module docstring for the meaning of each field)."""

    seq: int
    action: str
    time: str
    version_before: int | None
    version: int | None
    sha256_before: str | None
    sha256_after: str
    previous_text: str | None
    text: str
    mutations: tuple[Mapping[str, Any], ...] = ()
    observed: Mapping[str, Any] | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    who: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    prev_hash: str | None = None
    hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": HISTORY_FORMAT,
            "seq": self.seq,
            "action": self.action,
            "time": self.time,
            "version_before": self.version_before,
            "version": self.version,
            "mutations": [dict(m) for m in self.mutations],
            "observed": _plain(self.observed) if self.observed is not None else None,
            "reason": self.reason,
            "details": _plain(self.details),
            "who": _plain(self.who),
            "sha256_before": self.sha256_before,
            "sha256_after": self.sha256_after,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "previous_text": self.previous_text,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Entry:
        return cls(
            seq=int(d["seq"]),
            action=str(d["action"]),
            time=str(d["time"]),
            version_before=d.get("version_before"),
            version=d.get("version"),
            sha256_before=d.get("sha256_before"),
            sha256_after=str(d["sha256_after"]),
            previous_text=d.get("previous_text"),
            text=str(d["text"]),
            mutations=tuple(MappingProxyType(dict(m)) for m in d.get("mutations") or ()),
            observed=d.get("observed"),
            reason=d.get("reason"),
            details=MappingProxyType(dict(d.get("details") or {})),
            who=MappingProxyType(dict(d.get("who") or {})),
            prev_hash=d.get("prev_hash"),
            hash=str(d.get("hash", "")),
        )

    def compute_hash(self) -> str:
        """sha256 of the entry's canonical JSON without ``hash``."""
        d = self.to_dict()
        del d["hash"]
        canon = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        return hashlib.sha256(canon.encode("ascii")).hexdigest()

    @property
    def predicted(self) -> dict[str, Any]:
        """Predicted effect per mutation id."""
        return {str(m.get("id")): m.get("predicted") for m in self.mutations if m.get("predicted") is not None}


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def new_entry(
    previous: Entry | None,
    *,
    action: Action,
    previous_text: str | None,
    text: str,
    version_before: int | None,
    version: int | None,
    mutations: Sequence[Mapping[str, Any]] = (),
    observed: Mapping[str, Any] | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    time: str | None = None,
    writer: Mapping[str, Any] | None = None,
) -> Entry:
    """The next entry of a chain whose last entry is ``previous`` (pure; nothing is written)."""
    e = Entry(
        seq=(previous.seq + 1) if previous else 1,
        action=action,
        time=time or utc_now(),
        version_before=version_before,
        version=version,
        sha256_before=sha256_text(previous_text) if previous_text is not None else None,
        sha256_after=sha256_text(text),
        previous_text=previous_text,
        text=text,
        mutations=tuple(MappingProxyType(_plain(m)) for m in mutations),
        observed=_plain(observed) if observed is not None else None,
        reason=reason,
        details=MappingProxyType(_plain(details or {})),
        who=MappingProxyType(dict(writer if writer is not None else who())),
        prev_hash=previous.hash if previous else None,
    )
    return replace(e, hash=e.compute_hash())


@functools.lru_cache(maxsize=1)
def history_schema() -> dict[str, Any]:
    """The history entry's JSON Schema (``schemas/history.schema.json``)."""
    schema: dict[str, Any] = json.loads((Path(__file__).parents[1] / "schemas" / "history.schema.json").read_text())
    return schema


def entry_line(e: Entry) -> str:
    """One history line (ASCII JSON, so any recipe bytes survive exactly)."""
    return json.dumps(e.to_dict(), ensure_ascii=True, allow_nan=False) + "\n"


def parse_history(text: str, *, source: str = "<history>") -> tuple[Entry, ...]:
    """Parse and verify a history file's text; a problem raises :class:`HistoryError` naming the line."""
    validator = jsonschema.Draft202012Validator(history_schema())
    entries: list[Entry] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        raise HistoryError("last line is incomplete (no line end): the history was truncated",
                           file=source, line=len(lines), code="history-truncated")
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            raise HistoryError("blank line in the history", file=source, line=i, code="history-corrupt")
        try:
            d = json.loads(raw)
        except json.JSONDecodeError as e:
            raise HistoryError(f"not a JSON entry ({e.msg} at column {e.colno}): corrupt or truncated",
                               file=source, line=i, code="history-corrupt") from None
        except RecursionError:  # json's decoder recurses per nesting level: not an entry's shape
            raise HistoryError("not a JSON entry (nested too deeply): corrupt", file=source, line=i,
                               code="history-corrupt") from None
        except ValueError:  # an integer of more digits than Python converts (4,300)
            raise HistoryError("not a JSON entry (a number too long to read): corrupt", file=source, line=i,
                               code="history-corrupt") from None
        err = jsonschema.exceptions.best_match(validator.iter_errors(d))
        if err is not None:
            where = ".".join(str(p) for p in err.absolute_path) or "entry"
            raise HistoryError(f"{where}: {schema_message(err)}", file=source, line=i, code="history-schema")
        entries.append(Entry.from_dict(d))
    verify(entries, source=source)
    return tuple(entries)


def verify(entries: Sequence[Entry], *, source: str = "<history>") -> None:
    """Check the chain: sequence, hashes, texts against their sha256, continuity. Line = seq."""
    prev: Entry | None = None
    for i, e in enumerate(entries, start=1):
        def bad(msg: str, code: str = "history-chain", line: int = i) -> HistoryError:
            return HistoryError(msg, file=source, line=line, code=code)

        if e.seq != i:
            raise bad(f"entry number {e.seq} where {i} was expected: an entry was lost or reordered")
        if e.hash != e.compute_hash():
            raise bad("entry hash does not match its content: the entry was altered")
        expected_prev = prev.hash if prev else None
        if e.prev_hash != expected_prev:
            raise bad("prev_hash does not match the previous entry: an entry was removed, altered or inserted")
        if sha256_text(e.text) != e.sha256_after:
            raise bad("text does not match sha256_after")
        if e.previous_text is not None and sha256_text(e.previous_text) != e.sha256_before:
            raise bad("previous_text does not match sha256_before")
        if prev is not None and e.sha256_before != prev.sha256_after:
            raise bad(
                f"sha256_before {_short(e.sha256_before)} is not entry {prev.seq}'s sha256_after "
                f"{_short(prev.sha256_after)}: a write is missing from the history"
            )
        prev = e


def _short(h: str | None) -> str:
    return (h or "none")[:12]


def read_history(recipe_path: str | os.PathLike[str]) -> tuple[Entry, ...]:
    """The verified entries of a recipe's history (empty when there is no history file yet).

    The file is never read through a symbolic link, nor when it is a FIFO, device or folder, nor
    past :data:`MAX_HISTORY_BYTES` (:func:`recipemut.files.read.read_user_file`). Besides the chain
    itself, the history's last recorded entry (kept in the lock file by :func:`write_history`) must
    still be there: a history that lost its last lines, or was replaced by an older or another
    chain, raises :class:`HistoryError`.
    """
    hp = history_path(recipe_path)
    try:
        data: bytes | None = read_user_file(hp, max_bytes=MAX_HISTORY_BYTES, what="history", follow=False)
    except InputFileError as e:
        if e.code != "missing-file":
            raise
        data = None  # no history yet
    if data is None:
        entries: tuple[Entry, ...] = ()
    else:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise HistoryError(f"non-ASCII byte at offset {e.start}: the history is corrupt",
                               file=str(hp), line=line, code="history-corrupt") from None
        entries = parse_history(text, source=str(hp))
    check_last_entry(recipe_path, entries, exists=data is not None)
    return entries


#: the lock-file record naming the history's last entry: ``<seq> <hash>``
LAST_ENTRY_RECORD = "history"


def check_last_entry(recipe_path: str | os.PathLike[str], entries: Sequence[Entry], *, exists: bool = True) -> None:
    """Refuse a history that no longer holds the last entry recipemut wrote to it.

    :func:`write_history` keeps the number and hash of the last entry in the recipe's lock file.
    Dropping the history's last lines leaves a chain that verifies on its own; this record is what
    tells it. A lock file without the record (written by an earlier recipemut, or removed) checks
    nothing. Removing the lock file accepts the history as it is.
    """
    value = lock_records(recipe_path).get(LAST_ENTRY_RECORD)
    if value is None:
        return
    seq_text, _, digest = value.partition(" ")
    if not seq_text.isdigit():
        return
    seq = int(seq_text)
    hp, lf = history_path(recipe_path), lock_path(recipe_path)
    accept = f"restore the lost entries from a backup, or remove {lf.name} to accept the history as it is"
    if not exists:
        raise HistoryError(f"the history file is missing, but {lf.name} records that entry {seq} was written: "
                           f"it was removed; {accept}", file=str(hp), code="history-truncated")
    if seq > len(entries):
        raise HistoryError(
            f"the history ends at entry {len(entries)}, but {lf.name} records that entry {seq} was written: "
            f"the history was truncated ({seq - len(entries)} entries missing); {accept}",
            file=str(hp), line=len(entries) + 1, code="history-truncated",
        )
    if entries[seq - 1].hash != digest:
        raise HistoryError(
            f"entry {seq} is not the entry {lf.name} records as written (hash {_short(digest)}, found "
            f"{_short(entries[seq - 1].hash)}): the history was replaced; {accept}",
            file=str(hp), line=seq, code="history-replaced",
        )


def write_history(recipe_path: str | os.PathLike[str], entries: Sequence[Entry]) -> None:
    """Write the whole history atomically (call under :func:`recipemut.files.write.locked`).

    The history is never written through a symbolic link (a link, FIFO, device or folder in its
    place is refused). Once written, its last entry's number and hash are recorded in the lock
    file, for :func:`check_last_entry`.
    """
    hp = history_path(recipe_path)
    verify(entries, source=str(hp))
    atomic_write(hp, "".join(entry_line(e) for e in entries).encode("ascii"), follow=False, what="history")
    if entries:
        try:
            set_lock_records(recipe_path, {LAST_ENTRY_RECORD: f"{entries[-1].seq} {entries[-1].hash}"})
        except InputFileError as e:  # the record left behind is older but still true: only a weaker check
            log.warning("%s; the history's last entry was not recorded there", e)


def recipe_state(entries: Sequence[Entry], current_sha: str) -> State:
    """How the recipe file relates to its history.

    * ``untracked``: no history yet;
    * ``recorded``: the file is the last entry's text;
    * ``interrupted``: the file is the last entry's text *before* (the write after the history
      entry did not happen: a crash, or a hand-restored copy of that recorded text);
    * ``hand-edited``: anything else — changed since the last recorded write.
    """
    if not entries:
        return "untracked"
    last = entries[-1]
    if current_sha == last.sha256_after:
        return "recorded"
    if last.sha256_before is not None and current_sha == last.sha256_before:
        return "interrupted"
    return "hand-edited"


def recorded_as(entries: Sequence[Entry], current_sha: str) -> tuple[Entry, Literal["before", "after"]] | None:
    """The latest entry that records the text of sha256 ``current_sha``: ``(entry, "after")`` when it
    wrote that text, ``(entry, "before")`` when that was the text before it; ``None`` for a text
    the history never recorded. A hand edit and a hand-restored copy of a recorded text are both
    ``hand-edited`` to :func:`recipe_state`; this tells them apart for the messages.

    >>> e1 = new_entry(None, action="apply", previous_text="v4", text="v5", version_before=4, version=5, writer={})
    >>> e2 = new_entry(e1, action="apply", previous_text="v5", text="v6", version_before=5, version=6, writer={})
    >>> [(e.seq, side) for e, side in [recorded_as([e1, e2], sha256_text(t)) for t in ("v4", "v5", "v6")]]
    [(1, 'before'), (2, 'before'), (2, 'after')]
    >>> held_text(*recorded_as([e1, e2], sha256_text("v4"))), recorded_as([e1, e2], sha256_text("v7"))
    ('the text from before entry 1 (version 4)', None)
    """
    for e in reversed(entries):
        if e.sha256_after == current_sha:
            return e, "after"
        if e.previous_text is not None and e.sha256_before == current_sha:
            return e, "before"
    return None


def held_text(entry: Entry, side: Literal["before", "after"]) -> str:
    """``the text from before entry 1 (version 4)`` or ``the text entry 2 wrote (version 6)`` (an
    engine file's text has no version: none is named)."""
    version = entry.version_before if side == "before" else entry.version
    numbered = f" (version {version})" if version is not None else ""
    if side == "before":
        return f"the text from before entry {entry.seq}{numbered}"
    return f"the text entry {entry.seq} wrote{numbered}"


def describe_state(entries: Sequence[Entry], current_sha: str) -> tuple[State, dict[str, Any] | None, str]:
    """What ``history`` says of the recipe: its :func:`recipe_state`; the recorded text it holds when
    that is not the last entry's (``{"entry", "text": "before"|"after", "version"}``, else ``None``);
    and the sentence it prints."""
    state = recipe_state(entries, current_sha)
    found = recorded_as(entries, current_sha) if state in ("interrupted", "hand-edited") else None
    if found is None:
        holds, held = None, ""
    else:
        e, side = found
        holds = {"entry": e.seq, "text": side, "version": e.version_before if side == "before" else e.version}
        held = held_text(e, side)
    if state == "interrupted":
        sentence = (f"the recipe holds {held} (an interrupted write, or a copy restored by hand); the next write "
                    "records it, and rollback has nothing to undo")
    elif state == "hand-edited" and found is not None:
        sentence = (f"the recipe holds {held}, not the last entry's: restored by hand since (apply/rollback need "
                    "--force, which records it as a hand edit first)")
    elif state == "hand-edited":
        sentence = ("the recipe matches no recorded text: it was edited by hand since the last entry, or the "
                    "history lost entries after it (apply/rollback need --force)")
    else:
        sentence = "the recipe matches the last entry" if state == "recorded" else ""
    return state, holds, sentence


def known_versions(entries: Sequence[Entry]) -> list[int]:
    """Recipe versions the history can restore, ascending."""
    vs = {e.version for e in entries if e.version is not None}
    vs |= {e.version_before for e in entries if e.version_before is not None and e.previous_text is not None}
    return sorted(vs)


def text_of_version(entries: Sequence[Entry], version: int) -> tuple[str, Entry]:
    """The most recent recorded text of ``version`` and the entry that recorded it."""
    for e in reversed(entries):
        if e.version == version:
            return e.text, e
        if e.version_before == version and e.previous_text is not None:
            return e.previous_text, e
    vs = ", ".join(map(str, known_versions(entries))) or "none"
    raise HistoryError(f"version {version} is not in the history (recorded versions: {vs})", code="no-such-version")


def max_version(entries: Sequence[Entry], current: int | None = None) -> int:
    """The highest recipe version ever recorded (or ``current``), so a new one never repeats."""
    vs = [v for e in entries for v in (e.version, e.version_before) if v is not None]
    if current is not None:
        vs.append(current)
    return max(vs, default=0)


#: the mutation ids a one-line account of an entry names before "and N more" (the entry keeps them all)
WHAT_IDS = 3


def what_of(e: Entry) -> str:
    """An entry in a few words: ``apply of cache:a, hedge:b, eliminate:c and 4 more``, or its action.

    >>> e = new_entry(None, action="apply", previous_text=None, text="", version_before=None, version=None,
    ...               mutations=[{"id": f"m{i}"} for i in range(5)])
    >>> what_of(e)
    'apply of m0, m1, m2 and 2 more'
    """
    ids = [str(m.get("id")) for m in e.mutations]
    more = f" and {len(ids) - WHAT_IDS} more" if len(ids) > WHAT_IDS else ""
    return f"{e.action} of {', '.join(ids[:WHAT_IDS])}{more}" if ids else e.action


def redo_note(entries: Sequence[Entry]) -> str:
    """What undoing the last entry does when that entry is itself a rollback (``rollback`` says it).

    Undoing it brings back the text it replaced. Named by the writes that are not rollbacks (nor
    recover entries, which record a text as found): when
    the latest of them that made the text the recipe holds came from that text, the rollback undoes
    that write again (it goes back); else it redoes the latest write that made the text it brings
    back, and the text further back (from before the write that made the one the recipe holds) is
    named: ``--to VERSION`` when that version's most recent text is that one, else ``--entry N``.
    """
    # a recover entry records the text found (a write that did not land, or was undone by hand): it wrote nothing
    last, writes = entries[-1], [e for e in reversed(entries[:-1]) if e.action not in ("rollback", "recover")]
    note = f"the last entry ({last.seq}) was a rollback: this "
    wrote = next((e for e in writes if e.sha256_after == last.sha256_after and e.previous_text is not None), None)
    if wrote is not None and wrote.sha256_before == last.sha256_before:
        restoring = f", restoring version {wrote.version_before}" if wrote.version_before is not None else ""
        return note + f"undoes entry {wrote.seq} ({what_of(wrote)}) again{restoring}"
    redone = next((e for e in writes if e.sha256_after == last.sha256_before), None)
    if redone is not None:
        numbered = f", version {redone.version}" if redone.version is not None else ""
        note += f"redoes entry {redone.seq} ({what_of(redone)}{numbered})"
    else:  # pragma: no cover - a verified chain holds a write (not a rollback) of every text it records
        note += "undoes it"
    if wrote is None:
        return note + "; the recipe holds the first recorded text: nothing is further back"
    v, back = wrote.version_before, wrote.sha256_before
    if v is not None and sha256_text(text_of_version(entries, v)[0]) == back:
        return note + f"; use --to {v} to go further back"
    by = next((e for e in reversed(entries) if e.sha256_after == back), None)
    return note + (f"; use --entry {by.seq} to go further back" if by is not None else
                   "; `recipemut history` lists the texts further back")
