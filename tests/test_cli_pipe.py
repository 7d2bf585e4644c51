"""A closed pipe (``recipemut ... | head -1``) stops the CLI quietly with 141, as git does, not 1 (bad input)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "recipes" / "checkout"
RECIPEMUT = Path(sys.executable).with_name("recipemut")  # the installed console script


def _run_into_head(args: list[str], lines: int, pipe_size: int = 4096) -> tuple[int, str, bytes, int]:
    """Run the installed ``recipemut`` piped into ``head -<lines>``.

    The pipe is shrunk to ``pipe_size`` bytes so an output a few times larger cannot all fit
    before ``head`` exits: the write that follows meets EPIPE every time, not by luck of timing.
    Returns recipemut's exit status, what head printed, recipemut's stderr, head's exit status.
    """
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, pipe_size)
    with open(os.devnull, "rb") as devnull:
        writer = subprocess.Popen([str(RECIPEMUT), *args], stdin=devnull, stdout=w, stderr=subprocess.PIPE, cwd=ROOT)
    os.close(w)
    head = subprocess.run(["head", f"-{lines}"], stdin=r, capture_output=True, text=True, check=False)
    os.close(r)
    _, err = writer.communicate(timeout=120)
    return writer.returncode, head.stdout, err, head.returncode


def test_validate_piped_into_head_exits_141_quietly() -> None:
    """``recipemut validate many.yaml ... | head -1``: head gets its line; recipemut stops with 141, silent.

    The command prints line by line (a write each), a line per file naming its path: enough files
    for four times the 4 KiB pipe plus the 4 KiB head reads before it exits, however long the
    checkout's path.
    """
    recipe = str(CHECKOUT / "recipe.yaml")
    one = subprocess.run([str(RECIPEMUT), "validate", recipe], capture_output=True, text=True, check=True, cwd=ROOT)
    first_line = one.stdout.splitlines(keepends=True)[0]
    files = max(200, 4 * 2 * 4096 // len(first_line.encode()) + 1)

    code, head_out, err, head_code = _run_into_head(["validate", *[recipe] * files], 1)
    assert head_code == 0
    assert head_out == first_line  # head got its line
    assert code == 141, err
    assert err == b""  # no traceback, no "Exception ignored", no message


def _run_into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run the installed ``recipemut`` with a stdout pipe whose reader closed before it started."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run(
            [str(RECIPEMUT), *args], stdout=w, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False, cwd=ROOT
        )
    finally:
        os.close(w)


def test_a_reader_that_went_before_any_output_gives_141_and_no_noise() -> None:
    """``| head -0``: the pipe's read end is closed before recipemut writes its first byte."""
    proc = _run_into_closed_pipe(["validate", str(CHECKOUT / "recipe.yaml"), str(CHECKOUT / "recipe.yaml")])
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b""


def test_help_into_a_closed_pipe_gives_141_too() -> None:
    """The help text is printed by typer outside any command: the same rule holds."""
    proc = _run_into_closed_pipe(["--help"])
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b""


def test_an_open_pipe_still_exits_0() -> None:
    args = [str(RECIPEMUT), "validate", str(CHECKOUT / "recipe.yaml")]
    proc = subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout
