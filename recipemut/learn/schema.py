"""The store's schema, version by version: each migration takes the database one version up.

Schema (version 3, ``PRAGMA user_version``)
    ``recipe_versions(id, recipe, version, sha256, first_seen)`` — one row per recipe version seen,
    unique on (recipe, version, sha256).
    ``profiles(id, recipe_version_id, recorded_at, summary_json)`` — every profile summary recorded
    for a version (requests, time range, per-operation p50/p95/mean, busy ms per service).
    ``suggestions(id, recipe_version_id, run_id, recorded_at, mutation_id, operator, kind, metric,
    baseline, predicted_delta, predicted_lo, predicted_hi, predicted_gain, verdict, detail_json)`` —
    every mutation suggest evaluated, with its simulated effect on ``metric`` (a delta in the metric's
    unit, its interval, and the *gain* ``-delta / baseline``: the relative improvement, > 0 is better).
    Unique on (recipe_version_id, mutation_id, metric): suggesting again on the same recipe version
    replaces the row (the latest run's prediction), so reruns do not multiply the evidence; statistics
    and bandit evidence count one row per (version, mutation), the latest.
    ``observations(id, recipe_version_id, recorded_at, mutation_id, operator, kind, outcome, metric,
    baseline, observed_delta, observed_lo, observed_hi, observed_gain, predicted_delta, predicted_lo,
    predicted_hi, predicted_gain, inside_interval, detail_json)`` — every effect evaluate observed on
    a canary, beside what was predicted; ``inside_interval`` is 1 when the observed delta fell in the
    predicted interval (calibration), NULL without a prediction.

Migrations
    :data:`MIGRATIONS` is an ordered list; migration ``i`` takes the database from version ``i`` to
    ``i + 1``. :meth:`recipemut.learn.store.Store.open` applies the missing ones inside one
    ``BEGIN IMMEDIATE`` transaction, re-reading ``user_version`` under the lock, so two processes
    opening an old store at once migrate it once. A store newer than this recipemut is refused
    (never downgraded).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable


def _statements(script: str) -> Callable[[sqlite3.Connection], None]:
    """A migration from a SQL script, run statement by statement (``executescript`` would COMMIT
    the surrounding transaction)."""
    statements = [s.strip() for s in script.split(";") if s.strip()]

    def run(db: sqlite3.Connection) -> None:
        for sql in statements:
            db.execute(sql)

    return run


_v1 = _statements(
    """
        CREATE TABLE recipe_versions (
            id INTEGER PRIMARY KEY,
            recipe TEXT NOT NULL,
            version INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            profile_json TEXT,
            UNIQUE (recipe, version, sha256)
        );
        CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY,
            recipe_version_id INTEGER NOT NULL REFERENCES recipe_versions(id),
            run_id TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            mutation_id TEXT NOT NULL,
            operator TEXT NOT NULL,
            kind TEXT,
            metric TEXT NOT NULL,
            baseline REAL,
            predicted_delta REAL,
            predicted_lo REAL,
            predicted_hi REAL,
            predicted_gain REAL,
            verdict TEXT NOT NULL,
            detail_json TEXT
        );
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            recipe_version_id INTEGER NOT NULL REFERENCES recipe_versions(id),
            recorded_at TEXT NOT NULL,
            mutation_id TEXT NOT NULL,
            operator TEXT NOT NULL,
            kind TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('promoted', 'rolled_back', 'held')),
            metric TEXT NOT NULL,
            baseline REAL,
            observed_delta REAL,
            observed_lo REAL,
            observed_hi REAL,
            observed_gain REAL,
            predicted_delta REAL,
            predicted_lo REAL,
            predicted_hi REAL,
            predicted_gain REAL,
            inside_interval INTEGER,
            detail_json TEXT
        );
        """
)

# v2: keep every profile summary (v1 kept only the latest, on the version row); index by operator
_v2 = _statements(
    """
        CREATE TABLE profiles (
            id INTEGER PRIMARY KEY,
            recipe_version_id INTEGER NOT NULL REFERENCES recipe_versions(id),
            recorded_at TEXT NOT NULL,
            summary_json TEXT NOT NULL
        );
        INSERT INTO profiles (recipe_version_id, recorded_at, summary_json)
            SELECT id, first_seen, profile_json FROM recipe_versions WHERE profile_json IS NOT NULL;
        ALTER TABLE recipe_versions DROP COLUMN profile_json;
        CREATE INDEX suggestions_operator ON suggestions (operator, kind);
        CREATE INDEX observations_operator ON observations (operator, kind);
        CREATE INDEX suggestions_mutation ON suggestions (recipe_version_id, mutation_id);
        """
)


# v3: one suggestion per (recipe version, mutation id, metric): re-running suggest on the same recipe
# replaces its rows instead of adding more, so the bandit's evidence does not grow with every rerun.
# Existing duplicates collapse to the latest row.
_v3 = _statements(
    """
        DELETE FROM suggestions WHERE id NOT IN (
            SELECT MAX(id) FROM suggestions GROUP BY recipe_version_id, mutation_id, metric
        );
        DROP INDEX IF EXISTS suggestions_mutation;
        CREATE UNIQUE INDEX suggestions_unique ON suggestions (recipe_version_id, mutation_id, metric);
        """
)

#: migration i takes user_version i to i + 1
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3)
SCHEMA_VERSION = len(MIGRATIONS)


def _columns(db: sqlite3.Connection) -> dict[str, list[str]]:
    """Each table of ``db`` (SQLite's own left out) with its columns."""
    listed = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    tables = [r[0] for r in listed]
    return {t: [r[1] for r in db.execute('PRAGMA table_info("{}")'.format(t.replace('"', '""')))] for t in tables}


@functools.cache
def expected_columns() -> dict[str, tuple[str, ...]]:
    """The tables and columns a store of :data:`SCHEMA_VERSION` has: the migrations run on an empty database."""
    db = sqlite3.connect(":memory:")
    try:
        for migrate in MIGRATIONS:
            migrate(db)
        return {t: tuple(cols) for t, cols in _columns(db).items()}
    finally:
        db.close()


def foreign_tables(db: sqlite3.Connection) -> list[str]:
    """The tables of a database at schema version 0 (never migrated): another program's, when there are any.

    >>> db = sqlite3.connect(":memory:"); _ = db.execute("CREATE TABLE foo (x)")
    >>> foreign_tables(db)
    ['foo']
    """
    return sorted(_columns(db))


def schema_problem(db: sqlite3.Connection) -> str | None:
    """What a store at :data:`SCHEMA_VERSION` lacks of its tables and columns (a table dropped or altered by
    hand, another program's file), in words; ``None`` when it has them all.

    >>> db = sqlite3.connect(":memory:")
    >>> for m in MIGRATIONS: m(db)
    >>> schema_problem(db) is None
    True
    >>> _ = db.execute("ALTER TABLE suggestions DROP COLUMN predicted_gain")
    >>> schema_problem(db)
    'table suggestions has no column predicted_gain'
    """
    have = _columns(db)
    for table, cols in expected_columns().items():
        if table not in have:
            return f"it has no table {table}"
        lost = [c for c in cols if c not in have[table]]
        if lost:
            return f"table {table} has no column{'s' if len(lost) > 1 else ''} {', '.join(lost)}"
    return None
