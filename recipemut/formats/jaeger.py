"""Jaeger JSON traces, in the shapes Jaeger's query API, UI and tools write.

* the query API: ``{"data": [trace, ...], "total": ..., "errors": ...}``;
* one trace: ``{"traceID": ..., "spans": [...], "processes": {"p1": {"serviceName": ...}}}``
  (UI downloads, the UI's and the model's fixtures), or a list of such traces;
* a list of spans, each carrying its ``process`` inline (the anonymizer's ``uiconv`` output).

Times are microseconds. The parent is the first ``CHILD_OF`` reference (else the first reference,
else the legacy ``parentSpanID``); a reference into another trace is kept in ``parent_trace_id`` so
that normalisation can count it. ``error=true`` (bool or string) marks an error. Process tags
(``sampler.type``/``sampler.param``, ...) apply to every span of the process unless the span
carries the tag itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .common import Columns, attr_str, iter_documents, shape_error, to_int


def _tags(tags: Any) -> dict[str, Any]:
    if isinstance(tags, dict):  # some exporters write tags as an object
        return tags
    return {str(t.get("key")): t.get("value") for t in tags or () if isinstance(t, dict)}


def _traces(doc: Any, path: Path) -> list[dict[str, Any]]:
    """Normalise every Jaeger shape to a list of ``{"spans": [...], "processes": {...}}``."""
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        traces = doc["data"]
    elif isinstance(doc, dict) and "spans" in doc:
        traces = [doc]
    elif isinstance(doc, list) and all(isinstance(t, dict) and "spans" in t for t in doc):
        traces = doc
    elif isinstance(doc, list):
        traces = [{"spans": doc, "processes": {}}]
    else:
        raise shape_error(
            path, "expected {'data': [...]}, a trace {'spans': [...]} or a list of spans", "Jaeger document"
        )
    for i, t in enumerate(traces):
        if not isinstance(t, dict) or not isinstance(t.get("spans"), list):
            raise shape_error(path, "expected a trace object with a 'spans' list", f"trace {i}")
    return traces


def parse(data: bytes, path: Path, attributes: Iterable[str]) -> pd.DataFrame:
    """The raw span frame of a Jaeger JSON file."""
    cols = Columns(attributes)
    c = cols.cols
    keys = cols.attr_keys
    attrs = cols.attrs
    index = 0
    for doc in iter_documents(data, path):
        for trace in _traces(doc, path):
            processes = trace.get("processes") or {}
            proc_cache: dict[str, tuple[str | None, dict[str, Any]]] = {}
            for sp in trace["spans"]:
                index += 1
                if not isinstance(sp, dict):
                    raise shape_error(path, "expected a span object", f"span {index}")
                proc = sp.get("process")
                if isinstance(proc, dict):
                    svc, ptags = proc.get("serviceName"), _tags(proc.get("tags"))
                else:
                    pid = str(sp.get("processID"))
                    if pid not in proc_cache:
                        p = processes.get(pid) or {}
                        proc_cache[pid] = (p.get("serviceName"), _tags(p.get("tags")))
                    svc, ptags = proc_cache[pid]
                tags = _tags(sp.get("tags"))
                trace_id = str(sp.get("traceID") or trace.get("traceID") or "").lower()
                parent, parent_trace, foreign = _parent(sp, trace_id)
                start = to_int(sp.get("startTime"))
                dur = to_int(sp.get("duration"))
                err = tags.get("error")
                c["trace_id"].append(trace_id)
                c["span_id"].append(str(sp.get("spanID") or "").lower())
                c["parent_id"].append(parent)
                c["parent_trace_id"].append(parent_trace)
                c["name"].append(str(sp.get("operationName") or ""))
                c["service"].append(str(svc) if svc is not None else None)
                c["peer_service"].append(attr_str(tags.get("peer.service")))
                c["kind"].append(attr_str(tags.get("span.kind")))
                c["start_ns"].append(start * 1000 if start is not None else -1)
                c["dur_ns"].append(dur * 1000 if dur is not None else -1)
                c["error"].append(err is True or (isinstance(err, str) and err.lower() == "true"))
                c["shared"].append(False)
                c["foreign_ref"].append(foreign)
                c["index"].append(index)
                for k in keys:
                    v = tags.get(k)
                    attrs[k].append(v if v is not None else ptags.get(k))
    return cols.frame()


def _parent(sp: dict[str, Any], trace_id: str) -> tuple[str | None, str | None, bool]:
    """(parent span id, its trace when that is another trace, any reference into another trace)."""
    refs = [r for r in sp.get("references") or () if isinstance(r, dict) and r.get("spanID")]
    if refs:
        same = [r for r in refs if str(r.get("traceID") or trace_id).lower() == trace_id]
        child_of = [r for r in same if r.get("refType", "CHILD_OF") == "CHILD_OF"]
        ref = (child_of or same or refs)[0]
        ref_trace = str(ref.get("traceID") or trace_id).lower()
        return str(ref["spanID"]).lower(), (ref_trace if ref_trace != trace_id else None), len(same) < len(refs)
    legacy = sp.get("parentSpanID")
    if legacy and str(legacy).strip("0"):
        return str(legacy).lower(), None, False
    return None, None, False
