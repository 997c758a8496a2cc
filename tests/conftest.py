"""Shared test set-up: puts tests/ on sys.path (pytest's default "prepend" import mode) so test modules in
subfolders can `from video_factory import ...`, and builds the tiny real BLIP-2 and a tiny benchmark on disk
(real h264 videos, SeViLA-format QA and QVHighlights-format moments) once per session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lightning.pytorch  # noqa: F401  # its log handler binds to the session's stderr here, not to one test's capsys
import pytest
import torch
from transformers import Blip2ForConditionalGeneration

from sevila.model.tiny import build_tiny_backbone
from video_factory import write_indexed_video

FPS = 8
TINY_WORDS = ["red", "blue", "green", "circle", "square", "what", "color", "shape", "is", "the"]


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny BLIP-2 (2-layer ViT of width 32, 4 queries, 2-layer T5) saved with save_pretrained."""
    return build_tiny_backbone(tmp_path_factory.mktemp("tiny_blip2"), extra_words=TINY_WORDS)


@pytest.fixture(scope="session")
def seeing_backbone(tmp_path_factory: pytest.TempPathFactory, tiny_backbone_dir: Path) -> Path:
    """The tiny BLIP-2 at BLIP-2's magnitudes, so that float16 can run it: ViT weights and query tokens of std 0.02.

    Its own init gives ViT weights of std 1e-10 (features float16 rounds to 0) and all-zero query tokens, whose
    LayerNorm gradient (1/sqrt(eps) = 1e6) overflows float16; LAVIS draws the queries from N(0, 0.02).
    """
    out = tmp_path_factory.mktemp("seeing_blip2")
    shutil.copytree(tiny_backbone_dir, out, dirs_exist_ok=True)
    model = Blip2ForConditionalGeneration.from_pretrained(out)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in [*(p for p in model.vision_model.parameters() if p.dim() >= 2), model.query_tokens]:
            weight.copy_(0.02 * torch.randn(weight.shape, generator=generator))
    model.save_pretrained(out)
    return out

@pytest.fixture(scope="session")
def lively_backbone_dir(tiny_backbone_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BLIP-2 with a ViT whose features differ between frames, so Localizer scores are not all tied."""
    from profile_factory import lively_backbone

    return lively_backbone(tiny_backbone_dir, tmp_path_factory.mktemp("lively_blip2"))




def _qa(video: str, i: int, answer: int) -> dict:
    return {"video": video, "qid": f"{'Color' if i % 2 else 'Shape'}_{video}_{i}", "question": "what is the color",
            "num_option": 4, "a0": "red", "a1": "blue", "a2": "green", "a3": "circle", "answer": answer}


def _moment(video: str, i: int) -> dict:
    return {"qid": i, "query": "a red circle", "duration": 3.0, "vid": video, "relevant_windows": [[1.0, 2.0]]}


@pytest.fixture(scope="session")
def tiny_benchmark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """videos/v{0..3}.mp4 (24 frames at 8 fps), qa/{train,val}.json and moments/{train,val}.json."""
    root = tmp_path_factory.mktemp("tiny_benchmark")
    (root / "videos").mkdir()
    for v in range(4):
        write_indexed_video(root / "videos" / f"v{v}.mp4", num_frames=24, fps=FPS, size=(48, 48))
    splits = {"train": ["v0", "v1", "v2"], "val": ["v3"]}
    for split, videos in splits.items():
        qa = [_qa(v, i, i % 4) for v in videos for i in range(2)]
        moments = [_moment(v, 10 * int(v[1:]) + i) for v in videos for i in range(2)]
        for folder, rows in (("qa", qa), ("moments", moments)):
            (root / folder).mkdir(exist_ok=True)
            (root / folder / f"{split}.json").write_text(json.dumps(rows))
    return root


REPO = Path(__file__).resolve().parents[1]
_NOT_OURS = {".git", ".venv", "__pycache__", ".pytest_cache"}


def _checkout_files() -> set[Path]:
    """Every file and folder of the checkout, ignored ones included, except caches and the venv."""
    found = set()
    for path in REPO.rglob("*"):
        parts = path.relative_to(REPO).parts
        if not any(part in _NOT_OURS or part.endswith(".egg-info") for part in parts):
            found.add(path)
    return found


@pytest.fixture(scope="session", autouse=True)
def suite_leaves_the_checkout_alone():
    """Fail the run if a test wrote anything into the checkout (tests write under tmp_path only)."""
    before = _checkout_files()
    yield
    added = sorted(str(path.relative_to(REPO)) for path in _checkout_files() - before)
    assert not added, f"tests wrote into the checkout: {added[:10]}"
