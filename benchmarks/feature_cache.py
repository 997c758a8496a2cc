"""Wall clock with and without the on-disk ViT feature cache (`model.feature_cache`), on a tiny BLIP-2.

usage: python benchmarks/feature_cache.py [--videos 8] [--frames 8] [--vit-width 256] [--vit-layers 6] [--repeat 2]

Generates a few h264 clips and a QA split over them, builds a tiny BLIP-2 (its ViT wider and deeper than the
tests' so that it costs something), then times on CPU, each baseline measured in the same run:
(a) RefineLocalizer for 2 epochs without and with a (cold) cache, per epoch; (b) an evaluation sweep
(uniform k=4, Localizer k=4, Localizer k=2) without and with one shared cache. Frames are still decoded every
time; the cache saves the ViT (and, by computing each distinct frame of a batch once, some of it in the first
epoch too), so the ratios depend on the ViT's share of a step: `--vit-width` / `--vit-layers` change it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import torch
import transformers
from decode import make_clip

from sevila.data.datamodules import DemoQA
from sevila.model.tiny import TinySize, build_tiny_backbone
from sevila.stages import Evaluate, RefineLocalizer

WORDS = ["red", "blue", "green", "circle", "square", "what", "color", "shape", "is", "the"]
SWEEP = [("uniform", 4), ("localizer", 4), ("localizer", 2)]


class EpochClock(L.Callback):
    """Seconds and ViT frames of each training epoch."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.vit_frames: list[int] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: RefineLocalizer) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        self.vit_frames.append(pl_module.vit_frames - sum(self.vit_frames))


def make_benchmark(root: Path, videos: int) -> None:
    """`videos` 4-second 320x240 clips and two questions per clip in qa/train.json and qa/val.json."""
    (root / "videos").mkdir(parents=True)
    (root / "qa").mkdir()
    rows = []
    for v in range(videos):
        make_clip(root / "videos" / f"v{v}.mp4", seconds=4, size=(320, 240), gop=12, fps=15)
        rows += [{"video": f"v{v}", "qid": f"Color_v{v}_{i}", "question": "what is the color", "num_option": 4,
                  "a0": "red", "a1": "blue", "a2": "green", "a3": "circle", "answer": i} for i in range(2)]
    for split in ("train", "val"):
        (root / "qa" / f"{split}.json").write_text(json.dumps(rows))


def trainer(root: Path, **kwargs: object) -> L.Trainer:
    """A quiet single-process CPU trainer."""
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                     enable_checkpointing=False, default_root_dir=str(root), num_sanity_val_steps=0,
                     limit_val_batches=0, **kwargs)


def refine(root: Path, backbone: Path, data: DemoQA, name: str, cache: Path | None) -> EpochClock:
    """Two RefineLocalizer epochs (fresh pseudo-label cache); per-epoch seconds and ViT frames."""
    module = RefineLocalizer(backbone=str(backbone), num_keyframes=2, warmup_steps=1,
                             cache_dir=str(root / name / "labels"), feature_cache=str(cache) if cache else None)
    clock = EpochClock()
    trainer(root / name, max_epochs=2, callbacks=[clock]).fit(module, data)
    return clock


def sweep(root: Path, backbone: Path, data: DemoQA, name: str, cache: Path | None) -> tuple[float, list[int]]:
    """The evaluation sweep: total seconds and ViT frames per run."""
    seconds, frames = 0.0, []
    for mode, k in SWEEP:
        module = Evaluate(backbone=str(backbone), num_keyframes=k, selection=mode,
                          output_dir=str(root / name / f"{mode}{k}"), feature_cache=str(cache) if cache else None)
        start = time.perf_counter()
        trainer(root / name).test(module, data, verbose=False)
        seconds += time.perf_counter() - start
        frames.append(module.vit_frames)
    return seconds, frames


def main(argv: list[str] | None = None) -> int:
    """Print the two tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=8, help="generated clips (2 questions each)")
    parser.add_argument("--frames", type=int, default=8, help="candidate frames per question in evaluation")
    parser.add_argument("--vit-width", type=int, default=256)
    parser.add_argument("--vit-layers", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=2, help="rounds per variant; the fastest counts")
    args = parser.parse_args(argv)
    for name in ("lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", module="lightning")
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="sevila-bench-cache-") as tmp:
        root = Path(tmp)
        make_benchmark(root / "bench", args.videos)
        size = TinySize(image_size=64, patch_size=8, vision_width=args.vit_width, vision_layers=args.vit_layers)
        backbone = build_tiny_backbone(root / "backbone", extra_words=WORDS, size=size)
        settings = dict(num_frames=4, eval_num_frames=args.frames, frame_size=64, batch_size=4, num_workers=0,
                        random_train_frames=False, test_file="val.json")
        data = DemoQA(str(root / "bench" / "qa"), str(root / "bench" / "videos"), **settings)
        print(f"{args.videos} videos x 2 questions; ViT {args.vit_layers} layers of width {args.vit_width} on 64 px "
              f"frames; {torch.get_num_threads()} threads", flush=True)

        sweep(root, backbone, data, "warm_up", None)  # untimed: page cache, allocator and kernels warm for all
        refine_runs: dict[str, list[EpochClock]] = {"no cache": [], "feature cache": []}
        sweep_runs: dict[str, list[tuple[float, list[int]]]] = {"no cache": [], "feature cache": []}
        for r in range(args.repeat):  # interleaved, each cached run from a cold cache; the fastest counts
            refine_runs["no cache"].append(refine(root, backbone, data, f"refine_plain{r}", None))
            refine_runs["feature cache"].append(refine(root, backbone, data, f"refine_cached{r}", root / f"rf{r}"))
            sweep_runs["no cache"].append(sweep(root, backbone, data, f"sweep_plain{r}", None))
            sweep_runs["feature cache"].append(sweep(root, backbone, data, f"sweep_cached{r}", root / f"sf{r}"))

        best = {name: [min(c.seconds[e] for c in clocks) for e in (0, 1)] for name, clocks in refine_runs.items()}
        print(f"\n(a) RefineLocalizer, 2 epochs of {2 * args.videos} questions x 4 frames (best of {args.repeat})")
        print(f"{'':<16}{'epoch 1 s':>10}{'epoch 2 s':>10}{'ViT frames':>12}{'epoch 2 / baseline':>20}")
        for name, (first, second) in best.items():
            frames = refine_runs[name][0].vit_frames
            print(f"{name:<16}{first:>10.2f}{second:>10.2f}{str(frames):>12}{second / best['no cache'][1]:>19.2f}x")

        totals = {name: min(seconds for seconds, _ in runs) for name, runs in sweep_runs.items()}
        print(f"\n(b) evaluation sweep {', '.join(f'{m} k={k}' for m, k in SWEEP)}: "
              f"{2 * args.videos} questions x {args.frames} frames (best of {args.repeat})")
        print(f"{'':<16}{'total s':>10}{'ViT frames':>18}{'/ baseline':>12}")
        for name, seconds in totals.items():
            frames = sweep_runs[name][0][1]
            print(f"{name:<16}{seconds:>10.2f}{str(frames):>18}{seconds / totals['no cache']:>11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
