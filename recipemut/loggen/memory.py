"""What generating a log takes in memory, estimated before any of it is generated.

:func:`~recipemut.loggen.generate_spans` builds the whole span table in memory (the random draws
run operation by operation over every request, a cache is replayed over all of them and the rows
are sorted by start time across requests), and the writers build the file's text or table from it:
the peak grows with the spans, about a kilobyte each. :func:`pilot` measures a recipe's
spans per request on a small pilot (fan-out, retries, branches, halts and errors as its parameters
make them); :func:`peak_bytes` turns the expected spans into a peak resident size, by the figures
measured with ``/usr/bin/time -v recipemut generate recipes/checkout/recipe.yaml`` (see
``docs/commands/generate.md``, *Memory*).

>>> peak_bytes(0, ".jsonl") == BASE_BYTES
True
>>> round(peak_bytes(1_000_000, ".jsonl.gz") / 2**30, 2), round(peak_bytes(1_000_000, ".parquet") / 2**30, 2)
(1.18, 1.01)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from recipemut.logs.sources import PARQUET_SUFFIXES

#: the process before any span: Python, numpy, pandas, pyarrow and the recipe (the intercept of the
#: measured peaks, 249 and 247 MB)
BASE_BYTES = 256 << 20
#: peak bytes per span, by what is written: JSON lines (plain, gzip, zstd) keep the spans, the lines'
#: columns and the lines at once; Parquet keeps the table it writes. Measured slopes between 433,537 and
#: 1,443,545 spans of checkout: 961 and 783 bytes; a fan-out log's spans carry span_id and attempt too.
BYTES_PER_SPAN = {".jsonl": 1000, ".jsonl.gz": 1000, ".jsonl.zst": 1000, **dict.fromkeys(PARQUET_SUFFIXES, 820)}
#: more bytes per span when the spans carry the call columns (a fan-out, retries, nesting: ``span_id``,
#: ``attempt``, ...): the hotrod recipe of the generate page, 277,440 and 832,767 spans to .jsonl.gz,
#: 574,396 and 1,219,604 kB, a slope of 1,190 bytes
CALL_BYTES = 200
#: requests in the pilot :func:`pilot` generates
PILOT_REQUESTS = 500


def pilot(generate: Callable[[int], pd.DataFrame], requests: int = PILOT_REQUESTS) -> tuple[float, bool]:
    """The spans per request ``generate(n)`` (the generation, every setting but the request count fixed)
    gives on ``requests`` requests (the mean over a pilot, as the recipe's parameters shape it), and
    whether its spans carry the call columns (``span_id``).

    >>> pilot(lambda n: pd.DataFrame({"request_id": [f"r{i // 3}" for i in range(3 * n)]}), 10)
    (3.0, False)
    """
    df = generate(requests)
    return (len(df) / requests if requests else 0.0), "span_id" in df.columns


def span_bytes(suffix: str, calls: bool = False) -> int:
    """Peak bytes per span writing a file ending in ``suffix`` (one of :data:`BYTES_PER_SPAN`'s keys),
    spans with the call columns when ``calls``."""
    return BYTES_PER_SPAN[suffix] + (CALL_BYTES if calls else 0)


def peak_bytes(spans: float, suffix: str, calls: bool = False) -> int:
    """The peak resident size of ``generate`` writing ``spans`` spans to a file ending in ``suffix``
    (:func:`span_bytes`)."""
    return BASE_BYTES + math.ceil(spans * span_bytes(suffix, calls))


def spans_that_fit(budget: int, suffix: str, calls: bool = False) -> int:
    """The most spans whose peak (:func:`peak_bytes`) is within ``budget`` bytes (0 under the base).

    >>> spans_that_fit(BASE_BYTES + 10_000, ".jsonl"), spans_that_fit(1, ".jsonl")
    (10, 0)
    """
    return max(0, (budget - BASE_BYTES) // span_bytes(suffix, calls))


def round_down(x: float, digits: int = 2) -> float:
    """``x`` rounded down to ``digits`` significant digits, so a suggestion made of it still fits.

    >>> round_down(0.123456), round_down(987_654), round_down(0.0)
    (0.12, 980000.0, 0.0)
    """
    if x <= 0:
        return 0.0
    scale = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return math.floor(x / scale + 1e-9) * scale
