"""Shared test set-up: puts tests/ on sys.path (pytest's default "prepend" import mode) so test modules in
subfolders can `from video_factory import ...`, and builds the tiny real BLIP-2 once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from sevila.model.tiny import build_tiny_backbone

TINY_WORDS = ["red", "blue", "green", "circle", "square", "what", "color", "shape", "is", "the"]


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny BLIP-2 (2-layer ViT of width 32, 4 queries, 2-layer T5) saved with save_pretrained."""
    return build_tiny_backbone(tmp_path_factory.mktemp("tiny_blip2"), extra_words=TINY_WORDS)
