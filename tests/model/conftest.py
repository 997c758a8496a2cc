"""A tiny SeViLA on the session's tiny BLIP-2 backbone."""

from __future__ import annotations

from pathlib import Path

import pytest

from sevila.model.backbone import load_blip2
from sevila.model.sevila import SeViLA


@pytest.fixture
def tiny_sevila(tiny_backbone_dir: Path) -> SeViLA:
    return SeViLA(load_blip2(tiny_backbone_dir), num_keyframes=2).eval()
