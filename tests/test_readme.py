"""The README's loop runs exactly as written, and every relative link in the docs leads somewhere.

The loop is the fenced block right after the heading "The loop" in README.md. It is run line by
line in one bash process (so its `cd` holds for the lines after it), from a folder holding a copy
of the shipped example files the block copies, with the installed ``recipemut`` entry point on
``PATH`` and ``$TMPDIR`` inside pytest's temporary folder, so nothing outside it is written.
Each line's exit code must be the one :data:`EXPECTED` gives for its command.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted([README, *(ROOT / "docs").rglob("*.md")])

#: recipemut command -> the exit code the loop expects of it (evaluate: 0 is "promote")
EXPECTED = {
    "validate": 0,
    "graph": 0,
    "profile": 0,
    "forecast": 0,
    "suggest": 0,
    "apply": 0,
    "generate": 0,
    "evaluate": 0,
    "history": 0,
    "rollback": 0,
    "stats": 0,
}
#: the example files the loop's first line copies out of the clone
EXAMPLE_FILES = ("recipe.yaml", "loggen.yaml", "logs.jsonl.gz")


def fenced_block_after(text: str, heading: str) -> list[str]:
    """The non-blank lines of the first fenced block after the Markdown heading ``heading``.

    >>> fenced_block_after("## A\\n\\n```sh\\nx\\n\\ny\\n```\\n", "## A")
    ['x', 'y']
    """
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    opening = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
    return [line for line in lines[opening + 1 : closing] if line.strip()]


def expected_code(line: str) -> int:
    """The exit code expected of one line of the loop: :data:`EXPECTED` for a recipemut command,
    0 for the shell line that sets up the folder."""
    words = shlex.split(line, comments=True)
    if words[0] != "recipemut":
        return 0
    assert words[1] in EXPECTED, f"the README's loop runs `recipemut {words[1]}`: add its exit code to EXPECTED"
    return EXPECTED[words[1]]


def recipemut_bin(tmp: Path) -> Path:
    """A folder holding the installed ``recipemut`` entry point (or, without one, a script that runs
    ``python -m recipemut`` with this interpreter)."""
    beside = Path(sys.executable).parent / "recipemut"
    found = beside if beside.is_file() else (Path(p) if (p := shutil.which("recipemut")) else None)
    if found is not None:
        return found.parent
    shim = tmp / "bin" / "recipemut"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m recipemut "$@"\n')
    shim.chmod(0o755)
    return shim.parent


def test_the_loop_block_lists_every_step() -> None:
    lines = fenced_block_after(README.read_text(), "## The loop")
    commands = [shlex.split(line, comments=True)[1] for line in lines if line.startswith("recipemut ")]
    assert commands == list(EXPECTED), "the loop's steps, in order"
    assert not lines[0].startswith("recipemut "), "the first line sets up the folder the loop works in"
    for name in EXAMPLE_FILES:
        assert f"recipes/checkout/{name}" in lines[0]


@pytest.mark.skipif(shutil.which("bash") is None, reason="the loop is a bash session")
def test_the_loop_runs_as_written(tmp_path: Path) -> None:
    lines = fenced_block_after(README.read_text(), "## The loop")
    clone = tmp_path / "clone"
    (clone / "recipes" / "checkout").mkdir(parents=True)
    for name in EXAMPLE_FILES:
        shutil.copy2(ROOT / "recipes" / "checkout" / name, clone / "recipes" / "checkout" / name)
    (tmp_path / "tmp").mkdir()
    steps = tmp_path / "steps"
    steps.mkdir()
    codes = tmp_path / "codes"
    # one bash process, so a `cd` holds for the lines after it; each line's output to its own file
    script = "".join(
        f"{{ {line}\n}} > {shlex.quote(str(steps / f'{n}.out'))} 2>&1\necho $? >> {shlex.quote(str(codes))}\n"
        for n, line in enumerate(lines)
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RECIPEMUT_STORE", "CDPATH")}
    env.update(
        PATH=f"{recipemut_bin(tmp_path)}{os.pathsep}{env.get('PATH', '')}",
        TMPDIR=str(tmp_path / "tmp"),
        COLUMNS="120",
    )
    subprocess.run(["bash", "-c", script], cwd=clone, env=env, timeout=600, check=True)
    got = [int(c) for c in codes.read_text().split()]
    assert len(got) == len(lines)
    for n, (line, code) in enumerate(zip(lines, got, strict=True)):
        out = (steps / f"{n}.out").read_text(errors="replace")
        assert code == expected_code(line), f"{line}\nexited {code}:\n{out[-3000:]}"
    assert sorted(p.name for p in clone.iterdir()) == ["recipes"], "the loop writes nothing into the clone"


# --- links ---------------------------------------------------------------------------------------

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading.

    >>> slug("Reading a log from standard input: `--logs -`")
    'reading-a-log-from-standard-input---logs--'
    >>> slug("Cache replay (`recipemut.predict.cachesim`)")
    'cache-replay-recipemutpredictcachesim'
    """
    text = heading.strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def prose_lines(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    out, fenced = [], False
    for line in path.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            out.append(line)
    return out


def anchors(path: Path) -> set[str]:
    """Every anchor of a Markdown file's headings (a repeated heading gets ``-1``, ``-2``, ...)."""
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(path):
        m = re.match(r"#{1,6} (.+)", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def relative_links(path: Path) -> list[str]:
    """Every link target in a Markdown file's prose that is not a URL."""
    return [
        target
        for line in prose_lines(path)
        for target in _LINK.findall(re.sub(r"`[^`]*`", "", line))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)
    ]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(doc: Path) -> None:
    for target in relative_links(doc):
        file, _, anchor = target.partition("#")
        dest = (doc.parent / file).resolve() if file else doc
        assert dest.exists(), f"{doc.relative_to(ROOT)}: link to {target}: no such file"
        if anchor and dest.suffix == ".md":
            assert anchor in anchors(dest), f"{doc.relative_to(ROOT)}: link to {target}: no such heading"


def test_readme_links_every_docs_page() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(README)}
    pages = {p.resolve() for p in (ROOT / "docs").rglob("*.md")}
    assert pages <= linked, f"docs pages the README does not link: {sorted(str(p) for p in pages - linked)}"
