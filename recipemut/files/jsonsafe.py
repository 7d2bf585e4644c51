"""JSON that every reader accepts (no NaN or infinity, which Python's ``json`` writes and strict parsers
refuse), and a JSON Schema error in words (:func:`schema_message`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from recipemut.files.text import safe

if TYPE_CHECKING:
    import jsonschema


def strict_json(v: Any) -> Any:
    """NaN/inf -> None, recursively (tuples become lists), so a document printed or written is strict JSON.

    >>> strict_json({"a": float("nan"), "b": [1.5, float("inf")]})
    {'a': None, 'b': [1.5, None]}
    """
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: strict_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [strict_json(x) for x in v]
    return v


#: JSON Schema's type names, and the type a JSON value has
_TYPE_WORDS = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}
_TYPE_OF = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
            type(None): "null"}


def schema_message(err: jsonschema.ValidationError) -> str:
    """A schema error in words, never the whole offending value: jsonschema's message for a list of
    spans given as a plan or a mapping quoted every span (2,000 characters and more). Every reader
    of a JSON-Schema-checked file (plan, span mapping, history) words its errors so.

    >>> import jsonschema
    >>> schema_message(next(jsonschema.Draft202012Validator({"type": "object"}).iter_errors([{"traceId": "a"}])))
    'expected an object, got a list'
    """
    if err.validator == "type":
        wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        words = " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        return f"expected {words}, got {_TYPE_WORDS[_TYPE_OF.get(type(err.instance), 'object')]}"
    return safe(err.message, limit=200)
