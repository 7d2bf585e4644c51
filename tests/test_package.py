"""The package builds without isolation and its metadata carries the project's URLs and LICENSE.

Issue 16: "a build without isolation fails (`project.license must be valid exactly by one
definition`)": the venv's setuptools (65) predates PEP 639's license expression. The metadata is
built here as `pip wheel --no-build-isolation --no-deps .` builds it (the venv's own setuptools,
no network), on a copy of the files a build reads, so the checkout gets no egg-info or build/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from email.parser import Parser
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the copy pip vendors
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
SITE = "https://recipemut.dev/"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_venv_setuptools_meets_the_build_requirement() -> None:
    """What `--no-build-isolation` builds with; `make` installs it (tests/test_packaging.py runs make -n)."""
    (requires,) = [Requirement(r) for r in _pyproject()["build-system"]["requires"] if r.startswith("setuptools")]
    assert requires.specifier.contains(version("setuptools")), (
        f"setuptools {version('setuptools')} cannot build recipemut ({requires}): pip install '{requires}'"
    )


def test_make_installs_the_build_requirement_in_the_venv() -> None:
    make = shutil.which("make")
    assert make, "make is needed for the Makefile's targets"
    for target in ("demo", "test"):
        dry = subprocess.run([make, "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        assert "install --upgrade pip 'setuptools>=77'" in dry, target


def test_urls_are_on_the_domain_of_the_schema_ids_and_mirror_the_repository() -> None:
    urls = _pyproject()["project"]["urls"]
    assert set(urls) >= {"Homepage", "Documentation", "Issues"}
    assert urls["Homepage"] == SITE
    assert all(u.startswith(SITE) for u in urls.values()), urls
    assert urls["Documentation"] == SITE + "docs/" and (ROOT / "docs").is_dir()
    for schema in sorted((ROOT / "schemas").glob("*.schema.json")):
        assert json.loads(schema.read_text(encoding="utf-8"))["$id"] == urls["Schemas"] + schema.name


@pytest.fixture(scope="module")
def metadata_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``prepare_metadata_for_build_wheel`` (PEP 517, what pip calls first) with the venv's setuptools."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "recipemut", src / "recipemut", ignore=shutil.ignore_patterns("__pycache__"))
    out = src / "out"
    out.mkdir()
    code = f"from setuptools import build_meta; print(build_meta.prepare_metadata_for_build_wheel({str(out)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_the_wheel_metadata_has_the_license_and_urls(metadata_dir: Path) -> None:
    meta = Parser().parsestr((metadata_dir / "METADATA").read_text(encoding="utf-8"))
    assert meta["Name"] == "recipemut"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert (metadata_dir / "licenses" / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert urls == _pyproject()["project"]["urls"]
    assert "recipemut = recipemut._entry:main" in (metadata_dir / "entry_points.txt").read_text(encoding="utf-8")
