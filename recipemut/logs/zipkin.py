"""Zipkin v2 JSON traces: a list of spans (or a list of traces, each a list of spans).

A span: ``{"traceId", "id", "parentId", "name", "kind", "timestamp", "duration",
"localEndpoint": {"serviceName"}, "remoteEndpoint": {"serviceName"}, "tags": {...}, "shared"}``.
Times are microseconds; a span without ``timestamp`` or ``duration`` (an incomplete half), or with
one beyond 146 years, has no latency and is counted as invalid by normalisation. The presence of an
``error`` tag marks an error (Zipkin's convention; its value is the message). The client and server halves of one RPC
share an ``id``; normalisation merges them.

:func:`parse` reads a file with :mod:`.zipkinfast` (msgspec typed structs, columns built with arrow)
and hands what that declines to :func:`parse_spans`, the per-span reader below: several documents
in one file, JSON that only Python's ``json`` reads, a part of an odd shape. Both give the same
table; the errors (malformed JSON, a span that is not an object, an object where an id is text)
are the per-span reader's, naming the line or the span.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from recipemut.logs import zipkinfast
from recipemut.logs.common import Columns, attr_str, iter_documents, micros_ns, shape_error, text


def _spans(doc: Any, path: Path) -> list[Any]:
    if not isinstance(doc, list):
        raise shape_error(path, "expected a JSON list of spans", "Zipkin document")
    if doc and all(isinstance(t, list) for t in doc):  # /api/v2/traces: a list of traces
        return [sp for t in doc for sp in t]
    return doc


def parse(data: bytes, path: Path, attributes: Iterable[str]) -> pd.DataFrame:
    """The raw span frame of a Zipkin v2 JSON file: :mod:`.zipkinfast`'s columns, or
    :func:`parse_spans` where that declines the file."""
    table = zipkinfast.parse_table(data, path, attributes)
    return parse_spans(data, path, attributes) if table is None else table.to_pandas()


def parse_spans(data: bytes, path: Path, attributes: Iterable[str]) -> pd.DataFrame:
    """The raw span frame of a Zipkin v2 JSON file, read span by span (any number of documents)."""
    cols = Columns(attributes)
    c = cols.cols
    keys = cols.attr_keys
    attrs = cols.attrs
    index = 0
    for doc in iter_documents(data, path):
        for sp in _spans(doc, path):
            index += 1
            if not isinstance(sp, dict):
                raise shape_error(path, "expected a span object", f"span {index}")
            tags = sp.get("tags") or {}
            if not isinstance(tags, dict):
                tags = {}
            where = f"span {index}"
            local = sp.get("localEndpoint") or {}
            remote = sp.get("remoteEndpoint") or {}
            kind = sp.get("kind")
            parent = text(sp.get("parentId") or None, path, where, "parentId")
            c["trace_id"].append((text(sp.get("traceId"), path, where, "traceId") or "").lower())
            c["span_id"].append((text(sp.get("id"), path, where, "id") or "").lower())
            c["parent_id"].append(parent.lower() if parent else None)
            c["parent_trace_id"].append(None)
            c["name"].append(text(sp.get("name"), path, where, "name") or "")
            svc = (
                text(local.get("serviceName"), path, where, "localEndpoint.serviceName")
                if isinstance(local, dict)
                else None
            )
            c["service"].append(svc)
            peer = (
                text(remote.get("serviceName"), path, where, "remoteEndpoint.serviceName")
                if isinstance(remote, dict)
                else None
            )
            c["peer_service"].append(peer or attr_str(tags.get("peer.service")))
            c["kind"].append(kind.lower() if isinstance(kind, str) else None)
            c["start_ns"].append(micros_ns(sp.get("timestamp")))
            c["dur_ns"].append(micros_ns(sp.get("duration")))
            c["error"].append("error" in tags)
            c["shared"].append(bool(sp.get("shared")))
            c["foreign_ref"].append(False)
            c["index"].append(index)
            for k in keys:
                attrs[k].append(tags.get(k))
    return cols.frame()
