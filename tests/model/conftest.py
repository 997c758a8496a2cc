"""Tiny real BLIP-2 backbones for the model tests, built once per session and saved with save_pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest

from sevila.model.backbone import load_blip2
from sevila.model.sevila import SeViLA
from sevila.model.tiny import build_tiny_backbone


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_backbone(tmp_path_factory.mktemp("tiny_blip2"), extra_words=["red", "blue", "circle"])


@pytest.fixture
def tiny_sevila(tiny_backbone_dir: Path) -> SeViLA:
    return SeViLA(load_blip2(tiny_backbone_dir), num_keyframes=2).eval()
