"""Jaeger JSON traces, in the shapes Jaeger's query API, UI and tools write.

* the query API: ``{"data": [trace, ...], "total": ..., "errors": ...}``;
* one trace: ``{"traceID": ..., "spans": [...], "processes": {"p1": {"serviceName": ...}}}``
  (UI downloads, the UI's and the model's fixtures), or a list of such traces;
* a list of spans, each carrying its ``process`` inline (the anonymizer's ``uiconv`` output).

Times are microseconds (one beyond 146 years makes the span invalid). The parent is the first
``CHILD_OF`` reference (else the first reference, else the legacy ``parentSpanID``); a reference
into another trace is kept in ``parent_trace_id`` so that normalisation can count it.
``error=true`` (bool or string) marks an error. Process tags (``sampler.type``/``sampler.param``,
...) apply to every span of the process unless the span carries the tag itself. Tags,
references or processes of another JSON type, and an object or list where an id, name or service
belongs, are a :class:`~recipemut.errors.LogError` naming the trace or span.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from recipemut.logs.common import Columns, attr_str, iter_documents, json_kind, micros_ns, shape_error, text


def _tags(tags: Any, path: Path, where: str) -> dict[str, Any]:
    """A span's or process's tags as a dict; entries that are not objects are skipped."""
    if isinstance(tags, dict):  # some exporters write tags as an object
        return tags
    if tags is None:
        return {}
    if not isinstance(tags, list):
        raise shape_error(path, f"tags is a JSON {json_kind(tags)}, expected a list", where)
    return {str(t.get("key")): t.get("value") for t in tags if isinstance(t, dict)}


def _processes(trace: dict[str, Any], i: int, path: Path) -> dict[str, Any]:
    """A trace's ``processes`` (id -> process object); a part of another shape is a LogError."""
    processes = trace.get("processes") or {}
    if not isinstance(processes, dict):
        raise shape_error(path, f"processes is a JSON {json_kind(processes)}, expected an object", f"trace {i}")
    for pid, p in processes.items():
        if p is not None and not isinstance(p, dict):
            raise shape_error(path, f"process '{pid}' is a JSON {json_kind(p)}, expected an object", f"trace {i}")
    return processes


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
        for t_i, trace in enumerate(_traces(doc, path)):
            processes = _processes(trace, t_i, path)
            proc_cache: dict[str, tuple[Any, dict[str, Any]]] = {}
            for sp in trace["spans"]:
                index += 1
                if not isinstance(sp, dict):
                    raise shape_error(path, "expected a span object", f"span {index}")
                where = f"span {index}"
                proc = sp.get("process")
                if isinstance(proc, dict):
                    svc, ptags = proc.get("serviceName"), _tags(proc.get("tags"), path, f"{where}: process")
                else:
                    pid = str(sp.get("processID"))
                    if pid not in proc_cache:
                        p = processes.get(pid) or {}
                        proc_cache[pid] = (
                            p.get("serviceName"),
                            _tags(p.get("tags"), path, f"trace {t_i}: process '{pid}'"),
                        )
                    svc, ptags = proc_cache[pid]
                tags = _tags(sp.get("tags"), path, where)
                trace_id = (text(sp.get("traceID") or trace.get("traceID"), path, where, "traceID") or "").lower()
                parent, parent_trace, foreign = _parent(sp, trace_id, path, where)
                start = micros_ns(sp.get("startTime"))
                dur = micros_ns(sp.get("duration"))
                err = tags.get("error")
                c["trace_id"].append(trace_id)
                c["span_id"].append((text(sp.get("spanID"), path, where, "spanID") or "").lower())
                c["parent_id"].append(parent)
                c["parent_trace_id"].append(parent_trace)
                c["name"].append(text(sp.get("operationName"), path, where, "operationName") or "")
                c["service"].append(text(svc, path, where, "serviceName"))
                c["peer_service"].append(attr_str(tags.get("peer.service")))
                c["kind"].append(attr_str(tags.get("span.kind")))
                c["start_ns"].append(start)
                c["dur_ns"].append(dur)
                c["error"].append(err is True or (isinstance(err, str) and err.lower() == "true"))
                c["shared"].append(False)
                c["foreign_ref"].append(foreign)
                c["index"].append(index)
                for k in keys:
                    v = tags.get(k)
                    attrs[k].append(v if v is not None else ptags.get(k))
    return cols.frame()


def _parent(sp: dict[str, Any], trace_id: str, path: Path, where: str) -> tuple[str | None, str | None, bool]:
    """(parent span id, its trace when that is another trace, any reference into another trace)."""
    given = sp.get("references")
    if given is not None and not isinstance(given, list):
        raise shape_error(path, f"references is a JSON {json_kind(given)}, expected a list", where)
    refs = []  # (span id, trace id, ref type) of the references that name a span
    for i, r in enumerate(given or ()):
        if isinstance(r, dict) and r.get("spanID"):
            span_id = text(r["spanID"], path, where, f"references[{i}].spanID") or ""
            ref_trace = (text(r.get("traceID") or None, path, where, f"references[{i}].traceID") or trace_id).lower()
            refs.append((span_id.lower(), ref_trace, r.get("refType", "CHILD_OF")))
    if refs:
        same = [r for r in refs if r[1] == trace_id]
        child_of = [r for r in same if r[2] == "CHILD_OF"]
        span_id, ref_trace, _ = (child_of or same or refs)[0]
        return span_id, (ref_trace if ref_trace != trace_id else None), len(same) < len(refs)
    legacy = text(sp.get("parentSpanID") or None, path, where, "parentSpanID")
    if legacy and legacy.strip("0"):
        return legacy.lower(), None, False
    return None, None, False
