"""The transfer-format table: what a field's serialisation format and compression cost.

Each entry is a :class:`FormatCost`: ``size_ratio``, ``encode_ms_per_mb``, ``decode_ms_per_mb``
(overridable per recipe in its ``formats:`` section). Names in :data:`COMPRESSIONS` are
compressions, every other name is a serialisation format. The recipe's validation checks field
formats against it; the bytes model (:mod:`recipemut.predict.bytesmodel`) prices changes with it.

>>> t = table()
>>> round(size_factor(t, "json", "none", "protobuf", "zstd"), 3)  # protobuf+zstd vs plain JSON
0.14
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from recipemut.recipe.model import FieldSpec

DEFAULT_FORMAT = "json"
DEFAULT_COMPRESSION = "none"


@dataclass(frozen=True)
class FormatCost:
    """Size and codec cost of one format or compression (see the module docstring for units)."""

    size_ratio: float
    encode_ms_per_mb: float
    decode_ms_per_mb: float


#: The default table: serialisation formats (relative to JSON) and compressions (relative to raw).
FORMATS: Mapping[str, FormatCost] = MappingProxyType(
    {
        "json": FormatCost(1.0, 10.0, 12.0),
        "msgpack": FormatCost(0.8, 4.0, 5.0),
        "cbor": FormatCost(0.85, 5.0, 6.0),
        "avro": FormatCost(0.55, 4.0, 4.0),
        "protobuf": FormatCost(0.5, 3.0, 3.0),
        "arrow": FormatCost(0.6, 1.0, 0.5),
        "none": FormatCost(1.0, 0.0, 0.0),
        "lz4": FormatCost(0.45, 1.5, 0.5),
        "snappy": FormatCost(0.5, 2.0, 1.0),
        "zstd": FormatCost(0.28, 3.0, 1.0),
        "gzip": FormatCost(0.3, 20.0, 4.0),
        "brotli": FormatCost(0.25, 60.0, 4.0),
    }
)
#: Which names of the table are compressions (the rest are formats).
COMPRESSIONS: frozenset[str] = frozenset({"none", "lz4", "snappy", "zstd", "gzip", "brotli"})

#: Typical bytes of a field value by type: the weights for attributing an operation's bytes.
TYPE_WEIGHT: Mapping[str, float] = MappingProxyType(
    {"bytes": 4096.0, "object": 2048.0, "array": 1024.0, "string": 40.0, "number": 8.0, "integer": 8.0, "boolean": 1.0}
)
#: Field types whose transfer format can be changed (scalars travel as they are).
PAYLOAD_TYPES = frozenset({"object", "array", "bytes"})
#: The field type of opaque binary values: uploaded files, images, video, archives. Such a value has
#: no serialisation format to change, and the table's compression ratios (measured on serialised
#: documents) do not apply to it: see :func:`compressible`.
OPAQUE_TYPE = "bytes"


def table(overrides: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, FormatCost]:
    """The format table with a recipe's ``formats:`` overrides merged in (entry by entry, key by key).

    >>> table({"zstd": {"size_ratio": 0.2}, "ion": {"size_ratio": 0.9}})["zstd"]
    FormatCost(size_ratio=0.2, encode_ms_per_mb=3.0, decode_ms_per_mb=1.0)
    >>> table({"ion": {"size_ratio": 0.9}})["ion"]
    FormatCost(size_ratio=0.9, encode_ms_per_mb=0.0, decode_ms_per_mb=0.0)
    """
    out = dict(FORMATS)
    for name, o in (overrides or {}).items():
        base = out.get(name, FormatCost(1.0, 0.0, 0.0))
        out[name] = FormatCost(
            size_ratio=float(o.get("size_ratio", base.size_ratio)),
            encode_ms_per_mb=float(o.get("encode_ms_per_mb", base.encode_ms_per_mb)),
            decode_ms_per_mb=float(o.get("decode_ms_per_mb", base.decode_ms_per_mb)),
        )
    return out


def formats_and_compressions(tbl: Mapping[str, FormatCost]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The table's format names and compression names, sorted."""
    return tuple(sorted(n for n in tbl if n not in COMPRESSIONS)), tuple(sorted(n for n in tbl if n in COMPRESSIONS))


def codec_of(spec: FieldSpec | None) -> tuple[str, str]:
    """(format, compression) a field travels in; defaults ``json`` / ``none``."""
    if spec is None:
        return DEFAULT_FORMAT, DEFAULT_COMPRESSION
    return spec.format or DEFAULT_FORMAT, spec.compression or DEFAULT_COMPRESSION


def compressible(spec: FieldSpec | None, tbl: Mapping[str, FormatCost]) -> bool:
    """Whether the table's compression figures may be applied to a field, by what its recipe declares.

    A field the services serialise (object, array, scalars) is compressible. A ``bytes`` field is an
    opaque file (often already compressed: JPEG, MP4, ZIP barely shrink) unless its ``format`` names a
    serialisation format of the table (built in, or added under the recipe's ``formats:``), which
    declares its content a document of that format. A compression is never a format.

    >>> from recipemut.recipe.model import FieldSpec
    >>> t = table()
    >>> compressible(FieldSpec("upload", "bytes"), t), compressible(FieldSpec("doc", "bytes", format="json"), t)
    (False, True)
    >>> compressible(FieldSpec("video", "bytes", format="mp4"), t), compressible(FieldSpec("cart", "object"), t)
    (False, True)
    """
    if spec is None or spec.type != OPAQUE_TYPE:
        return True
    return spec.format is not None and spec.format in tbl and spec.format not in COMPRESSIONS


def _cost(tbl: Mapping[str, FormatCost], name: str) -> FormatCost:
    return tbl.get(name) or FormatCost(1.0, 0.0, 0.0)  # an unknown name is taken as neutral


def size_factor(tbl: Mapping[str, FormatCost], fmt0: str, comp0: str, fmt1: str, comp1: str) -> float:
    """Bytes on the wire after / before a change of format and compression."""
    before = _cost(tbl, fmt0).size_ratio * _cost(tbl, comp0).size_ratio
    after = _cost(tbl, fmt1).size_ratio * _cost(tbl, comp1).size_ratio
    return after / before


def codec_ms_per_wire_mb(tbl: Mapping[str, FormatCost], fmt: str, comp: str, side: str) -> float:
    """Encode (``side="out"``) or decode (``"in"``) ms per MB *on the wire* in this format.

    >>> round(codec_ms_per_wire_mb(table(), "json", "none", "out"), 3)
    10.0
    """
    f, c = _cost(tbl, fmt), _cost(tbl, comp)
    attr = "encode_ms_per_mb" if side == "out" else "decode_ms_per_mb"
    json_mb_per_wire_mb = 1.0 / (f.size_ratio * c.size_ratio)  # logical (JSON) MB per wire MB
    raw_mb_per_wire_mb = 1.0 / c.size_ratio  # serialised, uncompressed MB per wire MB
    return float(getattr(f, attr) * json_mb_per_wire_mb + getattr(c, attr) * raw_mb_per_wire_mb)
