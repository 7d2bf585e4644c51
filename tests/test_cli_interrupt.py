"""Ctrl-C ends any command with one line, ``interrupted``, and exit 130: never a traceback, never silence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from recipemut import _entry, cli
from recipemut.files.write import forget_written
from recipemut.logs import ingest
from recipes import CHECKOUT_EXAMPLE, ROOT

CHECKOUT = CHECKOUT_EXAMPLE
RECIPEMUT = Path(sys.executable).with_name("recipemut")  # the installed console script


def test_ctrl_c_inside_a_command_says_interrupted(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """typer turns the KeyboardInterrupt into a silent exit code 130; the CLI still says so."""

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest, "read_logs", interrupted)  # where the profile command reads its logs
    monkeypatch.setenv("RECIPEMUT_STORE", "off")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["profile", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz")])
    assert exit_.value.code == 130
    assert capfd.readouterr().err.strip() == "interrupted; nothing was written"


class _Interrupted(types.ModuleType):
    def __getattr__(self, name: str) -> object:
        raise KeyboardInterrupt


def test_ctrl_c_while_the_cli_is_still_being_imported(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    forget_written()  # what earlier tests in this process wrote (a real run starts with nothing)
    monkeypatch.setitem(sys.modules, "recipemut.cli", _Interrupted("recipemut.cli"))
    with pytest.raises(SystemExit) as exit_:
        _entry.main()
    assert exit_.value.code == 130
    assert capfd.readouterr().err == "interrupted; nothing was written\n"


def _wait_until_importing_the_cli(pid: int, deadline_s: float = 120.0) -> None:
    """Wait until the process has numpy mapped: it is then inside :func:`recipemut._entry.main`
    (importing the CLI's libraries, or already reading the log), however long a loaded machine
    took to start the interpreter. A signal sent earlier would meet Python's own startup."""
    maps = Path(f"/proc/{pid}/maps")
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if "numpy" in maps.read_text():
                return
        except OSError:  # the process is gone: the run's exit code tells why
            return
        time.sleep(0.005)
    raise AssertionError(f"the CLI did not import numpy within {deadline_s:.0f} s")


def test_sigint_to_the_installed_cli_gives_one_line_and_130() -> None:
    """A real SIGINT (what Ctrl-C sends), early in a run: while importing or reading the log."""
    env = dict(os.environ, RECIPEMUT_STORE="off")
    args = [str(RECIPEMUT), "profile", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz")]
    # a child started from a shell script in the background inherits an ignored SIGINT: restore it
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_until_importing_the_cli(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err == b"interrupted; nothing was written\n"


def test_sigterm_removes_the_temporary_copy_of_stdin_and_exits_143(tmp_path: Path) -> None:
    """SIGTERM (timeout, a CI cancel, systemd) goes out as Ctrl-C does: the copy of ``--logs -`` is
    removed, one line, exit 143. The run is stopped while it waits for standard input, not timed."""
    env = dict(os.environ, RECIPEMUT_STORE="off", TMPDIR=str(tmp_path))
    args = [str(RECIPEMUT), "profile", str(CHECKOUT / "recipe.yaml"), "--logs", "-"]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, cwd=ROOT)  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(b'{"request_id": "r1", "op": "load_cart", "start_ms": 1763942400000, "latency_ms": 5}\n')
    proc.stdin.flush()
    end = time.monotonic() + 60
    while not list(tmp_path.glob("recipemut-stdin-*/*")):  # the copy of standard input is being written
        assert proc.poll() is None and time.monotonic() < end, "no copy of standard input appeared"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err == b"interrupted; nothing was written\n"
    assert list(tmp_path.iterdir()) == []
