"""One error hierarchy for recipemut.

Every error a user can cause is a :class:`RecipemutError`. Each one carries structured fields
(file, line, column, code, subject) and renders as a single line ``file:line:col: message`` that
the CLI prints without a traceback. Rendering goes through :func:`recipemut.files.text.safe`: a file
name or a name from a recipe or trace holding a line break, an escape sequence or a bidi control
shows it as a visible escape (``\\n``, ``\\x1b``, ``\\u202e``), so the line stays one line and the
terminal is not driven by it. The structured fields keep the text as it was.

Exit codes (documented in the README):

* ``0`` success;
* ``1`` the input is wrong (an invalid recipe, a malformed log under ``--strict``, a stale plan,
  a missing or unreadable file) — :class:`RecipemutError` and its subclasses;
* ``2`` the command line is wrong (typer/click usage errors).

Commands with richer outcomes (``suggest --detailed-exitcode``, ``evaluate``) document their own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from recipemut.files.text import safe


@dataclass(frozen=True)
class Finding:
    """One problem found in a user's file: where it is, a stable code, and a message.

    >>> str(Finding("r.yaml", 3, 5, "unknown-key", "operations[0]: unknown key 'foo'"))
    "r.yaml:3:5: operations[0]: unknown key 'foo' [unknown-key]"
    >>> print(Finding("a\\nb.yaml", 1, None, "unknown-service", "service 'x\\x1b[2J' is unknown"))
    a\\nb.yaml:1: service 'x\\x1b[2J' is unknown [unknown-service]
    """

    file: str
    line: int | None
    column: int | None
    code: str
    message: str
    severity: str = "error"  # error | warning

    def location(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        """One line, every unprintable character of the file name or message shown as an escape."""
        return safe(f"{self.location()}: {self.message} [{self.code}]")

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }


#: (file, code, message) of the findings said in the command run under way (:func:`said_once`); None outside one
_said: set[tuple[str, str, str]] | None = None


@contextlib.contextmanager
def said_once() -> Iterator[None]:
    """A command run (the CLI's guard opens one): within it, :func:`not_yet_said` says each finding once."""
    global _said
    outer, _said = _said, set()
    try:
        yield
    finally:
        _said = outer


def not_yet_said(findings: Sequence[Finding]) -> list[Finding]:
    """The findings not said yet in this command run (all of them outside one), now noted as said.

    A command reads one recipe more than once (``apply``: the file on disk and the text it writes,
    in a check and again under the lock); a finding of the same file, code and message is one
    warning, whatever its line, so it is said the first time only. Findings of one reading are all said.

    >>> x3, x9, y4 = (Finding("r.yaml", n, 5, c, m) for n, c, m in [(3, "c", "x"), (9, "c", "x"), (4, "c", "y")])
    >>> with said_once():
    ...     print([f.line for f in not_yet_said([x3])], [f.line for f in not_yet_said([x9, y4])])
    [3] [4]
    """
    if _said is None:
        return list(findings)
    new = [f for f in findings if (f.file, f.code, f.message) not in _said]
    _said.update((f.file, f.code, f.message) for f in new)
    return new


class RecipemutError(Exception):
    """Base class of every error caused by user input. Rendered as one line, exit code 1."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        code: str = "error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.code = code

    def __str__(self) -> str:
        """``file:line:col: message`` on one line, every unprintable character shown as an escape."""
        if self.file is None:
            return safe(self.message)
        return safe(f"{Finding(self.file, self.line, self.column, self.code, self.message).location()}: {self.message}")


class InputFileError(RecipemutError):
    """A file cannot be read at all: missing, a directory, too large, not text, not UTF-8."""


class RecipeInvalid(RecipemutError):
    """A recipe failed structural or semantic validation; carries every finding."""

    def __init__(self, findings: list[Finding]) -> None:
        first = findings[0] if findings else None
        super().__init__(
            first.message if first else "recipe is invalid",
            file=first.file if first else None,
            line=first.line if first else None,
            column=first.column if first else None,
            code=first.code if first else "invalid",
        )
        self.findings = list(findings)

    def __str__(self) -> str:
        more = len(self.findings) - 1
        head = str(self.findings[0]) if self.findings else "recipe is invalid"
        if more <= 0:
            return head
        return head + f" (and {more} more problem{'s' if more > 1 else ''}; run `recipemut validate`)"


class LogError(RecipemutError):
    """A log cannot be ingested (not JSON at all, every line bad, or a bad line under --strict)."""


class MutationError(RecipemutError):
    """A mutation cannot be built or applied to this recipe."""


class PlanError(RecipemutError):
    """A plan file is malformed, or stale (made from a recipe that has changed since)."""


class HistoryError(RecipemutError):
    """The history file is corrupt, truncated or its hash chain does not verify."""


class LockTimeout(RecipemutError):
    """Another recipemut process holds the recipe's lock for longer than we wait."""


def os_reason(e: OSError) -> str:
    """What went wrong in ``e``, in the system's words (``No space left on device``, ``File name too long``), the
    one wording of every message about a file the system refused: an error from pyarrow carries its own text
    around the errno's, which is left out.

    >>> os_reason(OSError(36, "whatever pyarrow said")), os_reason(OSError("no errno"))
    ('File name too long', 'no errno')
    """
    return os.strerror(e.errno) if e.errno else (e.strerror or str(e))
