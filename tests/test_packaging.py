"""Packaging: packages are discovered, data ships with them, and building prints no setuptools warning."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO

_SOURCES = ("pyproject.toml", "README.md", "events", "rules", "monitor")


def test_a_wheel_builds_without_warnings_and_carries_the_data(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in _SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose", "--wheel-dir", str(tmp_path / "dist"), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    output = built.stdout + built.stderr
    warnings = [
        line.strip()
        for line in output.splitlines()
        if ("Warning" in line or "absent from the" in line) and "byte-compiling is disabled" not in line
    ]
    assert warnings == []
    (wheel,) = (tmp_path / "dist").glob("compliance_monitor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "monitor/http/static/feed.html",
        "monitor/http/static/feed.js",
        "monitor/http/static/feed-stream.js",
        "monitor/http/static/feed.css",
        "monitor/http/static/vietnam-provinces.json",
        "rules/packs/de-an-06.yaml",
        "rules/packs/units/provinces-63.yaml",
        "rules/packs/units/vietnam-communes.csv",
        "rules/packs/units/vietnam-communes-2025.csv",
        "rules/packs/tests/de-an-06.test.yaml",
        "monitor/worker/takeover.py",
        "monitor/py.typed",
        "rules/py.typed",
        "rules/engine/evaluate.py",
        "rules/language/__init__.py",
        "rules/loading/rule_test_format.py",
    ):
        assert expected in names
    assert not [n for n in names if n.startswith("tests/")]
