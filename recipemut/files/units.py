"""Figures with their units as a person reads them: one wording for every command.

Text, markdown and the HTML report say a figure through these helpers, so ``profile``, ``suggest``,
``evaluate`` and the rest say it alike; ``--format json`` gives the bare numbers and never comes here.

- milliseconds have thousands separators, in sentences and table cells alike: ``1,872.7 ms``; a figure under
  0.1 ms, which one decimal would give as ``0.0`` or ``0.1``, keeps two significant digits (``0.0025 ms``,
  ``-0.04 ms``), so spans of microseconds never all read ``0.0``;
- a change of a rate (error, halt) is in percentage points, ``pt`` after a space: ``+0.25 pt``;
- a change of cost is in dollars per request to six places, or to two significant digits when it is
  smaller (``+$0.00000068``), so a real change never reads ``+$0.000000``; no change reads ``$0``;
- a cost is written the same way, unsigned (``$0.00000068``), so a real cost never reads ``$0.000000``;
  a cost of none reads ``$0``;
- a time ahead is in days, to one decimal, the word spelt out: ``13.6 days`` (not ``13.6 d`` beside ``14 days``);
- a count takes its noun in the number it needs: ``1 span``, ``2 spans``, never ``span(s)``.
"""

from __future__ import annotations

import math

#: milliseconds smaller than this (a nanosecond, the finest time a trace records) are the rounding of sums of
#: times, not a time: they read ``0.0`` (``+0.0`` as a change)
MS_NOISE = 1e-6

#: a change of cost smaller than this (dollars per request) is the rounding of sums of prices, not a change a
#: price makes: it reads ``$0``
USD_NOISE = 1e-12


def ms_text(value: float, *, signed: bool = False, unit: bool = True, decimals: int | None = 1,
            clock: bool = False) -> str:  # fmt: skip
    """Milliseconds with thousands separators: ``1,872.7 ms``.

    A figure under the last place ``decimals`` gives (0.1 ms at one decimal), which would read ``0.0`` or
    ``0.1``, keeps two significant digits (``0.0025 ms``, ``0.096 ms``), so a span of microseconds does not read
    as none; larger figures keep ``decimals`` (``0.3 ms``); under a nanosecond (``MS_NOISE``) a figure reads ``0.0``.
    ``signed`` gives a change its sign (what rounds to zero reads ``+0.0``, never ``-0.0``); ``unit=False``
    leaves out `` ms`` (a table cell under an ``ms`` header, an interval's ends); ``decimals=None`` writes a
    value as a recipe gives it (``1,200``, ``142.4``); ``clock`` adds minutes to a span of a minute or more.
    Not a number: ``-``.

    >>> ms_text(1872.74), ms_text(-1e-9, signed=True), ms_text(-1004.5, signed=True, unit=False)
    ('1,872.7 ms', '+0.0 ms', '-1,004.5')
    >>> ms_text(0.0025), ms_text(0.004), ms_text(-0.04, signed=True), ms_text(0.0957, unit=False), ms_text(0.29)
    ('0.0025 ms', '0.004 ms', '-0.04 ms', '0.096', '0.3 ms')
    >>> ms_text(1200.0, decimals=None), ms_text(142.4, decimals=None), ms_text(386_000, clock=True)
    ('1,200 ms', '142.4 ms', '386,000.0 ms (6m26s)')
    >>> ms_text(float("nan"))
    '-'
    """
    if not math.isfinite(value):
        return "-"
    if decimals is None:
        digits = f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"
    else:
        places = decimals
        if MS_NOISE <= abs(value) < min(1.0, 10.0**-decimals):  # two significant digits: 0.0025, not 0.0
            places = max(decimals, 1 - math.floor(math.log10(abs(value))))
        v = round(value, places) + 0.0  # + 0.0 turns -0.0 into 0.0
        digits = f"{v:{'+' if signed else ''},.{places}f}"
        if places > decimals:  # 0.0090 reads 0.009, 0.50 reads 0.5, as the decimals asked give them
            whole, frac = digits.split(".")
            digits = f"{whole}.{frac[:decimals] + frac[decimals:].rstrip('0')}".rstrip(".")
    text = f"{digits} ms" if unit else digits
    if not (clock and abs(value) >= 60_000):
        return text
    seconds = round(abs(value) / 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{text} ({hours}h{rest // 60:02d}m)" if hours else f"{text} ({rest // 60}m{rest % 60:02d}s)"


def ms_short(value: float) -> str:
    """A latency quoted in a sentence: one decimal under 100 ms, whole above.

    >>> ms_short(95.14), ms_short(1178.9)
    ('95.1 ms', '1,179 ms')
    """
    return ms_text(value, decimals=1 if abs(value) < 100 else 0)


def pt_text(share: float, *, signed: bool = False, decimals: int = 2) -> str:
    """A rate's change, or an error of gains, in percentage points: ``+0.25 pt`` for a share of 0.0025.

    >>> pt_text(0.0025, signed=True), pt_text(0.005, decimals=1), pt_text(-0.0011, signed=True)
    ('+0.25 pt', '0.5 pt', '-0.11 pt')
    >>> pt_text(-0.00001, signed=True)
    '+0.00 pt'
    """
    v = round(100 * share, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{v:{'+' if signed else ''}.{decimals}f} pt"


def usd_change(x: float) -> str:
    """A change of cost in dollars, signed: to six places, as every cost in the text is, and to two
    significant digits below a millionth, so a real change never reads as none; ``$0`` for no change.

    >>> usd_change(-0.000498), usd_change(2.97e-05), usd_change(6.84e-07), usd_change(1.17e-06), usd_change(2e-06)
    ('-$0.000498', '+$0.000030', '+$0.00000068', '+$0.0000012', '+$0.000002')
    >>> usd_change(0.0), usd_change(-8.7e-19), usd_change(float("nan"))
    ('$0', '$0', '-')
    """
    if not math.isfinite(x):
        return "-"
    if abs(x) < USD_NOISE:
        return "$0"
    return f"{'-' if x < 0 else '+'}${_usd_digits(abs(x))}"


def usd_text(x: float, *, unit: bool = True) -> str:
    """A cost in dollars (per request, per call), as :func:`usd_change` writes a change but without a sign:
    six places, and two significant digits below a millionth, so a real cost never reads as none; a cost of
    none (under a picodollar, the rounding of sums of prices) reads ``$0``, as no change does, so
    ``$0.000000`` is never written. ``unit=False`` leaves out the ``$`` (a cell under a ``cost $`` header).
    Not a number: ``-``.

    >>> usd_text(0.006917), usd_text(3.1e-08), usd_text(1.17e-06), usd_text(4.8e-08, unit=False)
    ('$0.006917', '$0.000000031', '$0.0000012', '0.000000048')
    >>> usd_text(0.0), usd_text(4e-19, unit=False), usd_text(float("nan"))
    ('$0', '0', '-')
    """
    if not math.isfinite(x):
        return "-"
    digits = _usd_digits(abs(x)) if abs(x) >= USD_NOISE else "0"
    return f"{'-' if x < 0 and digits != '0' else ''}{'$' if unit else ''}{digits}"


def _usd_digits(x: float) -> str:
    """A positive amount (at least :data:`USD_NOISE`) to six places, or two significant digits below that."""
    digits = f"{x:.{max(6, 1 - math.floor(math.log10(x)))}f}"
    whole, frac = digits.split(".")
    return f"{whole}.{frac[:6] + frac[6:].rstrip('0')}"  # 0.0000020 reads 0.000002, as six places give it


def days_text(days: float) -> str:
    """Days (from the end of the logs, say) as forecast, suggest and the report all give them.

    >>> days_text(13.6288), days_text(1.0)
    ('13.6 days', '1.0 days')
    """
    return f"{days:.1f} days"


def counted(n: float, noun: str, plural: str | None = None) -> str:
    """A count and its noun, singular for one: ``1 span``, ``3,964 spans``, ``1.5 items``, never ``span(s)``.

    >>> counted(1, "span"), counted(3964, "span"), counted(0, "round"), counted(1.5, "item"), counted(2, "run", "runs")
    ('1 span', '3,964 spans', '0 rounds', '1.5 items', '2 runs')
    """
    number = f"{int(n):,}" if float(n).is_integer() else f"{n:g}"
    return f"{number} {noun if n == 1 else plural or noun + 's'}"
