"""The on-disk ViT feature cache: reuse across epochs, runs and evaluations, keys, refusal and damage."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from stage_runner import run_stage, write_overlay

from sevila.data.datamodules import DemoQA
from sevila.errors import SevilaError
from sevila.model.backbone import load_blip2
from sevila.model.feature_cache import FeatureCache, round_to_fp16, vision_fingerprint
from sevila.model.precision import cast_vision
from sevila.stages import Evaluate, RefineLocalizer


def _data(root: Path, **kwargs) -> DemoQA:
    settings = dict(num_frames=4, eval_num_frames=4, batch_size=2, num_workers=0, frame_size=32, test_file="val.json")
    return DemoQA(str(root / "qa"), str(root / "videos"), **{**settings, **kwargs})


def _trainer(root: Path, **kwargs) -> L.Trainer:
    settings = dict(accelerator="cpu", devices=1, max_epochs=2, logger=False, enable_progress_bar=False,
                    enable_checkpointing=False, default_root_dir=str(root), num_sanity_val_steps=0,
                    limit_val_batches=0)
    return L.Trainer(**{**settings, **kwargs})


class Recorder(L.Callback):
    """Per-step training losses, and ViT frames and Answerer calls per epoch."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.vit_frames: list[int] = []
        self.answerer_calls: list[int] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(outputs["loss"].item())

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.vit_frames.append(pl_module.vit_frames - sum(self.vit_frames))
        self.answerer_calls.append(pl_module.answerer_calls - sum(self.answerer_calls))


def _refine(tmp_path: Path, name: str, backbone: Path, benchmark: Path, **model) -> Recorder:
    L.seed_everything(0)  # the Q-Former heads' dropout draws from the global generator
    module = RefineLocalizer(backbone=str(backbone), num_keyframes=2, warmup_steps=1,
                             cache_dir=str(tmp_path / name / "labels"), **model)
    recorder = Recorder()
    _trainer(tmp_path / name, callbacks=[recorder]).fit(module, _data(benchmark, random_train_frames=False))
    return recorder


def test_refine_runs_neither_vit_nor_answerer_after_epoch_one(tmp_path, seeing_backbone, tiny_benchmark):
    # float16 ViT (the paper's): its residual stream is float32 as the original's, so the cache's float16 rounding
    # of its output moves the losses a little (measured: at most 7e-8 relative).
    plain = _refine(tmp_path, "plain", seeing_backbone, tiny_benchmark, vision_dtype="float16")
    cached = _refine(tmp_path, "cached", seeing_backbone, tiny_benchmark, vision_dtype="float16",
                     feature_cache=str(tmp_path / "features"))
    assert plain.vit_frames == [24, 24]  # 6 questions x 4 frames, every epoch
    assert cached.vit_frames == [12, 0]  # 3 videos x 4 frames (2 questions per video share them), then none
    assert plain.answerer_calls == cached.answerer_calls == [6, 0]
    assert len(cached.losses) == 6 and cached.losses == pytest.approx(plain.losses, rel=1e-5, abs=0)


def test_fresh_features_are_rounded_as_stored_ones(tmp_path, seeing_backbone, tiny_benchmark):
    # float32 ViT: a cold cache (features computed) and a warm one (features read) give identical losses.
    cold = _refine(tmp_path, "cold", seeing_backbone, tiny_benchmark, feature_cache=str(tmp_path / "features"))
    warm = _refine(tmp_path, "warm", seeing_backbone, tiny_benchmark, feature_cache=str(tmp_path / "features"))
    assert cold.vit_frames == [12, 0] and warm.vit_frames == [0, 0]
    assert warm.losses == cold.losses


def test_evaluation_sweep_computes_each_frame_once(tmp_path, seeing_backbone, tiny_benchmark):
    frames, data = [], _data(tiny_benchmark)  # one DataModule for the whole sweep, as benchmarks/feature_cache.py
    for n, (mode, k) in enumerate([("uniform", 2), ("localizer", 2), ("localizer", 1)]):
        module = Evaluate(backbone=str(seeing_backbone), num_keyframes=k, selection=mode, output_dir=str(tmp_path / str(n)),
                          feature_cache=str(tmp_path / "features"))
        _trainer(tmp_path).test(module, data)
        assert (tmp_path / str(n) / "predictions.json").is_file()
        frames.append(module.vit_frames)
    # Uniform k=2 reads its own 2 frames of the one validation video (midpoints of 2 segments, frames 6 and 18);
    # the Localizer's 4 candidates (frames 3, 9, 15, 21) are computed by its first run only.
    assert frames == [2, 4, 0]


def test_evaluate_cli_reuses_the_feature_cache(tmp_path, seeing_backbone, tiny_benchmark):
    predictions = []
    for run in ("first", "second"):
        overlay = write_overlay(tmp_path / f"{run}.yaml", seeing_backbone, tiny_benchmark, "qa",
                                model={"output_dir": str(tmp_path / run)}, trainer={"default_root_dir": str(tmp_path)})
        flag = f"--model.init_args.feature_cache={tmp_path / 'f'}"
        assert run_stage("test", "evaluate", "demo_qa", overlay, flag) == 0
        predictions.append((tmp_path / run / "predictions.json").read_text())
        assert len(list((tmp_path / "f").glob("*/*.npy"))) == 1  # one chunk: the validation video, stored once
    assert predictions[0] == predictions[1]


def _evaluate(tmp_path: Path, backbone: Path, benchmark: Path, name: str, precision: str, **model) -> Evaluate:
    module = Evaluate(backbone=str(backbone), num_keyframes=2, output_dir=str(tmp_path / name), **model)
    _trainer(tmp_path, precision=precision).test(module, _data(benchmark))
    return module


def test_mixed_precision_features_are_not_reused_by_a_float32_run(tmp_path, seeing_backbone, tiny_benchmark):
    # The paper's ViT (fp16 Linear weights under fp16 autocast, here inside a bf16-mixed run) and the float32 ViT
    # store their features apart: a 32-true run over the cache the mixed run filled computes its own.
    cache = str(tmp_path / "features")
    mixed = _evaluate(tmp_path, seeing_backbone, tiny_benchmark, "mixed", "bf16-mixed", vision_dtype="float16",
                      language_dtype="bfloat16", feature_cache=cache)
    plain = _evaluate(tmp_path, seeing_backbone, tiny_benchmark, "fp32", "32-true", feature_cache=cache)
    assert mixed.vit_frames == plain.vit_frames == 4
    stored = [np.load(chunk).astype(np.float32) for chunk in sorted(Path(cache).glob("*/*.npy"))]
    assert len(stored) == 2  # one chunk per ViT precision for the one validation video
    rounding = 2**-11 * np.abs(stored[1]).max()  # float16's largest rounding error (2^-11 relative) here
    assert rounding / 2 < np.abs(stored[0] - stored[1]).max() < 8 * rounding  # measured: 0.00098 (one fp16 step)


def test_a_trainers_autocast_leaves_the_float32_vits_features_alone(tmp_path, seeing_backbone, tiny_benchmark):
    # The ViT runs under its own policy (float32: autocast off), so a bf16-mixed run computes the 32-true run's
    # features bit for bit, and sharing the cache between them is right.
    seen = {}
    for precision in ("32-true", "bf16-mixed"):
        L.seed_everything(0)
        module = Evaluate(backbone=str(seeing_backbone), num_keyframes=2, output_dir=str(tmp_path / precision))
        module.model.vision_model.encoder.register_forward_hook(
            lambda m, args, out, key=precision: seen.update({key: out.last_hidden_state}))
        _trainer(tmp_path, precision=precision).test(module, _data(tiny_benchmark))
    assert torch.equal(seen["32-true"], seen["bf16-mixed"])
    first = _evaluate(tmp_path, seeing_backbone, tiny_benchmark, "a", "32-true", feature_cache=str(tmp_path / "f"))
    second = _evaluate(tmp_path, seeing_backbone, tiny_benchmark, "b", "bf16-mixed", feature_cache=str(tmp_path / "f"))
    assert (first.vit_frames, second.vit_frames) == (4, 0)


def test_vision_fingerprint_covers_weights_dtypes_autocast_and_config(tiny_backbone_dir):
    vit = load_blip2(tiny_backbone_dir).vision_model
    key = vision_fingerprint("tiny", vit, torch.float32)
    assert key == vision_fingerprint("tiny", vit, torch.float32)
    assert key != vision_fingerprint("tiny", vit, torch.float16)  # the same weights under another autocast
    try:
        torch.set_float32_matmul_precision("high")  # TF32 matmuls on GPUs
        assert key != vision_fingerprint("tiny", vit, torch.float32)
    finally:
        torch.set_float32_matmul_precision("highest")
    vit.config.layer_norm_eps = 1e-5  # not a weight, but it changes every feature
    assert key != vision_fingerprint("tiny", vit, torch.float32)
    vit.config.layer_norm_eps = 1e-6
    assert key == vision_fingerprint("tiny", vit, torch.float32)
    cast_vision(vit, torch.float16)
    assert key != vision_fingerprint("tiny", vit, torch.float32)


def test_random_training_frames_bypass_the_feature_cache(tmp_path, seeing_backbone, tiny_benchmark):
    # The paper profile's stage 3: random frames and crops every step never repeat; validation frames do.
    L.seed_everything(0)
    module = RefineLocalizer(backbone=str(seeing_backbone), num_keyframes=2, warmup_steps=1,
                             cache_dir=str(tmp_path / "labels"), feature_cache=str(tmp_path / "features"))
    recorder = Recorder()
    trainer = _trainer(tmp_path / "run", callbacks=[recorder], limit_val_batches=None)
    trainer.fit(module, _data(tiny_benchmark, random_train_frames=True))
    assert recorder.vit_frames == [24 + 4, 24]  # 6 questions x 4 frames every epoch; the val video's 4 once
    stored = [path.parent.name for path in (tmp_path / "features").glob("*/*.npy")]
    assert stored == [module.features.video_key(str(tiny_benchmark / "videos" / "v3.mp4"), 32)]  # the val video only


def _pixels_as_features(pixels: torch.Tensor) -> torch.Tensor:
    """A stand-in frame encoder for the cache alone: (N, 3, S, S) -> (N, 3, S*S) pixel rows."""
    return pixels.flatten(2) / 3


def test_features_are_keyed_by_file_size_and_vit(tmp_path, tiny_benchmark):
    video = tmp_path / "v.mp4"
    shutil.copy(tiny_benchmark / "videos" / "v0.mp4", video)
    cache = FeatureCache(tmp_path / "features", vision="a")
    key = cache.video_key(str(video), 32)
    assert key == FeatureCache(tmp_path / "features", vision="a").video_key(str(video), 32)
    assert key != cache.video_key(str(video), 64)
    assert key != FeatureCache(tmp_path / "features", vision="b").video_key(str(video), 32)
    os.utime(video, ns=(1, 1))  # a replaced video file
    assert key != FeatureCache(tmp_path / "features", vision="a").video_key(str(video), 32)


def test_stored_features_are_read_back_by_another_process(tmp_path, tiny_benchmark):
    videos = [str(tiny_benchmark / "videos" / name) for name in ("v0.mp4", "v1.mp4")]
    frames = torch.randn(2, 3, 3, 8, 8)
    frames[0, 2] = frames[0, 1]  # frame 5 of v0 twice (a video shorter than n repeats its last frame)
    indices = torch.tensor([[0, 5, 5], [0, 1, 2]])
    first = FeatureCache(tmp_path, vision="a").features(videos, indices, frames, _pixels_as_features)
    expected = round_to_fp16(_pixels_as_features(frames.flatten(0, 1))).view(2, 3, 3, 64)
    assert first.dtype == torch.float16 and torch.equal(first, expected)
    calls = []
    def counted(pixels: torch.Tensor) -> torch.Tensor:
        calls.append(len(pixels))
        return _pixels_as_features(pixels)

    later = FeatureCache(tmp_path, vision="a").features(videos[::-1], torch.tensor([[2, 1, 0], [5, 0, 9]]),
                                                        frames.flip(0), counted)
    assert calls == [1]  # only v0's frame 9 is new
    assert len(list(tmp_path.glob("*/*.npy"))) == 3  # v0 and v1 from the first batch, v0 again from the second
    assert torch.equal(later[0], first[1].flip(0)) and torch.equal(later[1, :2], first[0, [1, 0]])
    assert torch.equal(later[1, 2], round_to_fp16(_pixels_as_features(frames[0, 2:]))[0])


def test_damaged_index_names_the_file_and_the_fix(tmp_path, tiny_benchmark):
    video = str(tiny_benchmark / "videos" / "v0.mp4")
    frames = torch.randn(1, 2, 3, 8, 8)
    FeatureCache(tmp_path, vision="a").features([video], torch.tensor([[0, 1]]), frames, _pixels_as_features)
    index = next(tmp_path.glob("*/*.json"))
    index.write_text("{")
    with pytest.raises(SevilaError, match=f"{re.escape(str(index))}: damaged .* delete {re.escape(str(index.parent))}"):
        FeatureCache(tmp_path, vision="a").features([video], torch.tensor([[0, 1]]), frames, _pixels_as_features)
