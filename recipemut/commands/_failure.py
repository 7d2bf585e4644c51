"""A command that fails says so once: one line on stderr and, under ``--format json``, one JSON document on stdout.

``--format json`` promises JSON on stdout; a command that stops on a user error (a bad recipe, a missing
log, a stale plan) or a usage error keeps that promise with the error as data, so a script piping stdout
to ``jq`` reads the reason instead of a parse error (docs/commands/index.md, "Errors as JSON")::

    {"error": {"message": "no such file", "file": "x.jsonl", "line": null, "column": null,
               "code": "no-such-file", "exit_code": 1}}

The format is read from the command line as each command parses it (:func:`remember_format`), before
any option's value is checked, so an error found by an option's check is JSON too. The human line on
stderr and the exit code stay as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import typer

from recipemut.errors import RecipeInvalid, RecipemutError, os_reason
from recipemut.files.text import console, shown

err_console = console(stderr=True, soft_wrap=True)

#: whether the command being run was given ``--format json`` (set as it parses its command line)
_asked = {"json": False, "detailed_exitcode": False}


def remember_format(params: Iterable[Any], args: Sequence[str]) -> None:
    """Note whether ``args`` ask ``--format json`` of the command whose ``params`` they are.

    Read as click reads them: ``--format json``, ``--format=json``, ``-f json``, ``-fjson``, the last
    one given winning, nothing after ``--``. A command without ``--format`` is never JSON.

    >>> class P: opts = ["--format", "-f"]
    >>> remember_format([P()], ["r.yaml", "-f", "text", "--format=json"]); json_asked()
    True
    >>> remember_format([P()], ["r.yaml", "--", "-f", "json"]); json_asked()
    False
    """
    from recipemut.commands._ranges import option_values  # the one reader of an option's values on a command line

    names = next((list(p.opts) for p in params if "--format" in getattr(p, "opts", ())), [])
    given = list(option_values(names, args)) if names else []
    _asked["json"] = bool(given) and given[-1] == "json"
    _asked["detailed_exitcode"] = "--detailed-exitcode" in args


def forget_format() -> None:
    """A new run: no format known until its command parses its line."""
    _asked["json"] = _asked["detailed_exitcode"] = False


def json_asked() -> bool:
    """Whether the command being run prints JSON (so its errors are JSON too)."""
    return _asked["json"]


def usage_exit_code(code: int) -> int:
    """A usage error's exit code: 2, or 1 under ``suggest --detailed-exitcode`` (where 2 means
    "improvements found", as in ``terraform plan -detailed-exitcode``)."""
    return 1 if code == 2 and _asked["detailed_exitcode"] else code


def error_document(
    message: str, exit_code: int, *, file: str | None = None, line: int | None = None, column: int | None = None,
    code: str = "error", findings: Sequence[Any] = (),
) -> dict[str, Any]:
    """The JSON document of a failed command: ``{"error": {...}}``, the fields the error carries.

    >>> error_document("stale plan", 1, file="r.yaml", code="stale-plan")["error"]
    {'message': 'stale plan', 'file': 'r.yaml', 'line': None, 'column': None, 'code': 'stale-plan', 'exit_code': 1}
    """
    doc: dict[str, Any] = {"message": message, "file": file, "line": line, "column": column, "code": code,
                           "exit_code": exit_code}
    if findings:  # an invalid recipe: every problem, as `validate --format json` lists them
        doc["findings"] = [f.to_dict() for f in findings]
    return {"error": doc}


def print_json_error(doc: dict[str, Any]) -> None:
    """``doc`` on stdout when the command prints JSON; nothing otherwise."""
    if json_asked():
        typer.echo(json.dumps(doc, indent=2))


def os_error_words(e: OSError) -> str:
    """An ``OSError`` in one line: the file, then what the system said (``days/sub/b.parquet: Permission
    denied``), as ``ls`` or ``cat`` would say it (:func:`recipemut.errors.os_reason`).

    >>> os_error_words(OSError(40, "Too many levels of symbolic links", "loopy/p.json"))
    'loopy/p.json: Too many levels of symbolic links'
    >>> os_error_words(OSError(28, "No space left on device"))
    'No space left on device'
    """
    said = os_reason(e) or type(e).__name__
    return f"{e.filename}: {said}" if e.filename is not None else said


def say_error(e: RecipemutError | OSError) -> int:
    """Say ``e``: its one line on stderr, and under ``--format json`` its document on stdout; give its exit code.

    An ``OSError`` is one no reader foresaw (a name too long, a folder that cannot be entered): exit 1.
    """
    if isinstance(e, RecipemutError):
        findings = e.findings if isinstance(e, RecipeInvalid) else ()
        doc = error_document(e.message, e.exit_code, file=e.file, line=e.line, column=e.column, code=e.code,
                             findings=findings)
    else:
        name = None if e.filename is None else str(e.filename)
        doc = error_document(os_reason(e) or type(e).__name__, 1, file=name, code="os-error")
    print_json_error(doc)
    err_console.print(f"[bold red]error:[/] {shown(e if isinstance(e, RecipemutError) else os_error_words(e))}")
    return int(doc["error"]["exit_code"])


def fail(message: str, exit_code: int, *, code: str = "error", style: bool = True) -> typer.Exit:
    """A failure a command words itself: its line on stderr (``error: `` first, with ``style``), the JSON
    document under ``--format json``; the ``typer.Exit`` to raise."""
    print_json_error(error_document(message, exit_code, code=code))
    err_console.print(f"[bold red]error:[/] {shown(message)}" if style else shown(message), highlight=False)
    return typer.Exit(exit_code)


def say_usage_error(e: Exception) -> None:
    """A usage error (click's, exit 2) as JSON on stdout under ``--format json``; click shows its words."""
    code, words = getattr(e, "exit_code", None), getattr(e, "format_message", None)
    if isinstance(code, int) and callable(words):
        print_json_error(error_document(str(words()), usage_exit_code(code), code="usage"))
