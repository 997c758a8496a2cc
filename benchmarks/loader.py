"""Share of a training loop spent waiting for batches: a real DataLoader feeding a tiny-model training step.

usage: python benchmarks/loader.py

Generated 640x360 videos go through DemoQA's DataLoader (2 persistent workers) into a stage-2 step of the
tiny model. That step costs almost nothing, so the loop runs at the loaders' pace; the full-size step cost
it is compared with (forward chain, counted on the meta device) comes from benchmarks/flops.py.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers

from sevila.data.datamodules import DemoQA
from sevila.model.backbone import load_blip2
from sevila.model.sevila import SeViLA
from sevila.model.tiny import build_tiny_backbone

sys.path.insert(0, str(Path(__file__).parent))
# benchmarks/ is a folder of scripts, not a package
from decode import make_clip  # noqa: E402
from flops import CANDIDATES, KEYFRAMES, OPTIONS, QUESTION, FullSize, masks_without_values, question_words  # noqa: E402


@dataclass
class LoaderTimes:
    """Seconds one epoch spent waiting for batches and running steps."""

    wait: float = 0.0
    step: float = 0.0
    batches: int = 0


def write_demo_split(folder: Path, videos: int, questions_per_video: int) -> None:
    """Generated videos and a SeViLA-format train.json over them."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for v in range(videos):
        path = folder / f"clip{v}.mp4"
        if not path.exists():
            make_clip(path, seconds=20, size=(640, 360), gop=30, preset="ultrafast")
        for q in range(questions_per_video):
            options = {f"a{i}": OPTIONS[i] for i in range(len(OPTIONS))}
            records.append({"video": f"clip{v}", "qid": f"CW_{v}_{q}", "question": QUESTION,
                            "num_option": len(OPTIONS), "answer": q % len(OPTIONS), **options})
    (folder / "train.json").write_text(json.dumps(records))


def loader_table(
    model: SeViLA, work: Path, step_flops: int, epochs: int = 2, batch_size: int = 2, frames: int = CANDIDATES
) -> None:
    """Share of a training loop spent in next(iter) with a real DataLoader (2 persistent workers) and the tiny model."""
    torch.manual_seed(0)
    start = time.perf_counter()
    write_demo_split(work / "data", videos=6, questions_per_video=2)
    print(f"Data loading (tiny model, generated 640x360 20 s videos, {frames} frames per question, batch "
          f"{batch_size}, num_workers=2, persistent workers; videos ready in {time.perf_counter() - start:.1f} s)")
    model.train_only(("answerer",)).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    data = DemoQA(str(work / "data"), str(work / "data"), num_frames=frames, frame_size=model.image_size,
                  batch_size=batch_size, num_workers=2, val_file="train.json")
    data.setup("fit")
    loader = data.train_dataloader()
    print(f"DataLoader: num_workers={loader.num_workers}, persistent_workers={loader.persistent_workers} "
          "(datamodules.py already turns them on whenever num_workers > 0)")
    print(f"{'epoch':<8}{'batches':>8}{'wait s':>9}{'step s':>9}{'wait share':>12}{'first wait s':>14}")
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        times, first_wait = LoaderTimes(), 0.0
        batches = iter(loader)
        while True:
            tick = time.perf_counter()
            batch = next(batches, None)
            waited = time.perf_counter() - tick
            if batch is None:
                break
            first_wait = first_wait or waited
            times.wait += waited
            tick = time.perf_counter()
            training_step(model, optimizer, batch)
            times.step += time.perf_counter() - tick
            times.batches += 1
        share = times.wait / (times.wait + times.step)
        print(f"{epoch + 1:<8}{times.batches:>8}{times.wait:>9.2f}{times.step:>9.2f}{share:>11.0%}{first_wait:>14.2f}")
    per_question = (times.wait + times.step) / (times.batches * batch_size)
    print(f"the tiny model's step is nearly free, so the loop runs at the loaders' pace: a question every "
          f"{per_question:.2f} s from 2 workers on this machine. A full-size step costs at least the forward chain's "
          f"{step_flops / 1e12:.1f} TFLOPs per question: 2 such workers keep up with an accelerator sustaining up to "
          f"{step_flops / 1e12 / per_question:.0f} TFLOP/s")


def training_step(model: SeViLA, optimizer: torch.optim.Optimizer, batch: dict) -> None:
    """A stage-2 step: ViT once, the chain (Localizer picks k, Answerer loss), backward, AdamW."""
    with torch.no_grad():
        raw = model.encode_frames(batch["frames"])
    out = model(raw, batch["answerer_text"], batch["localizer_text"], batch["num_options"], answers=batch["answer"])
    out.loss.backward()
    optimizer.step()
    optimizer.zero_grad()


def main() -> None:
    transformers.logging.set_verbosity_error()  # the tiny backbone's save/load chatter
    transformers.logging.disable_progress_bar()
    start = time.perf_counter()
    with masks_without_values():
        full = FullSize()
        step_flops = full.vit(CANDIDATES) + full.localizer_scores(CANDIDATES) + full.answerer(KEYFRAMES)
    work = Path(tempfile.gettempdir()) / "sevila_flops_bench"  # kept: the generated videos are reused next time
    tiny = SeViLA(load_blip2(build_tiny_backbone(work / "backbone", question_words())), num_keyframes=KEYFRAMES)
    loader_table(tiny, work, step_flops)
    print(f"\nbenchmarks/loader.py took {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
