"""Whether the logs hold enough requests for suggest's judge, and about how many would.

The offline A/B (:mod:`recipemut.judge.abtest`) splits the replayed requests by a hash of their id,
``treatment_share`` (10% by default) to the treatment arm. Its tests want, as ``evaluate`` wants of
each arm of a canary before deciding, at least :data:`MIN_ARM_REQUESTS` requests in each arm: by the
usual normal approximation, a two-sided test at 5% with 80% power on ``m`` requests per arm detects
a shift of about ``2.8 * sqrt(2 / m)`` standard deviations (``sqrt(pi / 3)`` more for Mann-Whitney
on normal data), 0.28 of one at ``m = 200`` (0.29 for Mann-Whitney). So the requests needed are about
``MIN_ARM_REQUESTS / min(share, 1 - share)``: 2,000 at the default 10%. A rough figure, to say how
far off a small log is, not a guarantee: the paired replay of every request decides most verdicts and
may need fewer, a heavy tail more.

:func:`too_few_requests` is the report's optional ``too_few_requests`` (absent when the logs are
enough, or when no candidate was judged inconclusive: then nothing was waiting on more data).
"""

from __future__ import annotations

import math
from typing import Any

#: requests wanted in each arm of the A/B (as ``evaluate``'s ``--min-requests`` default for a canary)
MIN_ARM_REQUESTS = 200


def requests_needed(share: float, per_arm: int = MIN_ARM_REQUESTS) -> int:
    """About how many requests put ``per_arm`` in the smaller arm of a ``share`` split.

    >>> requests_needed(0.1), requests_needed(0.5), requests_needed(0.9)
    (2000, 400, 2000)
    """
    return math.ceil(per_arm / min(share, 1 - share) - 1e-9)


def too_few_requests(
    requests: int, share: float, *, inconclusive: int, sample: tuple[float, int] | None = None, unjudged: int = 0
) -> dict[str, Any] | None:
    """The report's ``too_few_requests`` when ``requests`` replayed are fewer than the A/B needs at
    ``share`` and ``inconclusive`` candidates were found no significant difference, or ``unjudged``
    ones could not be judged at all (too few requests for an interval); else None.

    ``sample`` is ``(fraction, requests in the logs)`` when ingest replayed a sample of the requests
    (``--sample-requests``, the memory budget): ``sample_requests_enough`` is then the fraction that
    would replay enough of the logs' requests, scaled from what ``fraction`` replayed (fewer than
    needed: so more than ``fraction``), 10% over (1 when only all of them would), or None when even
    all of them would replay too few (about ``requests / fraction``: some are left out before the
    replay); the sentence says so rather than asking for more logs.

    >>> d = too_few_requests(4, 0.1, inconclusive=6)
    >>> d["needed"], d["more"], d["treatment_share_enough"]
    (2000, 1996, None)
    >>> too_few_requests(1500, 0.1, inconclusive=3)["treatment_share_enough"]
    0.14
    >>> too_few_requests(4, 0.1, inconclusive=0) is None, too_few_requests(2000, 0.1, inconclusive=5) is None
    (True, True)
    >>> too_few_requests(500, 0.1, inconclusive=2, sample=(0.1, 5000))["sample_requests_enough"]
    0.44
    >>> too_few_requests(1990, 0.1, inconclusive=1, sample=(0.56, 4000))["sample_requests_enough"]
    0.62
    >>> too_few_requests(500, 0.1, inconclusive=2, sample=(0.5, 1000))["sample_requests_enough"] is None
    True
    >>> too_few_requests(900, 0.1, inconclusive=1, sample=(0.5, 2000))["sample_requests_enough"] is None  # ~1,800
    True
    """
    needed = requests_needed(share)
    if requests >= needed or inconclusive + unjudged == 0:
        return None
    enough = None  # the treatment share that would put MIN_ARM_REQUESTS in each arm of these requests
    if requests >= 2 * MIN_ARM_REQUESTS:
        enough = math.ceil(100 * MIN_ARM_REQUESTS / requests) / 100
    d: dict[str, Any] = {
        "requests": requests,
        "treatment_share": share,
        "treatment_requests": round(requests * share),  # about: the split is by a hash of the id
        "per_arm": MIN_ARM_REQUESTS,
        "needed": needed,
        "more": needed - requests,
        "treatment_share_enough": enough,
        "inconclusive": inconclusive,
        "unjudged": unjudged,
    }
    if sample is not None and sample[0] < 1:
        fraction, total = sample
        # scaled from what this fraction replayed (its hash's draw, the requests left out before replay), with
        # a margin: the sample is by a hash, not exact
        wanted = fraction * needed / max(requests, 1) * 1.1
        every = requests / fraction  # about what replaying every request of the logs gives (some are left out)
        d["sample"] = {"fraction": fraction, "requests_total": total}
        d["sample_requests_enough"] = None if every < needed else min(1.0, math.ceil(wanted * 100 - 1e-9) / 100)
    d["message"] = too_few_words(d)
    return d


def too_few_words(d: dict[str, Any]) -> str:
    """The sentence of a ``too_few_requests``.

    >>> said = too_few_words(too_few_requests(4, 0.1, inconclusive=6))
    >>> said.split(": ")[0], "about 0 of them in the offline A/B's 10% treatment arm" in said
    ('The logs are too few to judge', True)
    >>> "about 2,000 requests are needed (1,996 more)" in said, said.endswith('difference" on them.')
    (True, True)
    >>> too_few_words(too_few_requests(1, 0.1, inconclusive=0, unjudged=2)).split(". ")[-1]
    '2 candidates not judged: an interval needs at least 2 requests.'

    """
    n, more, share = d["requests"], d["more"], d["treatment_share"]
    which = "sample is" if d.get("sample_requests_enough") else "logs are"  # a larger sample would do
    said = (
        f"The {which} too few to judge: {n:,} request{'s' if n != 1 else ''} replayed, about "
        f"{d['treatment_requests']:,} of them in the offline A/B's {100 * share:.0f}% treatment arm, where the judge "
        f"wants about {d['per_arm']:,} in each arm (as `evaluate` wants of a canary's); about {d['needed']:,} requests "
        f"are needed ({more:,} more)"
    )
    if "sample" in d:  # the logs hold more than the sample replayed
        f, total, enough = d["sample"]["fraction"], d["sample"]["requests_total"], d["sample_requests_enough"]
        said += f"; the sample of {f:.4g} replayed {n:,} of the logs' {total:,} requests: "
        said += (f"--sample-requests {enough:g} replays enough" if enough is not None
                 else "reading every request (--sample-requests 1) will not reach it either")
    if d["treatment_share_enough"] is not None:
        said += f", or --treatment-share {d['treatment_share_enough']:g} on these"
    k, u = d["inconclusive"], d.get("unjudged", 0)
    parts = [f'{k:,} candidate{"s" if k != 1 else ""} judged "no significant difference" on them'] if k else []
    if u:
        parts.append(f"{u:,} candidate{'s' if u != 1 else ''} not judged: an interval needs at least 2 requests")
    return said + ". " + "; ".join(parts) + "."
