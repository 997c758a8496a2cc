"""Fixtures of the experiment tests: the tiny benchmark with event windows, and a tiny stages folder per test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from experiment_factory import EVENT_WINDOWS, tiny_stages


@pytest.fixture(scope="session")
def windowed_benchmark(tiny_benchmark: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny benchmark with an event window per video (`event_windows.json`, as the demo data has)."""
    root = tmp_path_factory.mktemp("windowed_benchmark")
    shutil.copytree(tiny_benchmark, root, dirs_exist_ok=True)
    (root / "event_windows.json").write_text(json.dumps(EVENT_WINDOWS))
    return root


@pytest.fixture
def stages(tmp_path: Path, windowed_benchmark: Path) -> Path:
    """The stages folder of one test (its experiments/ holds the shipped experiments; tests add their own)."""
    return tiny_stages(tmp_path, windowed_benchmark)
