"""The log generator: realistic execution logs for a recipe, vectorised over requests.

Used by the shipped examples (``recipes/*/logs.jsonl.gz``), by tests that need traffic with a
*known* shape (a growth rate, a daily cycle, an improvement on a canary) and by the benchmarks.
:func:`generate_spans` returns a span table (:data:`recipemut.logs.spans.SPAN_SCHEMA`) and
:func:`write_jsonl` writes it in the native log format.

Semantics are those of the simulator (docs/ARCHITECTURE.md): an operation starts when all its DAG
predecessors (data and ``after`` edges) have finished, the request starts at its arrival time, and
an operation that ends ``halted`` or ``error`` keeps its DAG descendants from running.

The model, per request and operation:

* **arrivals**: a non-homogeneous Poisson process conditioned on ``n_requests`` arrivals over
  ``duration_s``; its intensity is :func:`rate_function` (daily and weekly cosine cycles,
  exponential growth);
* **latency** (ms): lognormal body ``median * exp(sigma * Z)``; with probability ``tail_share``
  a Pareto tail ``median * tail_scale * (1 + Lomax(tail_alpha))`` instead; plus
  ``bytes_in / throughput_bytes_per_ms`` (bytes drive latency); counted in integer ticks of
  10 µs, so a successor's start equals its predecessor's end exactly;
* **field values**: every field carries a value id per request. Inputs with a ``universe`` draw
  it with Zipf popularity; a deterministic operation's products are a hash of what it consumed
  (mapped onto the field's universe when it has one, keeping Zipf popularity); other products are
  fresh random values. ``cache_key`` (deterministic operations only) is a hex hash of the consumed
  fields' names and values, so identical inputs give identical keys whoever consumes them;
* **bytes**: each field value has a lognormal size around ``bytes_mean``; ``bytes_in`` is the sum
  over consumed fields, ``bytes_out`` over produced fields;
* **cost** ``cost_per_call_usd * (1 + cost_noise * Z)``; **cpu** a share of latency; **memory**
  a base plus the bytes held.

What mutations write into a recipe shows in its logs, as it would in production: a field's
``format``/``compression`` scales its bytes (loggen sizes are plain-JSON sizes) and adds or saves
codec time (:mod:`recipemut.predict.bytesmodel`'s table); an operation's ``cache`` answers repeated keys
with ``hit_latency_ms`` at no cost (:func:`recipemut.predict.cachesim.hits`, expire-after-write); a
``hedge`` sends up to ``max_extra`` duplicates ``after_ms`` apart, keeps the first answer and
pays for every call. A canary kept under ``variants:`` runs through its own recipe.

Fan-out, batches, retries and branches (:mod:`recipemut.loggen.items`,
:mod:`recipemut.loggen.fanout`): an operation with ``foreach`` calls once per ``batch_size`` items
of its request's list on ``concurrency`` slots (greedy list scheduling), each attempt a span with
``span_id``, ``attempt`` and ``items``; ``retry`` tries a failed call again; an operation with
``when`` runs on ``when_prob`` of the requests, and where it does not, its descendants do not run
either (an operation runs when every predecessor ran). A recipe without these keys gets exactly
the log it always got. Nested spans (:mod:`recipemut.loggen.nested`): an operation given
``inside: <caller>`` in ``loggen.yaml`` names the caller's span as its ``parent_span_id``, and the
caller's span is recorded to enclose its callees' (the schedule does not change).

>>> from recipemut.recipe.model import recipe_from_dict
>>> r = recipe_from_dict(synthetic_recipe(8, seed=1))
>>> df = generate_spans(r, 50, seed=3)
>>> set(df["status"]) <= {"ok", "error", "halted"}, df["request_id"].nunique()
(True, 50)
"""

from __future__ import annotations

from recipemut.loggen.arrivals import DAY_MS, DEFAULT_PEAK_HOUR, DEFAULT_START_MS, rate_function
from recipemut.loggen.generate import TICKS_PER_MS, generate_spans
from recipemut.loggen.jsonl import write_jsonl
from recipemut.loggen.keys import hash_share
from recipemut.loggen.params import FieldParams, LoggenParams, OpParams, load_params, params_from_dict
from recipemut.loggen.synthetic import synthetic_recipe

__all__ = [
    "DAY_MS",
    "DEFAULT_PEAK_HOUR",
    "DEFAULT_START_MS",
    "TICKS_PER_MS",
    "FieldParams",
    "LoggenParams",
    "OpParams",
    "generate_spans",
    "hash_share",
    "load_params",
    "params_from_dict",
    "rate_function",
    "synthetic_recipe",
    "write_jsonl",
]
