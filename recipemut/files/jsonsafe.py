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
#: JSON Schema's type of a value, asked in this order (a bool is an int to Python; YAML builds dates too)
_TYPE_OF: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                                          (dict, "object"), (list, "array"), (type(None), "null"))


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
        return f"expected {words}, got {_value_words(err.instance)}"
    return safe(err.message, limit=200)


def _value_words(value: object) -> str:
    """A value's type in words: a JSON type's, or what YAML made of it (a date: quote it to keep text).

    >>> import datetime
    >>> _value_words(True), _value_words(datetime.date(2001, 1, 1)), _value_words(b"x")
    ('true or false', 'a date (YAML reads 2001-01-01 as one; quote it to keep it as text)', 'bytes')
    """
    import datetime

    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"a date (YAML reads {value} as one; quote it to keep it as text)"
    named = next((name for kind, name in _TYPE_OF if isinstance(value, kind)), None)
    return _TYPE_WORDS[named] if named is not None else type(value).__name__
