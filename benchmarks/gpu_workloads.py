"""What benchmarks/gpu.py times: a random SeViLA in the paper's dtypes and its chain, training steps and sweep."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from transformers import Blip2Config, Blip2ForConditionalGeneration

from flops import OPTIONS, QUESTION, question_words
from sevila import prompts
from sevila.model.backbone import DEFAULT_BACKBONE, parts_from_model
from sevila.model.feature_cache import FeatureCache, vision_fingerprint
from sevila.model.full_size import full_size_config
from sevila.model.sevila import SeViLA
from sevila.model.tiny import tiny_config, untie_lm_head
from sevila.model.tokenizer import build_tokenizer

# The paper profile (stages/profiles/paper.yaml, trainer.precision 16-mixed): fp16 ViT, bf16 T5, fp16 heads in training.
PAPER_DTYPES = (torch.float16, torch.bfloat16, torch.float16)
INIT_STD = 0.02
FRAMES, KEYFRAMES, SECOND_K = 32, 4, 8  # evaluation: n candidates, k keyframes, the sweep's second k
STAGE2_BATCH, STAGE3_BATCH, STAGE3_FRAMES = 8, 16, 4  # official per-GPU batches (stages/recipes/*/nextqa.yaml)


def random_sevila(device: torch.device, tiny: bool) -> SeViLA:
    """SeViLA with random weights, full size (the bundled blip2-flan-t5-xl config) or tiny, in the paper's dtypes.

    Built on `device` directly: the full-size fp32 model is 16 GB before the casts halve the ViT and T5.
    """
    tokenizer = build_tokenizer(question_words())
    config: Blip2Config = tiny_config(len(tokenizer)) if tiny else full_size_config()
    # Hugging Face's init expects a checkpoint to follow: the ViT's std is 1e-10 (features near 0) and the query
    # tokens are zeros (all queries alike, so the Q-Former's first LayerNorm sees no variance and its fp16
    # gradients overflow). Random weights at a trained model's scale instead: std 0.02, as LAVIS draws its
    # query tokens (`init_Qformer`).
    config.vision_config.initializer_range = INIT_STD
    with torch.device(device):
        blip2 = Blip2ForConditionalGeneration(config)
        untie_lm_head(blip2)  # Flan-T5's lm_head is its own matrix (method §10)
        blip2.query_tokens.data.normal_(std=INIT_STD)
        model = SeViLA(parts_from_model(blip2, tokenizer, DEFAULT_BACKBONE), num_keyframes=KEYFRAMES)
    return model.set_precision(*PAPER_DTYPES).train_only(()).eval()


@dataclass
class Batch:
    """B questions about B clips: frames, texts, option counts, gold answers."""

    frames: Tensor  # (B, T, 3, S, S) normalized pixels
    answerer: list[str]
    localizer: list[str]
    num_options: Tensor  # (B,)
    answers: Tensor  # (B,)

    @classmethod
    def random(cls, model: SeViLA, questions: int, frames: int) -> Batch:
        """Random pixels for `frames` frames of each of `questions` questions (the same prompt, numbered)."""
        device = model.vision_model.embeddings.patch_embedding.weight.device
        size = model.image_size
        texts = [prompts.qa_prompts(QUESTION, list(OPTIONS[i % 5:] + OPTIONS[:i % 5])) for i in range(questions)]
        return cls(torch.randn(questions, frames, 3, size, size, device=device), [p.answerer for p in texts],
                   [p.localizer for p in texts], torch.full((questions,), len(OPTIONS), device=device),
                   torch.arange(questions, device=device) % len(OPTIONS))


def forward_chain(model: SeViLA, batch: Batch) -> Callable[[], object]:
    """Evaluation from pixels: the ViT on every frame, the Localizer's top k, the Answerer's official read-out."""
    def run() -> object:
        with torch.no_grad():
            raw = model.encode_frames(batch.frames)
            return model(raw, batch.answerer, batch.localizer, batch.num_options).option_logits
    return run


class TrainStep:
    """One optimizer step of a stage's trained head, as the paper profile runs it (GradScaler with fp16 heads)."""

    def __init__(self, model: SeViLA, module: str, loss: Callable[[], Tensor]) -> None:
        self.model, self.module, self.loss = model, module, loss
        params = [p for p in getattr(model, module).parameters()]
        self.optimizer = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.05)
        device = params[0].device
        self.scaler = torch.amp.GradScaler(device.type, enabled=model.precision.heads_training == torch.float16)
        self.steps = self.skipped = 0  # skipped: steps whose gradients overflowed (the scaler lowered its scale)

    def __call__(self) -> float:
        self.model.train_only((self.module,)).train()
        self.model.vision_model.eval()  # as the stages run it (`SevilaStage.train`)
        try:
            loss = self.loss()
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            scale = self.scaler.get_scale()
            self.scaler.update()
            self.steps += 1
            self.skipped += int(self.scaler.get_scale() < scale)
            self.optimizer.zero_grad(set_to_none=True)
            return loss.item()
        finally:
            self.model.train_only(()).eval()


def stage2_step(model: SeViLA, batch: Batch) -> TrainStep:
    """Stage 2: ViT on n frames, the frozen Localizer's keyframes, the Answerer's loss on `Option X`."""
    def loss() -> Tensor:
        raw = model.encode_frames(batch.frames)
        return model(raw, batch.answerer, batch.localizer, batch.num_options, answers=batch.answers).loss
    return TrainStep(model, "answerer", loss)


def stage3_step(model: SeViLA, batch: Batch) -> TrainStep:
    """Stage 3: ViT on its n frames, the frozen Answerer's pseudo-labels, the Localizer's yes/no loss."""
    def loss() -> Tensor:
        raw = model.encode_frames(batch.frames)
        labels = model.pseudo_labels(raw, batch.answerer, batch.num_options, batch.answers)
        return model.localizer.loss(raw, batch.localizer, labels)[0]
    return TrainStep(model, "localizer", loss)


class Sweep:
    """The evaluation sweep of benchmarks/flops.py table 2 through the on-disk feature cache, each evaluation with
    its own `FeatureCache` as its own `make eval` would: uniform k (its own k frames), localizer k on the n
    candidates (the ViT runs and stores), localizer 2k (read back); a fresh cache folder per sweep."""

    def __init__(self, model: SeViLA, batch: Batch) -> None:
        self.model, self.batch = model, batch
        self.folder = tempfile.TemporaryDirectory(prefix="sevila_gpu_bench_")
        self.videos = [str(Path(self.folder.name) / f"clip{i}.mp4") for i in range(batch.frames.shape[0])]
        for video in self.videos:
            Path(video).touch()  # the cache keys features by the video file's path, size and time
        self.sweeps = 0

    def _features(self, cache_dir: Path, indices: Tensor, frames: Tensor) -> Tensor:
        model = self.model
        vision = vision_fingerprint(model.backbone_name, model.vision_model, model.precision.vision)

        def encode(clip_frames: Tensor) -> Tensor:
            return model.encode_frames(clip_frames.unsqueeze(0))[0]

        return FeatureCache(cache_dir, vision).features(self.videos, indices, frames, encode).float()

    def __call__(self) -> Tensor:
        model, batch = self.model, self.batch
        cache_dir = Path(self.folder.name) / f"features{self.sweeps}"
        self.sweeps += 1
        b, t = batch.frames.shape[:2]
        texts = (batch.answerer, batch.localizer, batch.num_options)
        with torch.no_grad():
            uniform = torch.arange(t, t + KEYFRAMES).expand(b, -1)  # k frames of their own, one per segment
            model(self._features(cache_dir, uniform, batch.frames[:, :KEYFRAMES]), *texts, selection="uniform")
            try:
                for k in (KEYFRAMES, SECOND_K):
                    model.num_keyframes = k
                    out = model(self._features(cache_dir, torch.arange(t).expand(b, -1), batch.frames), *texts)
            finally:
                model.num_keyframes = KEYFRAMES
        return out.option_logits

    def close(self) -> None:
        """Remove the cache folders."""
        self.folder.cleanup()
