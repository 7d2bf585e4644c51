"""List fields: how many items a request's list holds, and which items (identities for dedupe and keys).

Both are functions of the request (a hash of its id), never of a random stream: a request's list is
the same whichever recipe it runs through, so a log generated from a mutated recipe (more calls in
flight, batches, dedupe) sees the very lists the original one saw, and two logs compare request by
request.

* **size** (``items_mean`` m, ``items_max``, ``items_dist``): ``poisson`` is ``1 + Poisson(m - 1)``,
  ``geometric`` is the number of trials to the first success with ``p = 1 / m`` (many short lists,
  a few long ones, mean m), ``fixed`` is ``round(m)``; then capped at ``items_max``. A list holds at
  least one item: an operation with no call leaves no span, and a log could not tell it ran.
* **identities**: with a ``universe``, each item is drawn with the field's Zipf popularity over it,
  so a small universe repeats items within a request (what ``dedupe`` saves); without one every
  item is unique to its request and position.

>>> from recipemut.loggen.params import FieldParams
>>> fp = FieldParams(items_mean=4.0, items_dist="fixed")
>>> list_sizes("ids", fp, np.arange(3, dtype=np.uint64)).tolist()
[4, 4, 4]
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from recipemut.loggen.keys import U64, combine, mix, salt, unit_float, zipf_cdf, zipf_rank
from recipemut.loggen.params import FieldParams

#: the mean list size of a field an operation iterates over when ``loggen.yaml`` gives none
DEFAULT_ITEMS_MEAN = 5.0


def list_sizes(name: str, fp: FieldParams, uid: np.ndarray) -> np.ndarray:
    """Items in field ``name``'s list, per request (``uid``: the requests' uint64 identities)."""
    mean = max(float(fp.items_mean if fp.items_mean is not None else DEFAULT_ITEMS_MEAN), 1.0)
    u = unit_float(combine(salt("items", name), [uid], int(uid.size)))
    if fp.items_dist == "fixed":
        size = np.full(uid.size, float(round(mean)))
    elif fp.items_dist == "geometric":
        p = 1.0 / mean
        size = np.ceil(np.log1p(-u) / np.log1p(-p)) if p < 1 else np.ones(uid.size)
    else:  # poisson
        size = 1.0 + stats.poisson.ppf(u, mean - 1.0) if mean > 1 else np.ones(uid.size)
    size = np.maximum(np.nan_to_num(size, nan=1.0, posinf=1.0), 1.0)
    if fp.items_max is not None:
        size = np.minimum(size, max(int(fp.items_max), 1))
    return size.astype(np.int64)


def list_items(name: str, fp: FieldParams, uid: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The items of every request's list, flattened in list order: (request position, item id).

    >>> from recipemut.loggen.params import FieldParams
    >>> req, ids = list_items("ids", FieldParams(universe=1), np.arange(2, dtype=np.uint64), np.array([2, 1]))
    >>> req.tolist(), len(set(ids.tolist()))
    ([0, 0, 1], 1)
    """
    total = int(sizes.sum())
    req = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)
    first = np.cumsum(sizes) - sizes
    pos = (np.arange(total, dtype=np.int64) - first[req]).astype(U64)
    h = combine(salt("item", name), [uid[req], pos], total)
    if fp.universe:
        ranks = zipf_rank(unit_float(h), zipf_cdf(int(fp.universe), fp.zipf))
        return req, mix(ranks ^ salt("field", name))
    return req, h
