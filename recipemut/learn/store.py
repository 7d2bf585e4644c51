"""The performance profile store: what recipemut learned, in one embedded SQLite database.

Where it lives
    ``$RECIPEMUT_STORE`` when set (``off`` disables recording), else ``.recipemut/store.sqlite`` in
    the working directory. One store per project rather than one per recipe, because what it
    learns (which operators pay off) carries across recipes; the working directory because CI jobs
    run in the checkout, where ``.recipemut/`` can be cached between runs (or ``RECIPEMUT_STORE``
    pointed at a shared volume). Opening a store makes its own ``.recipemut/`` folder, no other;
    a ``file:`` URI, a directory or FIFO, or an existing file that is not SQLite is refused
    (:func:`check_store_path`), so a mistyped path never turns another file into a database.

Schema and migrations
    Four tables (``recipe_versions``, ``profiles``, ``suggestions``, ``observations``), at version
    :data:`~recipemut.learn.schema.SCHEMA_VERSION` (``PRAGMA user_version``); see
    :mod:`recipemut.learn.schema`. Opening a store applies the missing migrations inside one
    ``BEGIN IMMEDIATE`` transaction, re-reading ``user_version`` under the lock, so two processes
    opening an old store at once migrate it once. A store newer than this recipemut is refused
    (never downgraded).

Concurrency
    WAL journal, ``busy_timeout`` (30 s by default), ``synchronous=FULL``, and every write in a
    ``BEGIN IMMEDIATE`` transaction: several CI jobs may write at once; each waits its turn and
    nothing is lost or half-written.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as folder, Store.open(pathlib.Path(folder) / "s.sqlite") as s:
...     _ = s.record_suggestion(recipe="shop", version=1, sha256="ab", mutation_id="cache:load",
...                             operator="cache", verdict="improves", metric="latency_p95_ms",
...                             predicted_delta=-20.0, predicted_ci=(-25.0, -15.0), baseline=200.0)
...     [(o.operator, o.suggested, o.simulated_improves) for o in s.operator_stats()]
[('cache', 1, 1)]
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import stat
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recipemut.errors import RecipemutError
from recipemut.files.text import utc_iso
from recipemut.learn.schema import MIGRATIONS, SCHEMA_VERSION, foreign_tables, schema_problem

log = logging.getLogger(__name__)

ENV_VAR = "RECIPEMUT_STORE"
DEFAULT_RELATIVE = Path(".recipemut") / "store.sqlite"
DEFAULT_BUSY_TIMEOUT_S = 30.0
OUTCOMES = ("promoted", "rolled_back", "held")


class StoreError(RecipemutError):
    """The store cannot be opened or written: not a SQLite file, newer schema, locked too long."""


def default_path(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """Where the store lives: ``$RECIPEMUT_STORE``, else ``.recipemut/store.sqlite``; None when ``off``.

    >>> default_path({}, Path("/work"))
    PosixPath('/work/.recipemut/store.sqlite')
    >>> default_path({"RECIPEMUT_STORE": "off"}) is None
    True
    """
    env = os.environ if env is None else env
    value = env.get(ENV_VAR)
    if value is not None and value.strip().lower() in OFF_WORDS:
        return None
    if value:
        return Path(value).expanduser()
    return (cwd or Path.cwd()) / DEFAULT_RELATIVE


#: what ``--store`` and ``$RECIPEMUT_STORE`` take to mean "no store"
OFF_WORDS = ("off", "none", "0", "false")


def store_path(option: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The store a command uses: its ``--store`` option, else :func:`default_path`; None when ``off``.

    >>> store_path("off") is None, store_path(Path("s.db")), store_path(None, {"RECIPEMUT_STORE": "none"})
    (True, PosixPath('s.db'), None)
    """
    if option is None:
        return default_path(env)
    if os.fspath(option).strip().lower() in OFF_WORDS:
        return None
    return Path(option)


#: the first bytes of every SQLite database file
SQLITE_HEADER = b"SQLite format 3\x00"


def check_store_path(
    path: str | os.PathLike[str],
    *,
    inputs: Mapping[Path, str] | None = None,
    recipes: Iterable[str | os.PathLike[str]] = (),
    option: str | None = None,
    inputs_only: bool = False,
) -> Path:
    """Refuse a store path that would turn another file into SQLite or make folders on the way.

    Refused, with one :class:`StoreError` (naming ``option``, e.g. ``--store``, when given): a
    ``file:`` URI (SQLite would read it as one, and the path as given would make a stray ``file:``
    folder); one of the command's ``inputs`` (path -> what it is) or a recipe in ``recipes`` with
    its history and lock, under any name; a directory, FIFO, device or socket; an existing file
    that is not empty and not a SQLite database; a file in a folder that does not exist — except
    the store's own folder ``.recipemut/``, which :meth:`Store.open` makes (one level) when its
    parent exists. With ``inputs_only`` only the URI and the inputs are checked (a command that
    treats any other store problem as a warning leaves the rest to :meth:`Store.open`).
    """
    from recipemut.files.write import kind_of, recipe_companions

    text = os.fspath(path)
    p = Path(text)
    if text.strip().lower() in OFF_WORDS:  # no store: nothing to check
        return p

    def refuse(msg: str, code: str = "store-path") -> StoreError:
        if option:
            return StoreError(f"{option} {text}: {msg}", code=code)
        return StoreError(msg, file=text, code=code)

    if text.strip().lower().startswith("file:"):
        raise refuse(f"a file: URI is not a store path; give the file's name (e.g. {DEFAULT_RELATIVE})")
    named: dict[Path, str] = {}
    for r in recipes:
        named.update(recipe_companions(r))
    named.update({Path(k): v for k, v in (inputs or {}).items() if os.fspath(k) != "-"})
    try:
        st: os.stat_result | None = os.stat(p)
    except OSError:
        st = None
    for q, what in named.items():
        same = os.path.realpath(q) == os.path.realpath(p)
        if not same and st is not None:
            with contextlib.suppress(OSError):
                other = os.stat(q)
                same = (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)
        if same:
            raise refuse(f"is {what}; the store must be a file of its own (e.g. {DEFAULT_RELATIVE})")
    if inputs_only:
        return p
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise refuse(f"is {kind_of(st.st_mode)}, not a store file")
        if st.st_size:
            try:
                with open(p, "rb") as fh:
                    head = fh.read(len(SQLITE_HEADER))
            except OSError as e:
                raise refuse(f"cannot read the store: {e.strerror}", "store-open") from None
            if head != SQLITE_HEADER:
                raise refuse("not a usable recipemut store (not a SQLite database); refusing to write into it",
                             "store-corrupt")
    folder = p.parent
    if not folder.is_dir() and not (folder.name == DEFAULT_RELATIVE.parent.name and folder.parent.is_dir()):
        raise refuse(f"folder does not exist: {folder} (only a store's own {DEFAULT_RELATIVE.parent}/ is made)")
    return p



#: one suggestion per (version, mutation): the latest, whatever its metric (the objective a run used)
_LATEST_SUGGESTION = "s.id IN (SELECT MAX(id) FROM suggestions GROUP BY recipe_version_id, mutation_id)"
#: simulated verdicts that are no evidence about an operator either way: a candidate rejected before any replay,
#: and one the logs were too few to judge (judge.stats.TOO_FEW: no interval, so no verdict; spelt here, where
#: the store is read without the statistics)
NO_EVIDENCE = ("rejected", "too few requests to judge")


# ---- values -----------------------------------------------------------------------------------


def gain(delta: float | None, baseline: float | None) -> float | None:
    """Relative improvement of a lower-is-better metric: ``-delta / baseline``.

    >>> gain(-20.0, 200.0), gain(5.0, 100.0), gain(1.0, 0.0)
    (0.1, -0.05, None)
    """
    if delta is None or baseline is None or not math.isfinite(baseline) or baseline <= 0:
        return None
    return -float(delta) / float(baseline)


@dataclass(frozen=True)
class OperatorStats:
    """What the store says about one operator."""

    operator: str
    suggested: int  # mutations of it that suggest evaluated (simulated)
    simulated_improves: int  # of those, verdict "improves"
    mean_predicted_gain: float | None
    observed: int  # canaries evaluate judged
    promoted: int
    rolled_back: int
    held: int
    mean_observed_gain: float | None
    prediction_error: float | None  # mean |observed gain - predicted gain|, where both are known
    calibration: float | None  # share of observed deltas inside the predicted interval
    calibrated_n: int  # observations with a predicted interval

    def to_dict(self) -> dict[str, object]:
        r = lambda x: None if x is None else round(x, 6)  # noqa: E731
        return {
            "operator": self.operator,
            "suggested": self.suggested,
            "simulated_improves": self.simulated_improves,
            "mean_predicted_gain": r(self.mean_predicted_gain),
            "observed": self.observed,
            "promoted": self.promoted,
            "rolled_back": self.rolled_back,
            "held": self.held,
            "mean_observed_gain": r(self.mean_observed_gain),
            "prediction_error": r(self.prediction_error),
            "calibration": r(self.calibration),
            "calibrated_n": self.calibrated_n,
        }


@dataclass(frozen=True)
class Evidence:
    """One reward for the bandit: an (operator, kind) arm, success in [0, 1], and its weight."""

    operator: str
    kind: str | None
    success: float
    source: str  # "observed" | "simulated"


@dataclass(frozen=True)
class ProfiledVersion:
    """One recipe version with the profiles kept for it (the latest summary in full)."""

    recipe: str
    version: int
    sha256: str | None  # None: a version only the logs named, its text not in the recipe's history
    profiles: int
    last_recorded_at: str
    last_summary: Mapping[str, Any]

    def to_dict(self) -> dict[str, object]:
        return {
            "recipe": self.recipe,
            "version": self.version,
            "sha256": self.sha256,
            "profiles": self.profiles,
            "last_recorded_at": utc_iso(self.last_recorded_at),  # as history entries and plans say a time
            "last_summary": dict(self.last_summary),
        }


@dataclass(frozen=True)
class SuggestionRecord:
    """One evaluated mutation, as suggest records it (see :meth:`Store.record_suggestions`)."""

    mutation_id: str
    operator: str
    verdict: str  # improves | regresses | no significant difference | too few requests to judge | rejected
    metric: str = "latency_p95_ms"
    predicted_delta: float | None = None
    predicted_ci: tuple[float, float] | None = None
    baseline: float | None = None
    kind: str | None = None
    detail: Mapping[str, Any] | None = None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _num(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


# ---- the store ---------------------------------------------------------------------------------


class Store:
    """An open store. Use :meth:`open` (a context manager closes it)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    # -- opening and migrating
    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S
    ) -> Store:
        """Open (creating and migrating as needed) the store at ``path`` (default: :func:`default_path`)."""
        p = Path(path) if path is not None else default_path()
        if p is None:
            raise StoreError(f"the store is disabled ({ENV_VAR}=off)", code="store-off")
        check_store_path(path if path is not None else p)
        try:
            if not p.parent.is_dir():
                p.parent.mkdir(exist_ok=True)  # only the store's own folder (check_store_path refused any other)
            db = sqlite3.connect(p, timeout=busy_timeout_s, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the store: {e}", file=str(p), code="store-open") from e
        store = cls(db, p)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            store._migrate()
            if problem := schema_problem(db):  # a table dropped or altered by hand: one line, never a traceback later
                raise StoreError(f"not a usable recipemut store: {problem}", file=str(p), code="store-corrupt")
        except sqlite3.DatabaseError as e:
            db.close()
            raise StoreError(f"not a usable recipemut store: {e}", file=str(p), code="store-corrupt") from e
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        if self.schema_version == SCHEMA_VERSION:
            return
        with self.transaction():
            current = self.schema_version  # re-read under the write lock: another process may have migrated
            if current == 0 and (tables := foreign_tables(self.db)):  # never migrated, yet tables: another program's
                raise StoreError(f"holds another program's tables ({', '.join(tables[:3])}), not a recipemut store: "
                                 "give --store another file", file=str(self.path), code="store-foreign")
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"store schema version {current} is newer than this recipemut understands ({SCHEMA_VERSION})",
                    file=str(self.path),
                    code="store-newer",
                )
            for i in range(current, SCHEMA_VERSION):
                log.info("store %s: migrating schema %d -> %d", self.path, i, i + 1)
                MIGRATIONS[i](self.db)
                self.db.execute(f"PRAGMA user_version = {i + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): waits for other writers, commits or rolls back."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise StoreError(f"store busy: {e}", file=str(self.path), code="store-busy") from e
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # -- writes
    def _version_id(self, recipe: str, version: int, sha256: str) -> int:
        self.db.execute(
            "INSERT OR IGNORE INTO recipe_versions (recipe, version, sha256, first_seen) VALUES (?, ?, ?, ?)",
            (recipe, int(version), sha256, _now()),
        )
        row = self.db.execute(
            "SELECT id FROM recipe_versions WHERE recipe = ? AND version = ? AND sha256 = ?",
            (recipe, int(version), sha256),
        ).fetchone()
        return int(row[0])

    def record_profile(self, *, recipe: str, version: int, sha256: str, summary: Mapping[str, Any]) -> int:
        """Keep a profile summary (see :func:`profile_summary`) for a recipe version; returns the version's row id.

        Profiling the same version on other logs adds a row (both summaries are kept); the same
        summary again (the same logs profiled twice) is kept once."""
        text = json.dumps(summary, sort_keys=True, default=str)
        with self.transaction():
            vid = self._version_id(recipe, version, sha256)
            self.db.execute(
                """INSERT INTO profiles (recipe_version_id, recorded_at, summary_json) SELECT ?, ?, ?
                   WHERE NOT EXISTS (SELECT 1 FROM profiles WHERE recipe_version_id = ? AND summary_json = ?)""",
                (vid, _now(), text, vid, text),
            )
        return vid

    def record_suggestions(
        self,
        records: Sequence[SuggestionRecord],
        *,
        recipe: str,
        version: int,
        sha256: str,
        run_id: str | None = None,
    ) -> str:
        """Record every mutation one suggest run evaluated, in one transaction; returns the run id.

        A mutation already recorded for this recipe version and metric is replaced (a new row id, so
        it reads as the latest), not counted again.
        """
        run = run_id or uuid.uuid4().hex
        now = _now()
        with self.transaction():
            vid = self._version_id(recipe, version, sha256)
            self.db.executemany(
                """INSERT OR REPLACE INTO suggestions (recipe_version_id, run_id, recorded_at, mutation_id, operator,
                   kind, metric, baseline, predicted_delta, predicted_lo, predicted_hi, predicted_gain, verdict,
                   detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (
                        vid, run, now, r.mutation_id, r.operator, r.kind, r.metric, _num(r.baseline),
                        _num(r.predicted_delta),
                        _num(r.predicted_ci[0]) if r.predicted_ci else None,
                        _num(r.predicted_ci[1]) if r.predicted_ci else None,
                        gain(_num(r.predicted_delta), _num(r.baseline)),
                        r.verdict,
                        json.dumps(r.detail, sort_keys=True, default=str) if r.detail is not None else None,
                    )
                    for r in records
                ],
            )  # fmt: skip
        return run

    def record_suggestion(
        self,
        *,
        recipe: str,
        version: int,
        sha256: str,
        mutation_id: str,
        operator: str,
        verdict: str,
        metric: str = "latency_p95_ms",
        predicted_delta: float | None = None,
        predicted_ci: tuple[float, float] | None = None,
        baseline: float | None = None,
        kind: str | None = None,
        detail: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record one evaluated mutation (see :meth:`record_suggestions`)."""
        rec = SuggestionRecord(
            mutation_id, operator, verdict, metric, predicted_delta, predicted_ci, baseline, kind, detail
        )
        return self.record_suggestions([rec], recipe=recipe, version=version, sha256=sha256, run_id=run_id)

    def record_observation(
        self,
        *,
        recipe: str,
        version: int,
        sha256: str,
        mutation_id: str,
        operator: str,
        outcome: str,
        metric: str = "latency_p95_ms",
        observed_delta: float | None = None,
        observed_ci: tuple[float, float] | None = None,
        baseline: float | None = None,
        predicted_delta: float | None = None,
        predicted_ci: tuple[float, float] | None = None,
        kind: str | None = None,
        detail: Mapping[str, Any] | None = None,
        canary: str | None = None,
    ) -> int:
        """Record what evaluate observed for a canaried mutation, beside what was predicted.

        ``recipe``/``version``/``sha256`` name the recipe the mutation was made from. When no
        prediction is given, the latest suggestion of the same mutation id for that recipe (any
        version) with this metric supplies it; when no ``kind`` is given, the latest suggestion of
        that mutation id (any metric) supplies it. ``canary`` identifies the canary (it is kept in
        ``detail_json``): a ``held`` observation of the same mutation in the same canary is replaced
        by this one, so evaluating a held canary again, then concluding it, leaves one row.
        Returns the observation's row id.
        """
        if outcome not in OUTCOMES:
            raise StoreError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}", code="store-outcome")
        if canary is not None:
            detail = {**(detail or {}), "canary": canary}
        with self.transaction():
            vid = self._version_id(recipe, version, sha256)
            if predicted_delta is None:
                row = self.db.execute(
                    """SELECT s.predicted_delta, s.predicted_lo, s.predicted_hi, s.baseline, s.kind
                       FROM suggestions s JOIN recipe_versions v ON v.id = s.recipe_version_id
                       WHERE v.recipe = ? AND s.mutation_id = ? AND s.metric = ? ORDER BY s.id DESC LIMIT 1""",
                    (recipe, mutation_id, metric),
                ).fetchone()
                if row is not None:
                    predicted_delta = row[0]
                    predicted_ci = (row[1], row[2]) if row[1] is not None and row[2] is not None else None
                    baseline = baseline if baseline is not None else row[3]
                    kind = kind if kind is not None else row[4]
            if kind is None:
                row = self.db.execute(
                    """SELECT s.kind FROM suggestions s JOIN recipe_versions v ON v.id = s.recipe_version_id
                       WHERE v.recipe = ? AND s.mutation_id = ? AND s.kind IS NOT NULL ORDER BY s.id DESC LIMIT 1""",
                    (recipe, mutation_id),
                ).fetchone()
                kind = row[0] if row is not None else None
            if canary is not None:
                self.db.execute(
                    """DELETE FROM observations WHERE mutation_id = ? AND outcome = 'held'
                       AND json_extract(detail_json, '$.canary') = ?""",
                    (mutation_id, canary),
                )
            od = _num(observed_delta)
            inside: int | None = None
            if od is not None and predicted_ci is not None:
                lo, hi = sorted((float(predicted_ci[0]), float(predicted_ci[1])))
                inside = int(lo <= od <= hi)
            cur = self.db.execute(
                """INSERT INTO observations (recipe_version_id, recorded_at, mutation_id, operator, kind, outcome,
                   metric, baseline, observed_delta, observed_lo, observed_hi, observed_gain, predicted_delta,
                   predicted_lo, predicted_hi, predicted_gain, inside_interval, detail_json)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    vid, _now(), mutation_id, operator, kind, outcome, metric, _num(baseline), od,
                    _num(observed_ci[0]) if observed_ci else None,
                    _num(observed_ci[1]) if observed_ci else None,
                    gain(od, _num(baseline)),
                    _num(predicted_delta),
                    _num(predicted_ci[0]) if predicted_ci else None,
                    _num(predicted_ci[1]) if predicted_ci else None,
                    gain(_num(predicted_delta), _num(baseline)),
                    inside,
                    json.dumps(detail, sort_keys=True, default=str) if detail is not None else None,
                ),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    # -- reads
    def counts(self, *, recipe: str | None = None) -> dict[str, int]:
        """Rows per table (only those of ``recipe``'s versions, when given)."""
        if recipe is None:
            return {
                t: int(self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in ("recipe_versions", "profiles", "suggestions", "observations")
            }
        versions = "SELECT id FROM recipe_versions WHERE recipe = ?"
        return {
            "recipe_versions": int(self.db.execute(f"SELECT COUNT(*) FROM ({versions})", (recipe,)).fetchone()[0]),
            **{
                t: int(self.db.execute(f"SELECT COUNT(*) FROM {t} WHERE recipe_version_id IN ({versions})", (recipe,))
                       .fetchone()[0])
                for t in ("profiles", "suggestions", "observations")
            },
        }

    def recipes(self) -> list[str]:
        """The names of the recipes the store holds something of, sorted."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT recipe FROM recipe_versions ORDER BY recipe")]

    def operator_stats(self, *, recipe: str | None = None) -> list[OperatorStats]:
        """Per operator: suggested, promoted, rolled back, mean gains, prediction error, calibration."""
        where, args = ("WHERE v.recipe = ?", (recipe,)) if recipe else ("", ())
        and_where = where.replace("WHERE", "AND")
        sug = {
            r[0]: r[1:]
            for r in self.db.execute(
                f"""SELECT s.operator, COUNT(*), SUM(s.verdict = 'improves'), AVG(s.predicted_gain)
                    FROM suggestions s JOIN recipe_versions v ON v.id = s.recipe_version_id
                    WHERE {_LATEST_SUGGESTION} {and_where}
                    GROUP BY s.operator""",
                args,
            )
        }
        obs = {
            r[0]: r[1:]
            for r in self.db.execute(
                f"""SELECT o.operator, COUNT(*), SUM(o.outcome = 'promoted'), SUM(o.outcome = 'rolled_back'),
                       SUM(o.outcome = 'held'), AVG(o.observed_gain),
                       AVG(ABS(o.observed_gain - o.predicted_gain)), AVG(o.inside_interval),
                       COUNT(o.inside_interval)
                    FROM observations o JOIN recipe_versions v ON v.id = o.recipe_version_id {where}
                    GROUP BY o.operator""",
                args,
            )
        }
        out = []
        for op in sorted(set(sug) | set(obs)):
            s = sug.get(op, (0, 0, None))
            o = obs.get(op, (0, 0, 0, 0, None, None, None, 0))
            out.append(
                OperatorStats(
                    operator=op,
                    suggested=int(s[0]),
                    simulated_improves=int(s[1] or 0),
                    mean_predicted_gain=s[2],
                    observed=int(o[0]),
                    promoted=int(o[1] or 0),
                    rolled_back=int(o[2] or 0),
                    held=int(o[3] or 0),
                    mean_observed_gain=o[4],
                    prediction_error=o[5],
                    calibration=o[6],
                    calibrated_n=int(o[7] or 0),
                )
            )
        return out

    def profiled_versions(self, *, recipe: str | None = None) -> list[ProfiledVersion]:
        """Per recipe version with at least one profile: how many, and the latest summary."""
        where, args = ("WHERE v.recipe = ?", (recipe,)) if recipe else ("", ())
        rows = self.db.execute(
            f"""SELECT v.recipe, v.version, v.sha256, COUNT(*), MAX(p.recorded_at),
                   (SELECT summary_json FROM profiles q WHERE q.recipe_version_id = v.id ORDER BY q.id DESC LIMIT 1)
                FROM profiles p JOIN recipe_versions v ON v.id = p.recipe_version_id {where}
                GROUP BY v.id ORDER BY v.recipe, v.version, MIN(p.id)""",
            args,
        ).fetchall()
        return [ProfiledVersion(r[0], int(r[1]), r[2] or None, int(r[3]), r[4], json.loads(r[5])) for r in rows]

    def evidence(self, *, recipe: str | None = None) -> list[Evidence]:
        """Bandit rewards: each observation (promoted with a gain > 0 = success; held = no evidence)
        and each simulated verdict (``improves`` = success; rejected candidates and those too few requests could
        judge are no evidence: :data:`NO_EVIDENCE`)."""
        where, args = ("AND v.recipe = ?", (recipe,)) if recipe else ("", ())
        out = [
            Evidence(op, kind, float(ok), "observed")
            for op, kind, ok in self.db.execute(
                f"""SELECT o.operator, o.kind, (o.outcome = 'promoted' AND COALESCE(o.observed_gain, 1) > 0)
                    FROM observations o JOIN recipe_versions v ON v.id = o.recipe_version_id
                    WHERE o.outcome != 'held' {where} ORDER BY o.id""",
                args,
            )
        ]
        out += [
            Evidence(op, kind, float(ok), "simulated")
            for op, kind, ok in self.db.execute(
                f"""SELECT s.operator, s.kind, (s.verdict = 'improves')
                    FROM suggestions s JOIN recipe_versions v ON v.id = s.recipe_version_id
                    WHERE s.verdict NOT IN ({", ".join("?" * len(NO_EVIDENCE))}) AND {_LATEST_SUGGESTION} {where}
                    ORDER BY s.id""",
                (*NO_EVIDENCE, *args),
            )
        ]
        return out
