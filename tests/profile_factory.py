"""A demo-profile layout in a folder, as `make demo` leaves it, made of the tiny backbone and tiny trained heads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from transformers import AutoTokenizer, Blip2ForConditionalGeneration
from video_factory import write_indexed_video

from sevila.model.backbone import load_blip2
from sevila.model.head_weights import save_heads
from sevila.model.sevila import SeViLA
from sevila.pipeline import PROFILES

DEMO_VIDEOS = ("val0000", "val0001")


def lively_backbone(source: Path, target: Path, seed: int = 5) -> Path:
    """A copy of the tiny backbone whose ViT tells frames apart: its random init gives features near 1e-9."""
    model = Blip2ForConditionalGeneration.from_pretrained(source)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.vision_model.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


def perturbed_heads(backbone: Path, seed: int = 3) -> SeViLA:
    """The tiny SeViLA with both heads moved off BLIP-2's Q-Former, as training would."""
    model = SeViLA(load_blip2(backbone))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in ("localizer", "answerer"):
            for parameter in getattr(model, name).head.parameters():
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return model


def make_demo_profile(root: Path, backbone: Path) -> Path:
    """`root`/data/demo/{backbone,videos/val000?.mp4,qa/val.json} and `root`/checkpoints/demo/demo_qa/*.safetensors."""
    profile = PROFILES["demo"]
    shutil.copytree(backbone, root / profile.backbone)
    model = perturbed_heads(backbone)
    refined, answerer = (root / path for path in profile.checkpoints)
    save_heads(model, refined, ["localizer"], "refine_localizer")
    save_heads(model, answerer, ["answerer"], "finetune_answerer")
    (root / "data" / "demo" / "videos").mkdir(parents=True)
    for name in DEMO_VIDEOS:
        write_indexed_video(root / "data" / "demo" / "videos" / f"{name}.mp4", num_frames=48, fps=8, size=(64, 64))
    questions = [{"video": name, "qid": f"Color_{name}_0", "question": "what color is the vivid shape?",
                  "num_option": 3, "a0": "red.", "a1": "blue.", "a2": "green.", "answer": 1} for name in DEMO_VIDEOS]
    (root / "data" / "demo" / "qa").mkdir()
    (root / "data" / "demo" / "qa" / "val.json").write_text(json.dumps(questions))
    return root
